"""How peak memory and epoch time grow with the number of samples, and what they will be at a target size.

Each figure is measured at a few dataset sizes and fitted as a line ``a + b * samples`` that never
falls. Epoch time always grows: a fixed part per epoch and a part per sample, from the precise
rates of each size. Peak memory is a line when it grows by more than readings move on their own,
else flat. Two points always lie on a line, so a fit from fewer than three sizes is never trusted
for extrapolation; every prediction comes with the range its fit allows.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from profiler.results import DATA_DIFFERS, RunResult, ScenarioResult
from profiler.stats import pair_slopes, theil_sen
from profiler.units import MIB

CONSTANT = "constant"
LINEAR = "linear"

MIN_SIZES = 3
# Beyond this multiple of the largest measured size, a prediction is flagged as a long reach.
LONG_REACH = 10.0
# Peak memory readings move by several MiB between runs on their own; less than this across the
# measured sizes is not growth, and misses are judged against at least MEMORY_FLOOR_MIB.
MEMORY_MIN_CHANGE_MIB = 16.0
MEMORY_FLOOR_MIB = 64.0
# Memory is steady from run to run: a miss of 15% is a wrong law. Epoch times come from rates with
# intervals of a few percent, but a shared machine moves them by more between sizes: 25%.
MEMORY_TOLERANCE = 0.15
EPOCH_TOLERANCE = 0.25
EPOCH_FLOOR_S = 0.005


@dataclass(frozen=True)
class Fit:
    """``intercept + slope * samples``, never falling (a constant fit has slope 0), with its range.

    The line is robust: its slope is the median of the slopes between every two sizes (Theil-Sen),
    so one outlying point cannot capture it; a point that the others' line misses by more than the
    tolerance is left out and named in ``outliers``. ``slope_low``..``slope_high`` and
    ``intercept_low``..``intercept_high`` are what the measurements allow.
    """

    model: str
    intercept: float
    slope: float
    sizes: tuple[int, ...]
    values: tuple[float, ...]
    max_error: float  # largest absolute miss of the points kept, in the figure's unit
    relative_error: float  # largest miss of a point kept over its own value (or the floor, if larger)
    tolerance: float = MEMORY_TOLERANCE  # the largest relative miss at which the fit is used...
    # ...unless the point's own interval is wider: the largest miss over what each point allows.
    misfit: float = 0.0
    slope_low: float = 0.0
    slope_high: float = 0.0
    intercept_low: float = 0.0
    intercept_high: float = 0.0
    outliers: tuple[int, ...] = ()  # sizes whose point was left out

    def predict(self, samples: float) -> float:
        return max(0.0, self.intercept + self.slope * samples)

    def interval(self, samples: float) -> tuple[float, float]:
        low = max(0.0, self.intercept_low + self.slope_low * samples)
        high = self.intercept_high + self.slope_high * samples
        return min(low, self.predict(samples)), max(high, self.predict(samples))

    @property
    def distinct_sizes(self) -> int:
        return len(set(self.sizes) - set(self.outliers))

    def unreliable_reason(self) -> str | None:
        """Why this fit cannot support an extrapolation, or None when it can."""
        if self.distinct_sizes < MIN_SIZES:
            return (
                f"measured at {len(set(self.sizes))} size(s); a trend needs at least {MIN_SIZES}, so pass more "
                "--samples values"
            )
        if self.misfit > 1.0:
            return (
                f"neither a constant nor a line fits the measured points (off by up to "
                f"{self.relative_error:.0%}), so no size beyond them can be predicted"
            )
        return None


def fit_memory(sizes: Sequence[int], peaks_mib: Sequence[float]) -> Fit:
    """A line when memory grows by more than readings move on their own, else flat."""
    xs, ys = [float(n) for n in sizes], [float(v) for v in peaks_mib]
    allowed = _allowed(ys, ys, ys, MEMORY_FLOOR_MIB, MEMORY_TOLERANCE)
    slope, intercept, outliers = _robust_line(xs, ys, allowed)
    kept = [i for i in range(len(xs)) if i not in outliers]
    slopes = pair_slopes([xs[i] for i in kept], [ys[i] for i in kept], [ys[i] for i in kept])
    span = max(xs) - min(xs)
    if slope * span < MEMORY_MIN_CHANGE_MIB:
        # The middle of the range: no level misses the readings by less.
        level = (min(ys[i] for i in kept) + max(ys[i] for i in kept)) / 2
        # Flat, but a growth too small to stand out of the readings' noise could hide in it.
        hidden = MEMORY_MIN_CHANGE_MIB / span if span else 0.0
        return _fit(CONSTANT, level, 0.0, xs, ys, outliers, (MEMORY_FLOOR_MIB, MEMORY_TOLERANCE, allowed),
                    (0.0, hidden), (min(ys[i] for i in kept) - hidden * min(xs), max(ys[i] for i in kept)))
    low = max(0.0, min(s for s, _ in slopes)) if slopes else slope
    high = max(s for _, s in slopes) if slopes else slope
    offsets = [ys[i] - slope * xs[i] for i in kept]
    return _fit(LINEAR, intercept, slope, xs, ys, outliers, (MEMORY_FLOOR_MIB, MEMORY_TOLERANCE, allowed), (low, high),
                (min(offsets), max(offsets)))


def fit_epoch_time(
    sizes: Sequence[int], epochs_s: Sequence[float], lows: Sequence[float] | None = None,
    highs: Sequence[float] | None = None,
) -> Fit:
    """An epoch costs a fixed part and a part per sample that cannot be negative: always a rising line.

    The fixed part may come out below zero where the cost per sample rises with the size at the
    small sizes (caches overflowing, say); the predictions never do.

    ``lows``/``highs``: each point's 95% interval, from the interval of its rate.
    """
    xs, ys = [float(n) for n in sizes], [float(v) for v in epochs_s]
    lows, highs = list(lows or ys), list(highs or ys)
    allowed = _allowed(ys, lows, highs, EPOCH_FLOOR_S, EPOCH_TOLERANCE)
    slope, intercept, outliers = _robust_line(xs, ys, allowed)
    if slope <= 0:  # the scatter hides the per-sample part: count every second as per sample
        largest = max(range(len(xs)), key=lambda i: xs[i])
        slope, intercept = ys[largest] / xs[largest], 0.0
    kept = [i for i in range(len(xs)) if i not in outliers]
    pairs = pair_slopes([xs[i] for i in kept], [lows[i] for i in kept], [highs[i] for i in kept])
    low = max(0.0, statistics.median(s for s, _ in pairs)) if pairs else slope
    high = statistics.median(s for _, s in pairs) if pairs else slope
    low, high = min(low, slope), max(high, slope)
    fixed = (statistics.median(lows[i] - high * xs[i] for i in kept),
             statistics.median(highs[i] - low * xs[i] for i in kept))
    return _fit(LINEAR, intercept, slope, xs, ys, outliers, (EPOCH_FLOOR_S, EPOCH_TOLERANCE, allowed),
                (low, high), fixed)


def _robust_line(xs: list[float], ys: list[float], allowed: list[float]) -> tuple[float, float, list[int]]:
    """(slope >= 0, intercept >= 0, outliers): Theil-Sen, then at most one point left out and refitted.

    ``allowed``: the miss each point tolerates, in the figure's unit.
    """
    slope, intercept = theil_sen(xs, ys)
    misses = [abs(y - intercept - slope * x) / a for x, y, a in zip(xs, ys, allowed, strict=True)]
    worst = max(range(len(xs)), key=lambda i: misses[i]) if xs else 0
    # Which of three points is the odd one cannot be told: leaving one out needs four sizes or more.
    if len(set(xs)) > MIN_SIZES and misses and misses[worst] > 1.0:
        rest = [i for i in range(len(xs)) if i != worst]
        slope, intercept = theil_sen([xs[i] for i in rest], [ys[i] for i in rest])
        if all(abs(ys[i] - intercept - slope * xs[i]) <= allowed[i] for i in rest):
            return slope, intercept, [worst]
        slope, intercept = theil_sen(xs, ys)
    return slope, intercept, []


def _allowed(ys: list[float], lows: list[float], highs: list[float], floor: float, tolerance: float) -> list[float]:
    """The miss each point tolerates: the tolerance of its value, or its own interval where wider."""
    return [max(tolerance * max(abs(y), floor), high - y, y - low) for y, low, high in zip(ys, lows, highs,
                                                                                             strict=True)]


def _fit(
    model: str, intercept: float, slope: float, xs: list[float], ys: list[float], outliers: list[int],
    limits: tuple[float, float, list[float]], slopes: tuple[float, float], intercepts: tuple[float, float],
) -> Fit:
    """``limits``: (floor, tolerance, the miss each point allows)."""
    floor, tolerance, allowed = limits
    kept = [i for i in range(len(xs)) if i not in outliers] or list(range(len(xs)))
    residuals = [abs(ys[i] - (intercept + slope * xs[i])) for i in kept]
    # Each miss against its own point: a line that misses the small sizes by their whole value
    # says nothing about the large ones, however small the miss looks beside the largest value.
    relative = max((r / max(abs(ys[i]), floor) for r, i in zip(residuals, kept, strict=True)), default=0.0)
    misfit = max((r / allowed[i] for r, i in zip(residuals, kept, strict=True)), default=0.0)
    return Fit(model, intercept, slope, tuple(int(n) for n in xs), tuple(ys), max(residuals, default=0.0), relative,
               tolerance, misfit, slopes[0], slopes[1], intercepts[0], intercepts[1],
               tuple(int(xs[i]) for i in outliers))


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
    epoch_s: tuple[float, ...]  # a flat-out epoch at each size: samples over the median window rate
    epoch_s_low: tuple[float, ...]  # ... and the 95% interval that the rate's interval gives it
    epoch_s_high: tuple[float, ...]
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
    peak_mib_interval: tuple[float, float] | None = None
    epoch_s: float | None = None
    epoch_s_interval: tuple[float, float] | None = None
    idle_fraction: float | None = None
    outliers: str = ""  # the measured points the fits left out, in words
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
            if result.ok and result.peak_rss_mib is not None and _epoch(result) is not None:
                measured.append((size, result))
                usable = usable and result.data_status != DATA_DIFFERS
            else:
                not_measured.append(NotMeasured(size, result.status, result.error or ""))
    sizes = tuple(size for size, _ in measured)
    memory = tuple(float(r.peak_rss_mib) for _, r in measured)  # type: ignore[arg-type]
    epochs = [_epoch(r) for _, r in measured]
    middle, lows, highs = (tuple(e[k] for e in epochs if e is not None) for k in range(3))
    baselines = [r.baseline_rss_mib for _, r in measured if r.baseline_rss_mib is not None]
    return ScenarioGrowth(
        name=name,
        sizes=sizes,
        peak_rss_mib=memory,
        epoch_s=middle,
        epoch_s_low=lows,
        epoch_s_high=highs,
        baseline_rss_mib=statistics.median(baselines) if baselines else None,
        memory=fit_memory(sizes, memory) if sizes else None,
        epoch=fit_epoch_time(sizes, middle, lows, highs) if sizes else None,
        idle_fraction=measured[-1][1].idle_fraction if measured else None,
        memory_grows_with_data=grows,
        disk_grows_with_data=disk,
        data_usable=usable and bool(measured),
        not_measured=tuple(not_measured),
    )


def _epoch(result: ScenarioResult) -> tuple[float, float, float] | None:
    """(epoch, low, high) in seconds: the samples of an epoch over the median window rate and its
    interval; for results without windows (format 1), the median epoch and the range of epochs."""
    if result.samples_per_s and result.samples_per_epoch and result.samples_per_s_ci is not None:
        low, high = result.samples_per_s_ci
        per_epoch = result.samples_per_epoch
        return per_epoch / result.samples_per_s, per_epoch / max(high, 1e-9), per_epoch / max(low, 1e-9)
    if result.epoch_s:
        return statistics.median(result.epoch_s), min(result.epoch_s), max(result.epoch_s)
    return None


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
    baseline = growth.baseline_rss_mib or 0.0
    peak = baseline + growth.memory.predict(target_samples)
    peak_low, peak_high = growth.memory.interval(target_samples)
    left_out = [f"memory at {n:,}" for n in growth.memory.outliers] + [f"epoch time at {n:,}"
                                                                          for n in growth.epoch.outliers]
    return replace(
        base,
        peak_mib=peak,
        peak_mib_interval=(baseline + peak_low, baseline + peak_high),
        epoch_s=growth.epoch.predict(target_samples),
        epoch_s_interval=growth.epoch.interval(target_samples),
        fits=peak <= budget_mib,
        long_reach=target_samples > LONG_REACH * max(growth.sizes),
        outliers=(", ".join(left_out) + " samples left out as outliers") if left_out else "",
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
