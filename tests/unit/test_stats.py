"""Intervals and tests against values built with known properties."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.base.stats import (
    idle_over_turns,
    mann_whitney_p,
    median_interval,
    pooled_median_interval,
    ratio_interval,
    t_quantile,
    theil_sen,
    warmup_cut,
)


def test_median_interval_from_order_statistics():
    # Nine values: the 2nd and 8th cover the median with 96.1% confidence; six: the whole range,
    # 96.9%.
    assert median_interval(range(1, 10)) == (2, 8)
    assert median_interval(range(6)) == (0, 5)
    values = np.random.default_rng(1).standard_normal(2000)
    low, high = median_interval(values)  # large samples take the normal form
    assert low < 0.0 < high and high - low < 0.2


def test_the_median_interval_covers_the_true_median_about_as_often_as_it_says():
    rng = np.random.default_rng(2)
    covered = sum(
        low <= 0.0 <= high
        for low, high in (median_interval(rng.standard_normal(20)) for _ in range(2000))
    )
    assert 0.94 <= covered / 2000 <= 0.995


def test_a_process_apart_widens_the_pooled_interval():
    rng = np.random.default_rng(3)
    same = [list(100 + rng.standard_normal(20)) for _ in range(2)]
    apart = [same[0], list(120 + rng.standard_normal(20))]
    width = lambda interval: interval[1] - interval[0]  # noqa: E731
    assert width(pooled_median_interval(apart)) > 5 * width(pooled_median_interval(same))
    assert pooled_median_interval([same[0]]) == median_interval(same[0])


def test_warm_up_cut_takes_a_slow_start_and_leaves_steady_rates_alone():
    rng = np.random.default_rng(4)
    assert warmup_cut([500, 700, 900, *(1000 + 10 * rng.standard_normal(20))]) == 3
    assert warmup_cut([1500, *(1000 + 10 * rng.standard_normal(20))]) == 0  # fast is never warm-up
    cuts = [warmup_cut(list(1000 + 50 * rng.standard_normal(20))) for _ in range(1000)]
    assert sum(cut > 0 for cut in cuts) < 30


def _turns(waits: list[float], step_s: float = 0.020, size: int = 16):
    return [
        (waits[i : i + size], [step_s] * len(waits[i : i + size]))
        for i in range(0, len(waits), size)
    ]


def test_idle_above_a_known_floor():
    # Waits of 5 ms behind 20 ms steps, 1 ms of which any ready batch costs: idle 4 / 24 above the
    # floor.
    idle, interval = idle_over_turns(_turns([0.005] * 64), [0.001] * 16)
    assert idle == pytest.approx(4 / 24)
    # Nothing varies, the floor included: no interval, rather than one of zero width.
    assert interval is None
    raw, _ = idle_over_turns(_turns([0.005] * 64))
    assert raw == pytest.approx(5 / 25)
    # Waits never below the floor: nothing above it.
    assert idle_over_turns(_turns([0.001] * 64), [0.002] * 16)[0] == 0.0


def test_idle_at_the_floor_is_bounded_by_the_floors_jitter_never_zero_wide():
    # Every wait 1 ms below a floor of 1.5 to 2.5 ms (mean 2): the interval sits at 0 idle, and the
    # upper bound is what a wait 0.5 ms above the floor's mean would be behind a 20 ms step.
    floor = [0.0015, 0.0025] * 8
    idle, (low, high) = idle_over_turns(_turns([0.001] * 64), floor)
    assert idle == 0.0 and low == 0.0
    assert high == pytest.approx(0.0005 / 0.0205)
    # A floor's jitter widens an interval of waits that vary little above it, and its point stays.
    waits = [0.005, 0.0051] * 32
    idle, (low, high) = idle_over_turns(_turns(waits), floor)
    assert low < idle < high and high - low > 0.001


def test_t_quantiles():
    assert t_quantile(2) == pytest.approx(4.303)
    assert t_quantile(30) == pytest.approx(2.042)
    assert t_quantile(40) == pytest.approx(2.021, abs=0.003)
    assert t_quantile(120) == pytest.approx(1.980, abs=0.003)
    with pytest.raises(ValueError):
        t_quantile(0)


def test_the_idle_interval_over_turns_holds_the_true_idle_where_turns_see_different_moments():
    # Ground truth: steps wait 4 ms above a 1 ms floor behind 20 ms steps (idle 1/6), each turn
    # at its own moment of the machine (its waits scaled by a factor of mean 1, sd 0.3), the steps
    # inside a turn within ±0.2 ms of each other. From three turns of 16 steps, the 95% interval
    # holds 1/6 in about 95% of runs; one drawn from neighbouring steps would hold it far less.
    rng = np.random.default_rng(7)
    held = 0
    for _ in range(400):
        moments = rng.normal(1.0, 0.3, size=3)
        waits = [
            0.001 + 0.004 * moment + rng.uniform(-0.0002, 0.0002)
            for moment in moments
            for _ in range(16)
        ]
        _, (low, high) = idle_over_turns(_turns(waits), [0.001] * 16)
        # the true idle: the mean wait above the floor, 4 ms, over 24 ms
        held += low <= 4 / 24 <= high
    assert 0.90 * 400 <= held <= 0.99 * 400


def test_rank_test_and_ratio_interval():
    rng = np.random.default_rng(5)
    base = list(100 + 3 * rng.standard_normal(25))
    slower = list(80 + 3 * rng.standard_normal(25))
    assert mann_whitney_p(base, slower) < 1e-6
    assert mann_whitney_p(base, base) == 1.0
    low, high = ratio_interval(base, slower)
    assert low < 0.8 < high and high < 0.85


def test_theil_sen_is_not_captured_by_one_point():
    xs = [1000.0, 2000.0, 4000.0, 8000.0, 16000.0]
    ys = [10 + 0.5 * x for x in xs]
    ys[2] *= 3  # one wild point
    slope, intercept = theil_sen(xs, ys)
    assert slope == pytest.approx(0.5, rel=0.01) and intercept == pytest.approx(10, abs=1)
    assert theil_sen([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])[0] == 0.0  # never falls


def test_the_idle_interval_of_a_pipeline_nearly_always_waited_for_ends_at_1():
    # Turns that wait half a second for every 1 ms step, and one that does not: the interval's
    # upper end, centre plus half its width, would pass 1 (1.016 here); no idle fraction can.
    slow, quick = ([0.5] * 3, [0.001] * 3), ([0.002] * 3, [0.02] * 3)
    idle, interval = idle_over_turns([slow, quick, slow, slow, slow, slow])
    assert interval is not None
    low, high = interval
    assert low < idle < high == 1.0
