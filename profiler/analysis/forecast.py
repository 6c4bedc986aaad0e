"""How each scenario's peak memory and epoch time grow over a sweep's sizes, and what they will be
at the target size, each prediction with the range its fits allow (the fits:
``profiler.analysis.fits``).

Epoch time at each size comes from the precise rate of that size: the samples of an epoch over the
median window rate, with the interval the rate's interval gives it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from profiler.analysis.fits import LINEAR, LONG_REACH, Fit, fit_epoch_time, fit_memory
from profiler.base.units import MIB
from profiler.results.records import DATA_DIFFERS, RunResult, ScenarioResult


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
            grows = grows or bool(result.memory_grows_with_data)
            disk = disk or result.disk_grows_with_data
            if result.ok and result.peak_rss_mib is not None and _epoch(result) is not None:
                measured.append((size, result))
                # Wrong data, or data unlike the rest (a pipeline of other images): not to be ranked
                # with them.
                apart = run.recommendation is not None and name in run.recommendation.not_compared
                usable = usable and result.data_status != DATA_DIFFERS and not apart
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
        return (
            per_epoch / result.samples_per_s,
            per_epoch / max(high, 1e-9),
            per_epoch / max(low, 1e-9),
        )
    if result.epoch_s:
        return statistics.median(result.epoch_s), min(result.epoch_s), max(result.epoch_s)
    return None


def predict(
    growth: ScenarioGrowth, target_samples: int, budget_mib: float, sample_bytes: int = 0
) -> Prediction:
    """The scenario's peak memory and epoch time at ``target_samples``, or why they cannot be told.

    ``sample_bytes``: one decoded sample, for the disk a strategy that writes the dataset needs.
    """
    disk = (
        target_samples * sample_bytes / MIB
        if growth.disk_grows_with_data and sample_bytes
        else None
    )
    base = Prediction(
        growth.name, target_samples, idle_fraction=growth.idle_fraction, disk_mib=disk
    )
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
    left_out = [f"memory at {n:,}" for n in growth.memory.outliers] + [
        f"epoch time at {n:,}" for n in growth.epoch.outliers
    ]
    split = [
        f"its three {what} points disagree by up to {fit.relative_error:.0%}: the range takes in "
        "every line through two of them"
        for what, fit in (("memory", growth.memory), ("epoch time", growth.epoch))
        if fit.spans_every_pair
    ]
    return replace(
        base,
        peak_mib=peak,
        peak_mib_interval=(baseline + peak_low, baseline + peak_high),
        epoch_s=growth.epoch.predict(target_samples),
        epoch_s_interval=growth.epoch.interval(target_samples),
        fits=peak <= budget_mib,
        long_reach=target_samples > LONG_REACH * max(growth.sizes),
        outliers="; ".join(
            (
                [", ".join(left_out) + " samples left out: the fits could not follow them"]
                if left_out
                else []
            )
            + split
        ),
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
    basis = (
        f"fitted as {growth.memory.model} on {len(growth.sizes)} sizes up to {largest:,} samples"
    )
    return MemoryForecast(growth.baseline_rss_mib + predicted, basis)
