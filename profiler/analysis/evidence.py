"""What two runs say about whether a metric's change is real: the metrics compare knows, and the
evidence each carries (the rank test on turn rates for throughput, the two idle intervals for
idle time).

One compare makes a test for every row and gated metric at once: each is made at the level that
keeps the chance of any false regression among them at FAMILY_ERROR (Bonferroni), as asv calls a
change real only at p < 0.002. Each run is also one draw of its processes' own state (where memory
lands, what autotuning chose), which no turn inside it sees. Ten unchanged default runs on 2 cores,
tested at 95% each, gave 4 pairs of 45 a false regression (a row 13% to 17% slower over the
machine, p 0.017 to 0.039); at the level for their 24 tests, none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

from profiler.base.stats import CONFIDENCE, mann_whitney_p, median, ratio_interval
from profiler.results.records import ScenarioResult

# The chance, over the whole comparison, of calling any unchanged metric a regression.
FAMILY_ERROR = 1.0 - CONFIDENCE


def gate_confidence(tests: int) -> float:
    """The level of each of ``tests`` tests that keeps their family's error at FAMILY_ERROR."""
    return 1.0 - FAMILY_ERROR / max(tests, 1)


@dataclass(frozen=True)
class Evidence:
    """How sure a change is: its interval at the test's level (in the change's own terms) and
    whether it is real."""

    low: float
    high: float
    significant: bool
    relative: bool  # the interval is of the relative change; else of the absolute difference
    p_value: float | None = None


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    higher_is_better: bool
    pattern: str  # how one value is shown
    # What the two runs say about whether a change of this metric is real, at a level, where they
    # say anything.
    evidence: Callable[[ScenarioResult, ScenarioResult, str, float], Evidence | None] | None = None


# The fewest windows per run for the rank test to mean something.
MIN_WINDOWS = 3


def _windows(result: ScenarioResult, metric: str) -> list[float]:
    """The run's window rates, scaled so that their median is the rate it reports for ``metric``."""
    windows = list(result.window_samples_per_s)
    reported = getattr(result, metric)
    if len(windows) < MIN_WINDOWS or not reported:
        return []
    middle = median(windows)
    return [w * reported / middle for w in windows] if middle > 0 else []


def _rate_evidence(
    base: ScenarioResult, new: ScenarioResult, metric: str, confidence: float
) -> Evidence | None:
    """None where the windows are too few for the test to call anything real: the limit decides."""
    return turn_evidence(_windows(base, metric), _windows(new, metric), confidence)


def turn_evidence(
    old: list[float], current: list[float], confidence: float = CONFIDENCE
) -> Evidence | None:
    """Whether ``current`` differs from ``old`` at ``confidence``, both sets of turns from one run
    each: the rank test and the bootstrap interval of the ratio of medians agree, or the interval
    alone where the turns are too few for the test to reach that level however they fall."""
    if len(old) < MIN_WINDOWS or len(current) < MIN_WINDOWS:
        return None
    alpha = 1.0 - confidence
    low, high = ratio_interval(old, current, confidence)
    beyond = high < 1.0 or low > 1.0
    p_value = mann_whitney_p(old, current)
    apart = [float(i) for i in range(len(old) + len(current))]
    test_can_tell = mann_whitney_p(apart[: len(old)], apart[len(old) :]) < alpha
    real = beyond and (p_value < alpha or not test_can_tell)
    return Evidence(low - 1.0, high - 1.0, real, relative=True, p_value=p_value)


def _idle_evidence(
    base: ScenarioResult, new: ScenarioResult, metric: str, confidence: float
) -> Evidence | None:
    """The difference of the idle fractions, its half-width from both runs' own intervals (kept at
    95%), widened to ``confidence`` as a normal interval would be."""
    if base.idle_fraction is None or new.idle_fraction is None:
        return None
    if base.idle_interval_unknown or new.idle_interval_unknown:
        return None
    if base.idle_half_width is None or new.idle_half_width is None:
        return None
    difference = new.idle_fraction - base.idle_fraction
    widen = _z(confidence) / _z(CONFIDENCE)
    width = (base.idle_half_width**2 + new.idle_half_width**2) ** 0.5 * widen
    return Evidence(difference - width, difference + width, abs(difference) > width, relative=False)


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("samples_per_s", "samples/s", True, "{:,.0f}", _rate_evidence),
        Metric("batches_per_s", "batches/s", True, "{:,.1f}", _rate_evidence),
        Metric("idle_fraction", "idle", False, "{:.1%}", _idle_evidence),
        Metric("wait_p95_ms", "wait p95 ms", False, "{:.2f}"),
        Metric("first_batch_s", "first batch s", False, "{:.2f}"),
        Metric("warmup_epoch_s", "warm-up s", False, "{:.2f}"),
        Metric("peak_rss_mib", "peak RSS MiB", False, "{:+,.0f}"),
        Metric("peak_pss_mib", "peak PSS MiB", False, "{:+,.0f}"),
        Metric("cpu_s", "CPU s/epoch", False, "{:.2f}"),
    )
}
