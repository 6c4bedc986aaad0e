"""A stream's clock stands still while nobody consumes it, however much untimed work the pause
holds: epoch ends stamped after a pause never come before those stamped before it."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.worker import loops
from profiler.worker.loops import BatchStream


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Epochs:
    """Epochs of three batches, each 0.1 s in the making."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def __iter__(self):
        for _ in range(3):
            self.clock.advance(0.1)
            yield np.zeros((2, 1), np.float32), np.zeros(2, np.int32)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(loops.time, "perf_counter", lambda: clock.now)
    return clock


def _stream(clock: Clock) -> BatchStream:
    # 2 s of untimed work before every epoch (a cold run's page-cache drop)
    return BatchStream(Epochs(clock), before_epoch=lambda: clock.advance(2.0))


def test_a_pause_that_crosses_an_epoch_counts_its_untimed_work_once(clock):
    stream = _stream(clock)
    for _ in range(3):
        stream.next()
    assert clock.now == pytest.approx(2.3) and stream.clock() == pytest.approx(0.3)
    stream.pause()
    clock.advance(5.0)  # frozen while others take their turns
    # A turn's first batch, ready at once, begins the next epoch: 2 s of untimed work inside the
    # pause, which the pause already holds.
    assert stream.next()[1] is True
    stream.resume()
    assert stream.clock() == pytest.approx(0.3)  # counted twice, it would read 0.3 - 2.0
    stream.epoch_ends.clear()
    for _ in range(3):
        stream.next()  # the third ends the epoch: its end at 0.3 + 0.1 + 0.1
    assert stream.epoch_ends == [pytest.approx(0.5)]


def test_a_window_timed_from_when_its_first_batch_was_asked_for_starts_where_the_pause_began(
    clock,
):
    stream = _stream(clock)
    for _ in range(3):
        stream.next()
    stream.pause()
    clock.advance(5.0)
    stream.next()  # begins an epoch, untimed: 2.1 s of it
    asked = clock.now
    stream.next()
    stream.resume(at=asked)
    # The batch asked for at the pause's end took 0.1 s, all of it timed.
    assert asked - stream.untimed_s == pytest.approx(0.3)
    assert stream.clock() == pytest.approx(0.4)


def test_an_epoch_end_stamped_before_the_one_it_follows_is_left_out_never_negative():
    from profiler.measuring.metrics import _epoch_times
    from profiler.worker.loops import WindowTiming

    windows = (
        WindowTiming(0.0, 1.0, 6, 12, (0.5, 1.0), 2, began_epoch=True),
        WindowTiming(1.0, 1.0, 6, 12, (0.9, 1.4), 2),  # 0.9 comes before 1.0
    )
    assert _epoch_times(windows) == pytest.approx((0.5, 0.5, 0.5))
