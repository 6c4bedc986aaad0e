"""A result's figures derived from constructed timings and memory traces, checked against
arithmetic.

One scripted worker (tests.fake_session: the real WorkerSession, its pipe answered by a script) is
driven through the real procedure; what it measured and a memory trace built here become a
ScenarioResult through metrics.scenario_result. Every expected figure is worked out from the script.
"""

from __future__ import annotations

import pytest

from profiler.base.settings import MeasureSettings
from profiler.base.stats import percentile
from profiler.measuring.metrics import (
    TIMELINE_POINTS,
    MemorySeen,
    WorkerRun,
    idle_metrics,
    memory_metrics,
    rate_metrics,
    scenario_result,
    thin_timeline,
)
from profiler.measuring.procedure import FlatOut, Measurements, measure
from profiler.results.records import RoleCpu
from profiler.strategy.scenario import DISPATCHER, SERVICE_WORKERS, TRAINER, Scenario
from profiler.system.memory import MemoryTrace
from profiler.worker.loops import EpochTiming, PacedSteps, WindowTiming
from tests.fake_session import WORKER_PID, FakeClock, FakeProcess, ScriptedSession

WARMUP = EpochTiming(seconds=0.2, first_batch_s=0.01, batches=20, samples=640, cpu_s=0.1)
# Two slow windows, then nine whose median is 1,000 with 980 and 1,020 as its interval's ends.
RATES = [300.0, 320.0, 1000.0, 1010.0, 990.0, 1020.0, 980.0, 1000.0, 1030.0, 970.0, 1000.0]
KEPT = RATES[2:]
# Per window: the worker 0.3 s of CPU, the dispatcher it started 0.05 s, a service worker 0.2 s.
CPU = {WORKER_PID: 0.3, 200: 0.05, 300: 0.2}
OTHERS_CORES = 0.4  # other processes keep 0.4 of a core busy all along


class Plain(Scenario):
    name = "plain"
    summary = description = "constructed"


# Memory: an import spike of 900 MiB before the baseline (500 MiB RSS, 400 PSS at t = 1002), then
# 650, 720.5 and 600 MiB: 220.5 MiB above it. PSS: 950 before, then 450 and 530: 130 above.
TRACE = MemoryTrace(
    rss=((1000.5, 900.0), (1002.0, 500.0), (1003.0, 650.0), (1004.0, 720.5), (1005.0, 600.0)),
    pss=((1001.0, 950.0), (1003.0, 450.0), (1004.5, 530.0)),
)
SEEN = MemorySeen(TRACE, started=1000.0, wall_s=5.0, baseline=(500.0, 400.0, 1002.0))


@pytest.fixture
def measured(monkeypatch) -> Measurements:
    clock = FakeClock()
    processes = [
        FakeProcess(WORKER_PID, 1),
        FakeProcess(200, WORKER_PID),
        FakeProcess(300, WORKER_PID),
    ]
    session = ScriptedSession(
        WARMUP,
        RATES,
        clock=clock,
        processes=processes,
        cpu_per_window=CPU,
        busy_cpu=lambda: sum(p.user for p in processes) + OTHERS_CORES * clock.now,
        roles={200: DISPATCHER, 300: SERVICE_WORKERS},
        wait_of=lambda n: 0.001 * (1 + n % 10),
    )
    settings = MeasureSettings(batch_size=32, precision=0.03, time_cap_s=1000.0, idle_precision=1.0)
    return measure(session, settings)


def test_rates_are_the_median_window_after_warm_up_with_the_order_statistic_interval(measured):
    result = scenario_result("plain", Plain(), [WorkerRun(SEEN, measured)], "ok", None)
    assert result.window_samples_per_s == pytest.approx(KEPT) and result.warmup_windows == 2
    assert result.samples_per_s == pytest.approx(1000.0)
    # Nine values: the 2nd smallest and the 2nd largest.
    assert result.samples_per_s_ci == pytest.approx((980.0, 1020.0))
    assert result.batches_per_s == pytest.approx(1000.0 * 20 / 640)
    assert result.batches_per_s_min == pytest.approx(
        970.0 / 32
    ) and result.batches_per_s_max == pytest.approx(1030.0 / 32)
    assert result.window_batches == 20 and not result.rate_capped
    # Back-to-back windows of an epoch each: an epoch's end is seen at the next window's start, so
    # the ten epochs that ended lasted what the first ten windows did (warm-up ones included: they
    # are epochs).
    assert result.epoch_s == pytest.approx([640 / rate for rate in RATES[:10]])


def test_cpu_per_epoch_and_per_role_count_the_flat_out_windows_only(measured):
    result = scenario_result("plain", Plain(), [WorkerRun(SEEN, measured)], "ok", None)
    # 11 windows of 640 samples; 0.55 s of CPU a window over the three processes (the warm-up's is
    # before the first reading, the paced steps' after the last).
    samples = 11 * 640
    assert result.cpu_s == pytest.approx(11 * 0.55 / samples * 640)
    assert result.cpu_roles == (
        RoleCpu(TRAINER, pytest.approx(11 * 0.3 / samples * 1e6)),
        RoleCpu(DISPATCHER, pytest.approx(11 * 0.05 / samples * 1e6)),
        RoleCpu(SERVICE_WORKERS, pytest.approx(11 * 0.2 / samples * 1e6)),
    )
    assert result.cpu_roles[0].cpu_us_per_sample == pytest.approx(468.75)
    assert result.other_busy_cores == pytest.approx(OTHERS_CORES)


def test_idle_and_waits_come_from_the_steady_paced_steps_above_the_floor(measured):
    result = scenario_result("plain", Plain(), [WorkerRun(SEEN, measured)], "ok", None)
    # Three requests (turns) of 16 steps, the fewest an interval is drawn from; epochs of 20
    # batches begin at steps 0, 20 and 40 (50 ms waits), the other 45 wait 1 to 10 ms in turn: 1 to
    # 5 ms five times, 6 to 10 ms four times, 235 ms. Steps 45 x 20 ms; floor 0.5 ms a step, 22.5
    # ms in all. idle = (235 - 22.5) / (235 - 22.5 + 900); before the floor, 235 / 1135.
    assert result.idle_s == pytest.approx(0.235) and result.compute_s == pytest.approx(0.900)
    assert result.idle_fraction == pytest.approx(212.5 / 1112.5)
    assert result.idle_fraction_raw == pytest.approx(235 / 1135)
    # Turn by turn the steady waits sum to 70, 95 and 70 ms: above the floor 62.5, 87.5 and 62.5
    # over 362.5, 387.5 and 362.5. The ratio's residuals from 0.191 are -6.74, 13.48 and -6.74 ms:
    # standard error sqrt(3 / 2 x 272.7) / 1112.5 = 0.0182. The floor's 16 steps alternate 0.45
    # and 0.55 ms: standard error 0.05 x sqrt(16 / 15) / 4 ms, which moves idle by 45 x 900 /
    # 1112.5² per ms. Student's t with 2 degrees of freedom, 4.303.
    centre = 212.5 / 1112.5
    residuals = [62.5 - centre * 362.5, 87.5 - centre * 387.5, 62.5 - centre * 362.5]
    spread = (1.5 * sum(r * r for r in residuals)) ** 0.5 / 1112.5
    floor_spread = 45 * 900 / 1112.5**2 * 0.05 * (16 / 15) ** 0.5 / 4
    half = 4.303 * (spread**2 + floor_spread**2) ** 0.5
    assert half == pytest.approx(0.0782, abs=1e-4)
    assert result.idle_fraction_ci == pytest.approx((centre - half, centre + half))
    assert result.fetch_floor_ms == pytest.approx(
        0.5
    ) and result.epoch_start_wait_ms == pytest.approx(50.0)
    # 45 sorted waits: five each of 1 to 5 ms, four each of 6 to 10. p50 at 0.5 x 44 = 22: the 23rd,
    # 5; p95 at 41.8: between the 42nd and 43rd, both 10.
    assert result.wait_p50_ms == pytest.approx(5.0) and result.wait_p95_ms == pytest.approx(10.0)
    assert len(result.wait_ms) == 45 and max(result.wait_ms) == 10.0
    assert result.step_p50_ms == pytest.approx(20.0) and result.step_device == "simulated"
    assert result.verdict == "moderately input-bound"  # 19% idle: from 5%, under 20%


def test_one_off_timings_count_from_the_start_of_the_build_and_the_rest_is_carried(measured):
    result = scenario_result("plain", Plain(), [WorkerRun(SEEN, measured)], "ok", None)
    assert result.build_s == 0.25
    assert result.first_batch_s == pytest.approx(0.26) and result.warmup_epoch_s == pytest.approx(
        0.45
    )
    assert (result.batches_per_epoch, result.samples_per_epoch) == (20, 640)
    assert result.ru_maxrss_mib == 321.0 and result.tf_data_options == {"autotune": True}
    assert result.processes == 1 and result.wall_s == 5.0


def test_memory_is_the_peak_above_the_baseline_after_it(measured):
    result = scenario_result("plain", Plain(), [WorkerRun(SEEN, measured)], "ok", None)
    assert (result.baseline_rss_mib, result.baseline_pss_mib) == (500.0, 400.0)
    assert result.peak_rss_mib == pytest.approx(220.5) and result.peak_pss_mib == pytest.approx(
        130.0
    )
    # RSS samples 1.5, 1, 1 and 1 s apart: the median gap is 1 s.
    assert result.rss_interval_ms == pytest.approx(1000.0)
    # The timeline starts at the baseline, in seconds since the worker started.
    assert result.memory_timeline == ((2.0, 500.0), (3.0, 650.0), (4.0, 720.5), (5.0, 600.0))
    assert result.build_started_s == 2.0


def test_a_failed_target_keeps_its_memory_and_no_measured_figure(measured):
    result = scenario_result("plain", Plain(), [WorkerRun(SEEN, measured)], "failed", "boom")
    assert result.peak_rss_mib == pytest.approx(220.5) and result.error == "boom"
    assert result.samples_per_s is None and result.idle_fraction is None and result.cpu_s is None


def test_several_workers_pool_their_peaks_and_baselines():
    other = MemorySeen(
        MemoryTrace(rss=((10.0, 520.0), (11.0, 800.0)), pss=((10.5, 410.0),)),
        9.0,
        2.0,
        baseline=(520.0, 410.0, 10.0),
    )
    unmeasured = MemorySeen(MemoryTrace(rss=((1.0, 5000.0),), pss=()), 0.0, None, baseline=None)
    figures = memory_metrics([SEEN, other, unmeasured])
    assert figures["peak_rss_mib"] == pytest.approx(280.0)  # the higher of 220.5 and 800 - 520
    assert figures["peak_pss_mib"] == pytest.approx(130.0)  # 410 - 410 = 0 for the second
    assert figures["baseline_rss_mib"] == 510.0 and figures["baseline_pss_mib"] == 405.0  # medians
    assert memory_metrics([unmeasured]) == {}


def _windows(rates, seconds=0.5) -> tuple[WindowTiming, ...]:
    return tuple(
        WindowTiming(i * seconds, seconds, 20, round(rate * seconds), began_epoch=False)
        for i, rate in enumerate(rates)
    )


def test_each_worker_leaves_out_its_own_warm_up_before_the_windows_are_pooled():
    first = Measurements(
        warmup=WARMUP, flat_out=FlatOut(_windows([300.0, 320.0, *KEPT]), 20, capped=True)
    )
    second = Measurements(warmup=WARMUP, flat_out=FlatOut(_windows([1100.0] * 9), 20))
    figures = rate_metrics([first, second])
    assert figures["window_samples_per_s"] == pytest.approx([*KEPT, *[1100.0] * 9])
    assert figures["warmup_windows"] == 2 and figures["rate_capped"]
    # 18 pooled windows: the 9th and 10th smallest are 1,030 and 1,100.
    assert figures["samples_per_s"] == pytest.approx((1030.0 + 1100.0) / 2)
    low, high = figures["samples_per_s_ci"]
    assert low < figures["samples_per_s"] < high


def test_with_one_batch_an_epoch_every_step_counts_for_idle():
    block = PacedSteps((0.004, 0.004), (0.020, 0.020), (True, True))
    figures = idle_metrics([Measurements(paced=[block])])
    # no floor measured: none taken off
    assert figures["idle_fraction"] == pytest.approx(0.008 / 0.048)
    assert figures["epoch_start_wait_ms"] == pytest.approx(4.0)


def test_percentile_interpolates_between_neighbours():
    values = [float(v) for v in range(10, 0, -1)]  # 1 to 10, any order
    assert percentile(values, 0.95) == pytest.approx(9.55)  # position 8.55: 9 + 0.55
    assert percentile(values, 0.5) == pytest.approx(5.5)
    assert percentile(values, 0.0) == 1.0 and percentile(values, 1.0) == 10.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_a_long_timeline_is_thinned_with_its_peaks_kept():
    rss = tuple((100.0 + i * 0.01, 500.0 + (i % 3)) for i in range(1000))
    rss = (*rss[:777], (rss[777][0], 2048.0), *rss[778:])  # a spike one sample long
    timeline = thin_timeline(MemoryTrace(rss=rss, pss=()), started=99.0, since=100.5)
    assert len(timeline) == TIMELINE_POINTS
    assert max(mib for _, mib in timeline) == 2048.0 and (8.77, 2048.0) in timeline
    assert timeline[0][0] >= 1.5  # nothing before ``since``; seconds since the start
