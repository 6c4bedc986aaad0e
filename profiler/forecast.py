"""How peak memory and epoch time grow with the number of samples, and what they will be at a target size.

Each figure is measured at a few dataset sizes and fitted by least squares as a line
``a + b * samples``; the line is kept only when its slope stands out of the scatter (a
t-statistic of at least 3) and moves the figure by a meaningful amount across the measured sizes.
Otherwise the figure is taken as constant, its mean. Two points always lie on a line, so a fit
from fewer than three sizes is never trusted for extrapolation.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from profiler.results import DATA_DIFFERS, RunResult, ScenarioResult
from profiler.units import MIB

CONSTANT = "constant"
LINEAR = "linear"

MIN_SIZES = 3
# A slope must be this many standard errors from zero to count.
_SLOPE_T = 3.0
# By default, a fit that misses a measured point by more than this share of it is not used.
MAX_RELATIVE_ERROR = 0.15
# Beyond this multiple of the largest measured size, a prediction is flagged as a long reach.
LONG_REACH = 10.0


@dataclass(frozen=True)
class Fit:
    """``intercept + slope * samples``; a constant fit has slope 0."""

    model: str
    intercept: float
    slope: float
    sizes: tuple[int, ...]
    values: tuple[float, ...]
    max_error: float  # largest absolute residual, in the figure's unit
    relative_error: float  # largest residual over its own point's value (or the floor, if larger)
    tolerance: float = MAX_RELATIVE_ERROR  # the largest relative_error at which the fit is used

    def predict(self, samples: float) -> float:
        return self.intercept + self.slope * samples

    @property
    def distinct_sizes(self) -> int:
        return len(set(self.sizes))

    def unreliable_reason(self) -> str | None:
        """Why this fit cannot support an extrapolation, or None when it can."""
        if self.distinct_sizes < MIN_SIZES:
            return (
                f"measured at {self.distinct_sizes} size(s); a trend needs at least {MIN_SIZES}, "
                "so pass more --samples values"
            )
        if self.relative_error > self.tolerance:
            return (
                f"neither a constant nor a line fits the measured points (off by up to "
                f"{self.relative_error:.0%}), so no size beyond them can be predicted"
            )
        return None


def fit_growth(
    sizes: Sequence[int], values: Sequence[float], min_change: float, floor: float,
    tolerance: float = MAX_RELATIVE_ERROR,
) -> Fit:
    """Fit ``values`` measured at ``sizes``.

    ``min_change``: the least change across the measured sizes that counts as growth (memory
    readings move by a few MiB on their own). ``floor``: the smallest value a miss is judged
    against, so a figure near zero is not called a poor fit for a miss of noise size.
    ``tolerance``: the largest relative miss at which the fit may be used to extrapolate.
    """
    if len(sizes) != len(values) or not sizes:
        raise ValueError("fit_growth needs one value per size, and at least one")
    xs = [float(n) for n in sizes]
    ys = [float(v) for v in values]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread_x = sum((x - mean_x) ** 2 for x in xs)
    constant = _fit(CONSTANT, mean_y, 0.0, sizes, ys, floor, tolerance)
    if spread_x == 0:
        return constant
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread_x
    intercept = mean_y - slope * mean_x
    linear = _fit(LINEAR, intercept, slope, sizes, ys, floor, tolerance)
    change = abs(slope) * (max(xs) - min(xs))
    if change < min_change:
        return constant
    if len(xs) > 2:
        residual_ss = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
        standard_error = math.sqrt(residual_ss / (len(xs) - 2) / spread_x)
        if standard_error > 0 and abs(slope) / standard_error < _SLOPE_T:
            return constant
    return linear


def _fit(
    model: str, intercept: float, slope: float, sizes: Sequence[int], ys: list[float], floor: float, tolerance: float
) -> Fit:
    residuals = [abs(y - (intercept + slope * n)) for n, y in zip(sizes, ys, strict=True)]
    # Each miss against its own point: a line that misses the small sizes by their whole value
    # says nothing about the large ones, however small the miss looks beside the largest value.
    relative = max(r / max(abs(y), floor) for r, y in zip(residuals, ys, strict=True))
    return Fit(model, intercept, slope, tuple(int(n) for n in sizes), tuple(ys), max(residuals), relative, tolerance)


# Peak memory readings move by several MiB between runs on their own; less than this across the
# measured sizes is not growth. Errors are judged against at least MEMORY_FLOOR_MIB.
MEMORY_MIN_CHANGE_MIB = 16.0
MEMORY_FLOOR_MIB = 64.0
# Epoch times: a change of less than a tenth of the largest, or than 2 ms, is not growth.
EPOCH_MIN_CHANGE_SHARE = 0.1
EPOCH_MIN_CHANGE_S = 0.002
EPOCH_FLOOR_S = 0.05
# Memory is steady from run to run and a miss of 15% is a wrong law. Epochs of a few seconds vary
# by 10-40% between runs on a shared machine, so an epoch-time fit may miss a point by up to 40%
# (a curve still misses by more: a quadratic over sizes doubling from 1,000 misses by over 100%).
MEMORY_TOLERANCE = 0.15
EPOCH_TOLERANCE = 0.40


def fit_memory(sizes: Sequence[int], peaks_mib: Sequence[float]) -> Fit:
    return fit_growth(sizes, peaks_mib, MEMORY_MIN_CHANGE_MIB, MEMORY_FLOOR_MIB, MEMORY_TOLERANCE)


def fit_epoch_time(sizes: Sequence[int], epochs_s: Sequence[float]) -> Fit:
    min_change = max(EPOCH_MIN_CHANGE_S, EPOCH_MIN_CHANGE_SHARE * max(epochs_s))
    return fit_growth(sizes, epochs_s, min_change, EPOCH_FLOOR_S, EPOCH_TOLERANCE)


@dataclass(frozen=True)
class NotMeasured:
    samples: int
    status: str
    reason: str


@dataclass(frozen=True)
class ScenarioGrowth:
    """One scenario across the sizes of a sweep."""

    name: str
    sizes: tuple[int, ...]  # sizes where it was measured, ascending
    peak_rss_mib: tuple[float, ...]  # peak above its baseline, at each size
    epoch_s: tuple[float, ...]  # median flat-out epoch, at each size
    baseline_rss_mib: float | None  # median over the sizes: the worker with TensorFlow imported
    memory: Fit | None
    epoch: Fit | None
    idle_fraction: float | None  # at the largest measured size
    memory_grows_with_data: bool
    data_usable: bool  # delivered the dataset's samples at every size
    disk_grows_with_data: bool = False
    not_measured: tuple[NotMeasured, ...] = ()


@dataclass(frozen=True)
class Prediction:
    """A scenario's figures at the target size, or why there are none."""

    name: str
    target_samples: int
    peak_mib: float | None = None  # whole process tree, baseline included
    epoch_s: float | None = None
    idle_fraction: float | None = None
    fits: bool | None = None
    problem: str | None = None
    long_reach: bool = False
    disk_mib: float | None = None  # decoded dataset written to disk, for strategies that write it


def growths(runs: Sequence[RunResult]) -> tuple[ScenarioGrowth, ...]:
    """Per scenario, in first-seen order, its figures at each size and their fits."""
    names: list[str] = []
    for run in runs:
        names += [r.name for r in run.scenarios if r.name not in names]
    return tuple(growth_of(name, runs) for name in names)


def growth_of(name: str, runs: Sequence[RunResult]) -> ScenarioGrowth:
    measured: list[tuple[int, ScenarioResult]] = []
    not_measured: list[NotMeasured] = []
    grows = disk = False
    usable = True
    for run in sorted(runs, key=lambda r: r.samples or 0):
        size = run.samples or 0
        for result in run.scenarios:
            if result.name != name:
                continue
            grows = grows or result.memory_grows_with_data
            disk = disk or result.disk_grows_with_data
            if result.ok and result.peak_rss_mib is not None and result.epoch_s:
                measured.append((size, result))
                usable = usable and result.data_status != DATA_DIFFERS
            else:
                not_measured.append(NotMeasured(size, result.status, result.error or ""))
    sizes = tuple(size for size, _ in measured)
    memory = tuple(float(r.peak_rss_mib) for _, r in measured)  # type: ignore[arg-type]
    epochs = tuple(statistics.median(r.epoch_s) for _, r in measured)
    baselines = [r.baseline_rss_mib for _, r in measured if r.baseline_rss_mib is not None]
    return ScenarioGrowth(
        name=name,
        sizes=sizes,
        peak_rss_mib=memory,
        epoch_s=epochs,
        baseline_rss_mib=statistics.median(baselines) if baselines else None,
        memory=fit_memory(sizes, memory) if sizes else None,
        epoch=fit_epoch_time(sizes, epochs) if sizes else None,
        idle_fraction=measured[-1][1].idle_fraction if measured else None,
        memory_grows_with_data=grows,
        disk_grows_with_data=disk,
        data_usable=usable and bool(measured),
        not_measured=tuple(not_measured),
    )


def predict(growth: ScenarioGrowth, target_samples: int, budget_mib: float, sample_bytes: int = 0) -> Prediction:
    """The scenario's peak memory and epoch time at ``target_samples``, or why they cannot be told.

    ``sample_bytes``: one decoded sample, for the disk a strategy that writes the dataset needs.
    """
    disk = target_samples * sample_bytes / MIB if growth.disk_grows_with_data and sample_bytes else None
    base = Prediction(growth.name, target_samples, idle_fraction=growth.idle_fraction, disk_mib=disk)
    if growth.memory is None or growth.epoch is None:
        reasons = "; ".join(f"{item.samples:,}: {item.status}" for item in growth.not_measured)
        return replace(base, problem=f"no size was measured ({reasons or 'no result'})")
    problem = growth.memory.unreliable_reason()
    if problem is not None:
        return replace(base, problem=f"memory {problem}")
    problem = growth.epoch.unreliable_reason()
    if problem is not None:
        return replace(base, problem=f"epoch time {problem}")
    peak = (growth.baseline_rss_mib or 0.0) + max(growth.memory.predict(target_samples), 0.0)
    epoch = max(growth.epoch.predict(target_samples), 0.0)
    return replace(
        base,
        peak_mib=peak,
        epoch_s=epoch,
        fits=peak <= budget_mib,
        long_reach=target_samples > LONG_REACH * max(growth.sizes),
    )


@dataclass(frozen=True)
class MemoryForecast:
    """A scenario's expected peak memory, whole process tree, before it runs."""

    peak_mib: float
    basis: str  # how it was predicted, in words, for the message when it is skipped


def forecast_peak(runs: Sequence[RunResult], name: str, samples: int) -> MemoryForecast | None:
    """The scenario's whole-tree peak at ``samples`` from the smaller sizes already measured."""
    growth = growth_of(name, runs)
    if not growth.sizes or growth.baseline_rss_mib is None:
        return None
    largest = growth.sizes[-1]
    if len(set(growth.sizes)) == 1:
        peak = growth.peak_rss_mib[-1]
        if growth.memory_grows_with_data:
            peak = peak * samples / largest
            basis = f"its growth at {largest:,} samples scaled to {samples:,}"
        else:
            basis = f"as measured at {largest:,} samples"
        return MemoryForecast(growth.baseline_rss_mib + peak, basis)
    assert growth.memory is not None
    predicted = growth.memory.predict(samples)
    if growth.memory.model != LINEAR:
        predicted = max(growth.peak_rss_mib)
    basis = f"fitted as {growth.memory.model} on {len(growth.sizes)} sizes up to {largest:,} samples"
    return MemoryForecast(growth.baseline_rss_mib + predicted, basis)
