"""A turn's first window after a freeze, on batches that arrive in bursts.

Ground truth: a fake clock and a stream of bursts of 3 batches every 40 ms (three producers that
sleep in step, as a tf.data service's workers thawed together do), 75 batches/s. At the turn's start
the three batches finished while the process was frozen are ready. A window of whole bursts must
read 75 batches/s; timed from the arrival of the first batch waited for, it counted that batch's two
burst-mates in no time and read 100.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from profiler.worker import loops
from profiler.worker.loops import BatchStream, flat_out_window

PERIOD_S = 0.040
BURST = 3
READY = 3


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now


class _Bursts:
    """An endless epoch: READY batches at once, then bursts of BURST every PERIOD_S."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.handed = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.handed >= READY and (self.handed - READY) % BURST == 0:
            self.clock.now += PERIOD_S  # the consumer waits for the next burst
        self.handed += 1
        return np.zeros((4, 2)), np.arange(4)


@pytest.fixture
def clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(loops, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    return clock


def _thawed_stream(clock: _Clock) -> BatchStream:
    source = _Bursts(clock)
    stream = BatchStream(types.SimpleNamespace(__iter__=None))
    stream._iterator = source  # the stream is mid-epoch, as a continuing window finds it
    stream.batch_s = PERIOD_S / BURST  # the last window's pace
    stream.pause()
    clock.now += 5.0  # frozen while others took their turns
    return stream


def test_a_window_of_whole_bursts_after_a_thaw_reads_the_bursts_rate(clock):
    stream = _thawed_stream(clock)
    window = flat_out_window(stream, READY + 4 * BURST, lead=8)
    # The ready ones untimed; the rest, four bursts, from when the first of them was asked for.
    assert window.batches == 4 * BURST
    assert window.seconds == pytest.approx(4 * PERIOD_S)
    assert window.batches / window.seconds == pytest.approx(BURST / PERIOD_S)
    assert window.burst == pytest.approx(BURST)


def test_the_next_window_in_the_turn_goes_on_from_where_this_one_ended(clock):
    stream = _thawed_stream(clock)
    flat_out_window(stream, READY + 2 * BURST, lead=8)
    # Not frozen between the two: the request's round trip only, here none. No lead is taken: the
    # first batch of the next window is waited for, and timed from when it was asked for.
    window = flat_out_window(stream, 2 * BURST, lead=8)
    assert window.batches == 2 * BURST
    assert window.batches / window.seconds == pytest.approx(BURST / PERIOD_S)


def test_a_stream_without_a_pace_yet_leaves_its_first_batch_untimed(clock):
    stream = _thawed_stream(clock)
    stream.batch_s = None  # no window yet to tell a wait by
    window = flat_out_window(stream, READY + 4 * BURST, lead=8)
    assert window.batches == READY + 4 * BURST - 1
