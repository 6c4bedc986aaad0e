"""compare's evidence on constructed runs: the idle intervals, the windows the rank test needs, its
p-value.

Every expected figure is derived here by hand from what the test builds: the idle fraction from the
paced waits it constructs (the definition in profiler.base.stats.idle_over_turns), the combined
idle interval from the two runs' own intervals, and Mann-Whitney p-values from ranks counted by
hand.
"""

from __future__ import annotations

import math
import random

import pytest

from profiler.analysis.comparison import compare_runs
from profiler.analysis.evidence import gate_confidence
from profiler.analysis.thresholds import DEFAULT_FAIL_ON, parse_thresholds
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings
from profiler.base.stats import idle_over_turns, mann_whitney_p, ratio_interval
from profiler.measuring.metrics import idle_metrics
from profiler.measuring.procedure import PACED_BLOCK, Measurements
from profiler.reporters.compare import comparison_rows, summary_lines
from profiler.results.records import RunResult, ScenarioResult
from profiler.worker.loops import PacedSteps

STEP_S = 0.020
FLOOR_S = 0.001
STEPS = 48


def _run(*results: ScenarioResult) -> RunResult:
    return RunResult(Metadata(), MeasureSettings(), (), None, scenarios=results)


def _paced_result(waits: list[float], name: str = "s") -> ScenarioResult:
    """A result whose idle figures come from paced steps of these waits behind a 20 ms step, taken
    in turns of PACED_BLOCK steps."""
    paced = [
        PacedSteps(tuple(turn), (STEP_S,) * len(turn), (False,) * len(turn))
        for turn in (waits[i : i + PACED_BLOCK] for i in range(0, len(waits), PACED_BLOCK))
    ]
    floor = PacedSteps((FLOOR_S,) * 8, (STEP_S,) * 8, (False,) * 8)
    measured = Measurements(paced=paced, floor=[floor, floor])
    return ScenarioResult(name=name, status="ok", **idle_metrics([measured]))


def _waits(mean_s: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [mean_s + rng.uniform(-0.0005, 0.0005) for _ in range(STEPS)]


def _idle_by_hand(waits: list[float]) -> float:
    """(sum of waits - steps x the floor) / (that + sum of steps)."""
    above = sum(waits) - len(waits) * FLOOR_S
    return above / (above + len(waits) * STEP_S)


def _idle_change(base: ScenarioResult, new: ScenarioResult, fail_on: str = "idle_fraction:0.05"):
    """One row, idle its only check: one test, made at 95%."""
    comparison = compare_runs(_run(base), _run(new), parse_thresholds(fail_on))
    (scenario,) = comparison.scenarios
    (change,) = [c for c in scenario.changes if c.metric == "idle_fraction"]
    row = next(row for row in comparison_rows(comparison) if row[1] == "idle")
    return comparison, change, row[5]


def _half_width(result: ScenarioResult) -> float:
    low, high = result.idle_fraction_ci
    return max(result.idle_fraction - low, high - result.idle_fraction)


def test_idle_that_grew_beyond_its_limit_and_beyond_both_intervals_is_a_regression():
    base_waits, new_waits = _waits(0.004, 1), _waits(0.010, 2)
    base, new = _paced_result(base_waits), _paced_result(new_waits)
    # Idle is about 3/23 (13%) in the base run and 9/29 (31%) in the new one: 18 points more.
    assert base.idle_fraction == pytest.approx(_idle_by_hand(base_waits), rel=1e-12)
    assert new.idle_fraction == pytest.approx(_idle_by_hand(new_waits), rel=1e-12)
    difference = _idle_by_hand(new_waits) - _idle_by_hand(base_waits)
    assert 0.17 < difference < 0.19
    comparison, change, check = _idle_change(base, new)
    width = math.hypot(_half_width(base), _half_width(new))
    # Waits that scatter by ±0.5 ms, in three turns (Student's t of 4.3): narrow intervals, both
    # non-degenerate.
    assert 0 < width < 0.02
    evidence = change.evidence
    assert not evidence.relative and evidence.p_value is None
    assert evidence.low == pytest.approx(difference - width, abs=1e-12)
    assert evidence.high == pytest.approx(difference + width, abs=1e-12)
    assert evidence.significant
    assert change.verdict == "REGRESSION" and comparison.failed
    assert comparison.regressions == [("s", "idle_fraction")]
    assert check == (
        f"REGRESSION (limit 5 points; 95%: {(difference - width) * 100:+.1f} to "
        f"{(difference + width) * 100:+.1f} points)"
    )


def test_the_same_waits_in_another_order_are_no_change_and_the_interval_holds_zero():
    waits = _waits(0.006, 3)
    shuffled = list(waits)
    random.Random(4).shuffle(shuffled)
    base, new = _paced_result(waits), _paced_result(shuffled)
    assert new.idle_fraction == pytest.approx(base.idle_fraction, abs=1e-12)  # the same sums
    comparison, change, check = _idle_change(base, new)
    assert change.evidence.low < 0 < change.evidence.high and not change.evidence.significant
    assert change.verdict == "ok" and not comparison.failed
    assert check == "ok (limit 5 points)"  # a passed check prints no interval


def _with_idle(idle: float, low: float, high: float) -> ScenarioResult:
    return ScenarioResult(name="s", status="ok", idle_fraction=idle, idle_fraction_ci=(low, high))


def test_the_combined_interval_is_the_difference_plus_minus_the_root_sum_of_squared_halves():
    # Half-widths are the larger side: 0.03 for the base, 0.04 for the new run; sqrt(0.03² + 0.04²)
    # = 0.05.
    base, new = _with_idle(0.10, 0.08, 0.13), _with_idle(0.20, 0.18, 0.24)
    _, change, check = _idle_change(base, new)
    assert (change.evidence.low, change.evidence.high) == pytest.approx((0.05, 0.15), abs=1e-12)
    assert change.evidence.significant and change.verdict == "REGRESSION"
    assert check == "REGRESSION (limit 5 points; 95%: +5.0 to +15.0 points)"


def test_a_change_beyond_the_limit_within_the_intervals_is_not_significant():
    # 6 points worse against a limit of 5, but sqrt(0.03² + 0.06²) = 0.0671 > 0.06: -0.7 to +12.7
    # points.
    base, new = _with_idle(0.10, 0.08, 0.13), _with_idle(0.16, 0.10, 0.22)
    comparison, change, check = _idle_change(base, new)
    assert change.worse_by == pytest.approx(0.06)
    assert not change.evidence.significant
    assert change.verdict == "not significant" and not comparison.failed
    assert check == "not significant (limit 5 points; 95%: -0.7 to +12.7 points)"


def test_idle_improving_beyond_the_intervals_passes():
    _, change, _ = _idle_change(_with_idle(0.20, 0.18, 0.24), _with_idle(0.10, 0.08, 0.13))
    assert change.evidence.significant and change.evidence.high == pytest.approx(-0.05)
    assert change.verdict == "ok"


@pytest.mark.parametrize("missing", ["base interval", "new interval", "new idle"])
def test_without_both_intervals_in_files_that_never_had_them_the_limit_alone_decides(missing):
    # Results of format 1 carried no intervals at all: the limit decides, as it always did.
    base, new = _with_idle(0.10, 0.08, 0.13), _with_idle(0.30, 0.28, 0.32)
    if missing == "base interval":
        base = ScenarioResult(name="s", status="ok", idle_fraction=0.10)
    elif missing == "new interval":
        new = ScenarioResult(name="s", status="ok", idle_fraction=0.30)
    if missing == "new idle":
        _, change, _ = _idle_change(base, ScenarioResult(name="s", status="ok"))
        # nothing to compare: no check fails
        assert change.evidence is None and change.verdict == "ok"
        return
    _, change, _ = _idle_change(base, new)
    assert change.evidence is None and change.verdict == "REGRESSION"


def _from_steps(idle: float, steps: int, interval: tuple[float, float] | None) -> ScenarioResult:
    """A result of this format whose idle came from ``steps`` paced steps."""
    return ScenarioResult(
        name="s",
        status="ok",
        idle_fraction=idle,
        idle_fraction_ci=interval,
        wait_ms=(10.0,) * steps,
        window_samples_per_s=(1000.0,) * 6,
    )


@pytest.mark.parametrize("side", ["base", "new"])
def test_an_idle_interval_unknown_from_too_few_steps_is_no_evidence_never_a_regression(side):
    # 14 steps: one block of 8, too few for an interval. The file says so (null), or, written
    # before unknown intervals were kept as such, holds that one block's zero-wide interval.
    for interval in (None, (0.58, 0.58)):
        few = _from_steps(0.58 if side == "base" else 0.71, 14, interval)
        enough = _from_steps(0.71 if side == "base" else 0.58, 40, (0.55, 0.75))
        base, new = (few, enough) if side == "base" else (enough, few)
        if side == "new":
            base, new = _from_steps(0.58, 40, (0.50, 0.66)), few
        comparison, change, check = _idle_change(base, new)
        assert change.verdict == "no evidence" and not comparison.failed, (interval, change)
        assert check.startswith("no evidence (limit 5 points; a run's idle interval is unknown")


def test_an_idle_interval_from_fewer_than_three_turns_is_unknown_never_zero_wide():
    # Two turns of 16 steps: Student's t with one degree of freedom says nothing; three do.
    turns = [([0.010 + 0.001 * (i % 3) for i in range(16)], [0.020] * 16) for _ in range(3)]
    turns[1] = ([w + 0.002 for w in turns[1][0]], turns[1][1])
    point, interval = idle_over_turns(turns[:2])
    assert 0 < point < 1 and interval is None
    # A turn whose every step began an epoch holds no steady step, and is no turn.
    point, interval = idle_over_turns([*turns[:2], ([], [])])
    assert interval is None
    point, interval = idle_over_turns(turns)
    assert interval is not None and interval[0] < point < interval[1]


def _turn_drawn_run(idle: float, seed: int, turns: int = 3) -> ScenarioResult:
    """A run whose paced steps come in turns, each at its own moment of the machine: a turn's waits
    are scaled by a factor drawn once per turn (sd 25%), its steps scatter by ±0.2 ms around it."""
    rng = random.Random(seed)
    # waits of w behind a 20 ms step above a 1 ms floor: idle (w - 1) / (w - 1 + 20)
    above_s = idle / (1.0 - idle) * STEP_S
    waits = []
    for _ in range(turns):
        moment = max(0.0, rng.gauss(1.0, 0.25))
        waits += [FLOOR_S + above_s * moment + rng.uniform(-0.0002, 0.0002) for _ in range(16)]
    return _paced_result(waits)


def test_unchanged_runs_whose_turns_wander_are_rarely_a_regression_and_a_real_change_is_caught():
    # Each run sees three moments of the machine. Steps within a turn agree closely, so an interval
    # over blocks of neighbouring steps is narrow, and unchanged runs 5+ points apart read as a
    # regression (14 of these 200 pairs did so with blocks of 8 steps). The interval over turns
    # carries the moments' spread.
    pairs = [(_turn_drawn_run(0.20, 2 * i), _turn_drawn_run(0.20, 2 * i + 1)) for i in range(200)]
    # The runs really do differ by more than the 5-point limit often: the gate has work to do.
    assert sum(new.idle_fraction - base.idle_fraction > 0.05 for base, new in pairs) > 10
    assert sum(_idle_change(base, new)[0].failed for base, new in pairs) <= 5
    # Idle from 20% to 45%: caught in most pairs, from three turns a run.
    caught = sum(
        _idle_change(_turn_drawn_run(0.20, 2 * i), _turn_drawn_run(0.45, 2 * i + 1))[0].failed
        for i in range(200)
    )
    assert caught >= 150


def _rated(windows: list[float]) -> ScenarioResult:
    ordered = sorted(windows)
    middle = (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2
    return ScenarioResult(
        name="s", status="ok", samples_per_s=middle, window_samples_per_s=tuple(windows)
    )


def _rate_change(base_windows: list[float], new_windows: list[float]):
    comparison = compare_runs(
        _run(_rated(base_windows)), _run(_rated(new_windows)), parse_thresholds("samples_per_s:10%")
    )
    return next(c for c in comparison.scenarios[0].changes if c.metric == "samples_per_s")


NOISY = [600.0, 1400.0, 1000.0, 700.0, 1300.0, 1000.0, 800.0, 1200.0, 900.0, 1100.0]


def test_too_few_windows_in_either_run_leave_the_limit_alone_to_decide():
    # 20% slower, within the new run's spread: with enough windows, the test calls it noise...
    assert _rate_change(NOISY, [0.8 * w for w in NOISY]).verdict == "not significant"
    # ...but with fewer than three windows in either run nothing is tested, and the limit decides,
    # even where the other run has ten (two wholly apart from ten reach p = 0.041 < 0.05 by the same
    # arithmetic as below: U = 0, mean 10, variance 2*10*13/12, z = 9.5/4.655 = 2.041).
    change = _rate_change([1000.0, 1010.0], [0.8 * w for w in NOISY])
    assert change.evidence is None and change.verdict == "REGRESSION"
    change = _rate_change(NOISY, [800.0, 805.0])
    assert change.evidence is None and change.verdict == "REGRESSION"


def test_runs_too_short_for_the_rank_test_leave_the_interval_of_the_ratio_to_decide():
    # Three windows each, wholly apart: the smallest p-value three against three can reach is
    # 0.081 (see below), so the rank test could never call a change real; the bootstrap interval
    # of the ratio of medians decides, as asv falls back on its intervals.
    change = _rate_change([1000.0, 1010.0, 1020.0], [800.0, 810.0, 820.0])
    low, high = ratio_interval([1000.0, 1010.0, 1020.0], [800.0, 810.0, 820.0])
    assert (change.evidence.low, change.evidence.high) == pytest.approx((low - 1.0, high - 1.0))
    assert high < 1.0 and change.evidence.significant and change.verdict == "REGRESSION"
    # Three each that overlap: the interval holds 1, and the drop beyond the limit is noise.
    change = _rate_change([1000.0, 700.0, 1300.0], [800.0, 1150.0, 650.0])
    assert change.evidence.low < 0 < change.evidence.high
    assert change.verdict == "not significant"
    # Four against four, wholly apart, reach 0.030: the test runs and calls the drop real.
    change = _rate_change([1000.0, 1010.0, 1020.0, 1030.0], [800.0, 810.0, 820.0, 830.0])
    assert (
        change.evidence is not None
        and change.evidence.significant
        and change.verdict == "REGRESSION"
    )
    assert change.evidence.p_value == pytest.approx(math.erfc(7.5 / math.sqrt(12) / math.sqrt(2)))


def test_mann_whitney_p_of_samples_wholly_apart_by_hand():
    # Four against four, wholly apart: U = (1+2+3+4) - 4*5/2 = 0, its mean 4*4/2 = 8, its variance
    # 4*4*(8+1)/12 = 12; with the continuity correction z = (8 - 0.5)/sqrt(12) = 2.1651, and the
    # two-sided normal p = erfc(z / sqrt 2) = 0.0304 (a normal table: 2 x (1 - 0.98481)).
    assert mann_whitney_p([1, 2, 3, 4], [5, 6, 7, 8]) == pytest.approx(0.030383, abs=5e-6)
    assert mann_whitney_p([5, 6, 7, 8], [1, 2, 3, 4]) == pytest.approx(0.030383, abs=5e-6)
    # Three against three: U = 0, mean 4.5, variance 3*3*7/12 = 5.25, z = 4/sqrt(5.25) = 1.7457, p =
    # 0.0809.
    assert mann_whitney_p([1, 2, 3], [4, 5, 6]) == pytest.approx(0.080856, abs=5e-6)


def test_mann_whitney_p_with_ties_by_hand():
    # a = 1, 2, 2 and b = 2, 3, 3. Ranks: 1 -> 1; the three 2s share 2, 3, 4 -> 3 each; the two 3s
    # share 5, 6 -> 5.5. a's ranks sum to 1 + 3 + 3 = 7, so U = 7 - 3*4/2 = 1, against a mean of
    # 4.5. Tie correction: (3³ - 3) + (2³ - 2) = 30; variance = 3*3/12 * (7 - 30/(6*5)) = 0.75 * 6 =
    # 4.5. z = (|1 - 4.5| - 0.5) / sqrt(4.5) = 3 / (3/sqrt 2) = sqrt 2, and p = erfc(sqrt 2 / sqrt
    # 2) = erfc(1).
    assert mann_whitney_p([1, 2, 2], [2, 3, 3]) == pytest.approx(0.157299207050285, rel=1e-12)


def test_mann_whitney_p_where_nothing_can_be_told():
    assert mann_whitney_p([], [1.0, 2.0]) == 1.0
    assert mann_whitney_p([3.0, 3.0], [3.0, 3.0, 3.0]) == 1.0  # all tied: no variance
    # Interleaved evenly: U = 4*4/2 exactly, z below 0, p = 1.
    assert mann_whitney_p([1, 4, 5, 8], [2, 3, 6, 7]) == 1.0


def test_idle_s_change_is_shown_in_points_as_its_limit_is():
    comparison = compare_runs(
        _run(_with_idle(0.10, 0.08, 0.13)),
        _run(_with_idle(0.32, 0.30, 0.34)),
        parse_thresholds(DEFAULT_FAIL_ON),
    )
    row = next(row for row in comparison_rows(comparison) if row[1] == "idle")
    assert row[4] == "+22.0 points" and row[5].startswith("REGRESSION (limit 5 points;"), row


def _loaded(rate: float, idle: float, cores: float, rss: float = 100.0) -> ScenarioResult:
    windows = tuple(rate * (1 + 0.01 * (i % 3 - 1)) for i in range(9))
    return ScenarioResult(
        name="s",
        status="ok",
        samples_per_s=rate,
        window_samples_per_s=windows,
        idle_fraction=idle,
        idle_fraction_ci=(idle - 0.01, idle + 0.01),
        other_busy_cores=cores,
        peak_rss_mib=rss,
    )


def test_rates_and_idle_measured_under_another_load_are_no_evidence_and_the_output_says_why():
    # A spinner on one core beside the new run: the pipeline 35% slower and idle 9 points up, both
    # far outside their intervals; the reference (one core, in its own turns) would not see it.
    base, new = _loaded(1000.0, 0.02, 0.0), _loaded(650.0, 0.11, 0.95, rss=300.0)
    comparison = compare_runs(_run(base), _run(new), parse_thresholds(DEFAULT_FAIL_ON))
    changes = {c.metric: c for c in comparison.scenarios[0].changes}
    for metric in ("samples_per_s", "idle_fraction"):
        assert changes[metric].evidence.significant and changes[metric].loaded
        assert changes[metric].verdict == "no evidence"
    # Memory does not move with the load: 200 MiB more is still a regression.
    assert changes["peak_rss_mib"].verdict == "REGRESSION"
    assert comparison.regressions == [("s", "peak_rss_mib")]
    rows = {row[1]: row[5] for row in comparison_rows(comparison)}
    assert rows["samples/s"].startswith(
        "no evidence (limit 10%; other processes kept +0.9 cores busy beside it in the new run"
    )
    assert "Load: other processes kept 0.9 cores busy beside s in new, 0.0 in base." in "\n".join(
        summary_lines(comparison)
    )
    # A load that moved by less than half a core leaves the checks as they were.
    new = _loaded(650.0, 0.11, 0.3)
    comparison = compare_runs(_run(base), _run(new), parse_thresholds(DEFAULT_FAIL_ON))
    assert {metric for _, metric in comparison.regressions} == {"samples_per_s", "idle_fraction"}
    assert not any(line.startswith("Load:") for line in summary_lines(comparison))


def _rows(count: int, base_windows: list[float], new_windows: list[float]):
    """``count`` rows, the first changed from ``base_windows`` to ``new_windows``, the rest not."""
    base = [_rated(base_windows)] + [_rated(NOISY) for _ in range(count - 1)]
    new = [_rated(new_windows)] + [_rated(NOISY) for _ in range(count - 1)]
    base = [ScenarioResult(**{**vars(r), "name": f"s{i}"}) for i, r in enumerate(base)]
    new = [ScenarioResult(**{**vars(r), "name": f"s{i}"}) for i, r in enumerate(new)]
    return compare_runs(_run(*base), _run(*new), parse_thresholds(DEFAULT_FAIL_ON))


def test_each_test_is_made_at_the_level_that_keeps_the_whole_comparison_at_5_percent():
    assert gate_confidence(1) == pytest.approx(0.95)
    assert gate_confidence(2) == pytest.approx(0.975)
    assert gate_confidence(24) == pytest.approx(1 - 0.05 / 24)
    # Twelve rows, with samples/s and idle tested among the default checks: 24 tests. Memory
    # carries no test.
    comparison = _rows(12, NOISY, NOISY)
    assert comparison.tests == 24 and comparison.confidence == pytest.approx(1 - 0.05 / 24)
    assert "calls it real at 99.8%" in " ".join(summary_lines(comparison))
    assert "this comparison's 24 tests leave a 5% chance" in " ".join(summary_lines(comparison))


def test_a_change_real_at_95_percent_alone_is_noise_among_24_tests():
    # Ten windows each, the new ones 15% lower with two of them among the old: the rank test gives
    # p between 0.002 and 0.05, real for one row, not for one row among twelve.
    base = [1000.0, 1040.0, 960.0, 1080.0, 920.0, 1020.0, 980.0, 1060.0, 940.0, 1000.0]
    new = [0.85 * w for w in base[:8]] + [1000.0, 1040.0]
    p_value = mann_whitney_p(base, new)
    assert 0.002 < p_value < 0.05
    alone = _rate_change(base, new)
    assert alone.verdict == "REGRESSION"
    among = next(
        c for c in _rows(12, base, new).scenarios[0].changes if c.metric == "samples_per_s"
    )
    assert among.evidence.p_value == pytest.approx(p_value)
    assert among.verdict == "not significant"
    (row,) = [
        r for r in comparison_rows(_rows(12, base, new)) if r[0] == "s0" and r[1] == "samples/s"
    ]
    assert row[5].startswith("not significant (limit 10%; 99.8%: ")
    # Wholly apart, the same drop is real among twelve rows too.
    apart = [0.85 * w for w in base]
    among = next(
        c for c in _rows(12, base, apart).scenarios[0].changes if c.metric == "samples_per_s"
    )
    assert among.verdict == "REGRESSION"


def test_idle_intervals_widen_to_the_comparisons_level():
    # One row with the default checks: two tests, each at 97.5%; the 95% half-widths (0.03 and
    # 0.04, combined 0.05) widen by the ratio of the normal quantiles, 2.2414 / 1.9600.
    base, new = _with_idle(0.10, 0.08, 0.13), _with_idle(0.20, 0.18, 0.24)
    _, change, _ = _idle_change(base, new, DEFAULT_FAIL_ON)
    width = 0.05 * 2.241403 / 1.959964
    assert (change.evidence.low, change.evidence.high) == pytest.approx(
        (0.10 - width, 0.10 + width), abs=1e-5
    )
