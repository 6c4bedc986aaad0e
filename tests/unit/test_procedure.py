"""The measuring procedure driven by constructed windows and a clock that moves only as they say.

Where the procedure stops, and why, follows from the window rates a test hands it: the median's
interval from order statistics (for n values, the k-th smallest and largest with k the largest
count for which P(Binomial(n, 1/2) < k) <= 2.5%: k = 2 for 9 to 11 values, 3 for 12), the warm-up
cut, the time cap on a fake clock. No worker, no real time.
"""

from __future__ import annotations

import pytest

from profiler.base.settings import MeasureSettings
from profiler.base.stats import median_interval
from profiler.measuring.procedure import (
    PHASE_VERIFY,
    PHASE_WARMUP,
    measure,
    rates_kept,
    until_precise,
)
from profiler.worker.loops import EpochTiming, WindowTiming
from tests.fake_session import FakeClock, ScriptedSession

BATCH = 32
# 20 batches of 32 in 0.2 s after a first batch of 0.01 s: 19 more in 0.19 s, 100 batches/s. An
# epoch lasts 0.2 s, within a sixth of the 2 s cap: windows hold whole epochs, 20 batches each.
WARMUP = EpochTiming(seconds=0.2, first_batch_s=0.01, batches=20, samples=640, cpu_s=0.1)


@pytest.fixture
def clock(monkeypatch):
    clock = FakeClock()
    return clock


class Windows:
    """A window measure: the n-th window runs at ``rates[n]`` samples/s; it lasts ``seconds`` where
    given (its samples then follow the rate), else its samples over the rate."""

    def __init__(
        self, rates, clock: FakeClock, seconds: float | None = None, burst: int = 1
    ) -> None:
        self.rates, self.clock, self.seconds = list(rates), clock, seconds
        self.burst = burst  # batches arrive this many at a time
        self.calls: list[tuple[int, bool]] = []

    def __call__(self, batches: int, restart: bool) -> WindowTiming:
        rate = self.rates[len(self.calls)]
        self.calls.append((batches, restart))
        if self.seconds is None:
            samples, seconds = batches * BATCH, batches * BATCH / rate
        else:
            samples, seconds = round(rate * self.seconds), self.seconds
        started = self.clock.now
        self.clock.advance(seconds)
        waited = -(-batches // self.burst)
        return WindowTiming(started, seconds, batches, samples, waited=waited, steady=batches)


def _settings(**changed) -> MeasureSettings:
    return MeasureSettings(batch_size=BATCH, **{"precision": 0.03, "time_cap_s": 1000.0, **changed})


def _rates(flat) -> list[float]:
    return [window.samples_per_s for window in flat.windows]


def test_windows_go_on_until_the_median_s_interval_is_within_the_precision(clock):
    rates = [1000.0, 1100.0, 900.0, 1100.0, 900.0] + [1000.0] * 30
    # Two windows at 900 and two at 1100: with 9 to 11 windows the interval is the 2nd smallest to
    # the 2nd largest, 900 to 1100 (±10%); with 12, the 3rd of each end, 1000 to 1000.
    assert median_interval(rates[:11]) == (900.0, 1100.0)
    assert median_interval(rates[:12]) == (1000.0, 1000.0)
    windows = Windows(rates, clock)
    flat = until_precise(windows, WARMUP, _settings())
    assert len(flat.windows) == 12 and not flat.capped
    assert _rates(flat) == pytest.approx(rates[:12])
    assert flat.window_batches == 20 and windows.calls == [(20, True)] + [(20, False)] * 11
    # A precision of 10% is met as soon as there are nine windows, the fewest the procedure accepts.
    assert len(until_precise(Windows(rates, clock), WARMUP, _settings(precision=0.10)).windows) == 9


def test_identical_windows_still_number_nine_and_cover_the_epochs_asked_for(clock):
    assert len(until_precise(Windows([1000.0] * 40, clock), WARMUP, _settings()).windows) == 9
    # Twelve epochs asked for, an epoch a window: twelve windows, though nine were precise already.
    flat = until_precise(Windows([1000.0] * 40, clock), WARMUP, _settings(epochs=12))
    assert len(flat.windows) == 12 and not flat.capped


CYCLE = [1000.0, 900.0, 1100.0] * 20  # never precise within 30 windows: a third of them at each end


def test_the_time_cap_ends_imprecise_windows_and_says_so(clock):
    # Windows of 0.25 s; the cap counts the windows' own time, the first (calibrating) one with
    # them, so 2 s are spent after 8 windows, their interval still 900 to 1100.
    flat = until_precise(Windows(CYCLE, clock, seconds=0.25), WARMUP, _settings(time_cap_s=2.0))
    assert len(flat.windows) == 8 and flat.capped
    assert median_interval(_rates(flat)) == (900.0, 1100.0)
    assert rates_kept(flat.windows) == pytest.approx(CYCLE[:8])  # no trend: no warm-up left out


def test_the_cap_waits_for_six_windows_besides_the_warm_up_and_for_the_epochs(clock):
    # Windows of 1 s against a 2 s cap: the cap has passed after the 4th window, but it waits for
    # six windows that count. The first two, at a tenth of the rate, are warm-up: from 6 windows on,
    # their distance below the median of the later half (950 to 1050) exceeds 4 x 1.4826 x its
    # median absolute deviation (50 to 100). Kept: 4 of 6 windows, 5 of 7, 6 of 8: 8 windows.
    rates = [100.0, 100.0, *CYCLE]
    flat = until_precise(Windows(rates, clock, seconds=1.0), WARMUP, _settings(time_cap_s=2.0))
    assert len(flat.windows) == 8 and flat.capped
    assert rates_kept(flat.windows) == pytest.approx(rates[2:8])
    # Ten epochs asked for: the cap waits for them too.
    flat = until_precise(
        Windows(CYCLE, clock, seconds=1.0), WARMUP, _settings(time_cap_s=2.0, epochs=10)
    )
    assert len(flat.windows) == 10 and flat.capped


def test_warm_up_windows_are_left_out_before_the_interval_is_judged(clock):
    # Two slow windows, then nine steady ones: 11 windows, of which the last 9 count (median 1000,
    # their 2nd smallest and largest 980 and 1020: ±2%, within 3%).
    steady = [1000.0, 1010.0, 990.0, 1020.0, 980.0, 1000.0, 1030.0, 970.0, 1000.0]
    rates = [300.0, 320.0, *steady, *[1000.0] * 10]
    flat = until_precise(Windows(rates, clock), WARMUP, _settings())
    assert len(flat.windows) == 11 and not flat.capped
    assert rates_kept(flat.windows) == pytest.approx(steady)
    assert median_interval(steady) == (980.0, 1020.0)


def test_the_window_grows_until_it_lasts_window_s(clock):
    # The warm-up says 10 batches/s ((20 - 1) batches in 2.0 - 0.1 s), and an epoch of 2 s is more
    # than a sixth of the 2 s cap: windows need not hold whole epochs. 0.1 s at 10/s is 1 batch; the
    # pipeline delivers 1,280 samples/s, so 1 batch lasts 0.025 s: 1 x 1.2 x 0.1 / 0.025 = 4.8 -> 5
    # batches, 0.125 s.
    slow_warmup = EpochTiming(seconds=2.0, first_batch_s=0.1, batches=20, samples=640, cpu_s=1.0)
    windows = Windows([1280.0] * 40, clock)
    flat = until_precise(windows, slow_warmup, _settings(time_cap_s=2.0))
    assert windows.calls[:3] == [(1, True), (5, False), (5, False)]
    assert flat.window_batches == 5 and {w.batches for w in flat.windows} == {5}
    assert len(windows.calls) == len(flat.windows) + 1  # the 1-batch try is not one of them
    # At 6,400 samples/s a batch lasts 0.005 s: 24 batches or more, past an epoch: two whole epochs,
    # starting at one.
    windows = Windows([6400.0] * 40, clock)
    flat = until_precise(windows, slow_warmup, _settings(time_cap_s=2.0))
    assert windows.calls[:2] == [(1, True), (40, True)] and flat.window_batches == 40


def test_measure_drives_one_worker_through_every_phase_in_order(clock, monkeypatch):
    session = ScriptedSession(WARMUP, [1000.0] * 9, clock=clock)
    measured = measure(session, _settings(idle_precision=1.0))
    kinds = [request[0] for request in session.requests]
    # The data check comes before the stream begins: it then costs one epoch, never the rest of
    # the stream's epoch first.
    assert kinds == [
        "epoch",
        "fingerprint",
        *["window"] * 9,
        "autotune",
        "floor",
        "paced",
        "paced",
        "paced",
        "floor",
        "close",
    ]
    # The paced steps go on where the windows of whole epochs left the stream, at an epoch's end,
    # for an epoch at least and for three requests (turns), the fewest an idle interval is drawn
    # from: epochs begin at steps 0, 20 and 40.
    assert measured.warmup == WARMUP and measured.build_s == 0.25 and session.closed
    assert measured.flat_out.windows == tuple(session.windows[:9]) and len(measured.paced) == 3
    starts = [first for block in measured.paced for first in block.epoch_starts]
    assert [step for step, first in enumerate(starts) if first] == [0, 20, 40]
    phases = [name for name, _ in session.phases]
    assert phases[:2] == [PHASE_WARMUP, PHASE_VERIFY]
    assert "flat out, window 9" in phases


def test_idle_steps_go_on_to_the_idle_time_cap_where_never_precise(clock, monkeypatch):
    # Waits of 1 to 7 ms in turn, which the blocks of neighbouring steps resampled together do not
    # sum alike, and a precision of 0 that only a degenerate interval meets. Each paced request of
    # 16 steps lasts 16 x 20 ms plus its waits (one 50 ms epoch start, 15 of 1 to 7 ms), about 0.43
    # s: the 1.5 s cap is passed after the 4th.
    session = ScriptedSession(
        WARMUP, [1000.0] * 9, clock=clock, wait_of=lambda n: 0.001 * (1 + n % 7)
    )
    measured = measure(session, _settings(idle_precision=0.0, idle_time_cap_s=1.5))
    assert len(measured.paced) == 4 and measured.idle_capped
    lasted = [sum(block.waits_s) + sum(block.steps_s) for block in measured.paced]
    assert sum(lasted[:3]) < 1.5 <= sum(lasted)
    # a floor block before and after
    assert [len(block.waits_s) for block in measured.floor] == [
        8,
        8,
    ]
    # With any precision met at once, the paced steps stop as soon as they cover an epoch in three
    # turns, the fewest an interval is drawn from.
    session = ScriptedSession(
        WARMUP, [1000.0] * 9, clock=clock, wait_of=lambda n: 0.001 * (1 + n % 7)
    )
    measured = measure(session, _settings(idle_precision=1.0, idle_time_cap_s=1.5))
    assert len(measured.paced) == 3 and not measured.idle_capped
    # A cap that the first turn already passes stops none of those three.
    session = ScriptedSession(
        WARMUP, [1000.0] * 9, clock=clock, wait_of=lambda n: 0.001 * (1 + n % 7)
    )
    measured = measure(session, _settings(idle_precision=0.0, idle_time_cap_s=0.1))
    assert len(measured.paced) == 3 and measured.idle_capped
    assert sum(measured.paced[0].waits_s) + sum(measured.paced[0].steps_s) > 0.1


def test_batches_in_bursts_get_windows_long_enough_for_a_burst_to_move_the_rate_little(clock):
    # As in the test above, 5 batches last 0.1 s; batches come three at once (the 5-batch window
    # waited for 2 of them: bursts of 2.5): a window starting or ending inside a burst is off by up
    # to 1.5 batches, so windows hold 1.5 / BURST_ERROR = 24, past an epoch of 20: two whole
    # epochs, starting at one. A third of the 2 s cap allows 26 batches at 40 batches/s.
    slow_warmup = EpochTiming(seconds=2.0, first_batch_s=0.1, batches=20, samples=640, cpu_s=1.0)
    windows = Windows([1280.0] * 40, clock, burst=3)
    flat = until_precise(windows, slow_warmup, _settings(time_cap_s=2.0))
    assert windows.calls[:3] == [(1, True), (5, False), (40, True)]
    assert flat.window_batches == 40 and {w.batches for w in flat.windows} == {40}
    # One at a time: the window stays at the 5 that last window_s.
    windows = Windows([1280.0] * 40, clock, burst=1)
    assert until_precise(windows, slow_warmup, _settings(time_cap_s=2.0)).window_batches == 5


def test_a_window_of_bursts_never_grows_past_a_third_of_the_time_cap(clock):
    # The same bursts of three under a cap of 0.5 s: at 40 batches/s a third of it is 6 batches,
    # fewer than the 24 the bursts ask for: the window grows to the 6 that fit.
    slow_warmup = EpochTiming(seconds=2.0, first_batch_s=0.1, batches=20, samples=640, cpu_s=1.0)
    windows = Windows([1280.0] * 40, clock, burst=3)
    flat = until_precise(windows, slow_warmup, _settings(time_cap_s=0.5))
    assert windows.calls[:3] == [(1, True), (5, False), (6, False)]
    assert flat.window_batches == 6
