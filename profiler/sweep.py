"""A sweep: the same scenarios measured at several dataset sizes, fitted, and carried to a target size.

Sizes run from the smallest up, so before each scenario starts at a larger size its peak memory
there can be forecast from the sizes already measured, and a scenario that would not fit in the
memory available is skipped instead of started.
"""

from __future__ import annotations

import datetime
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from profiler.data import DataSource, DataSpec
from profiler.errors import ProfilerError
from profiler.fingerprint import dataset_fingerprint
from profiler.growth import LINEAR, LONG_REACH, Fit, fit_growth
from profiler.memory import MIB
from profiler.recommend import with_results
from profiler.results import (
    FORMAT_VERSION,
    KIND_SWEEP,
    MODERATELY_INPUT_BOUND_AT,
    RunResult,
    ScenarioResult,
    idle_condition,
    read_results_json,
    results_kind,
    write_json,
)
from profiler.runner import MemoryForecast, Runner, RunSettings, available_memory_mib

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
# Without --memory-budget, this share of the memory available when the sweep starts.
DEFAULT_BUDGET_SHARE = 0.8
# Idle fractions within this of the least idle count as equally busy (as in profiler.recommend).
_IDLE_TIE = 0.02


@dataclass(frozen=True)
class ScenarioGrowth:
    """One scenario across the sizes of a sweep."""

    name: str
    sizes: tuple[int, ...]  # sizes where it was measured, ascending
    peak_rss_mb: tuple[float, ...]  # peak above its baseline, at each size
    epoch_s: tuple[float, ...]  # median flat-out epoch, at each size
    baseline_rss_mb: float | None  # median over the sizes: the worker with TensorFlow imported
    memory: Fit | None
    epoch: Fit | None
    idle_fraction: float | None  # at the largest measured size
    memory_grows_with_data: bool
    data_usable: bool  # delivered the dataset's samples at every size
    disk_grows_with_data: bool = False
    not_measured: tuple[tuple[int, str, str], ...] = ()  # (size, status, reason)


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target_samples": self.target_samples,
            "peak_mb": self.peak_mib,
            "epoch_s": self.epoch_s,
            "idle_fraction": self.idle_fraction,
            "fits": self.fits,
            "problem": self.problem,
            "long_reach": self.long_reach,
            "disk_mb": self.disk_mib,
        }


@dataclass(frozen=True)
class TargetAdvice:
    name: str | None  # None: nothing can be recommended, and ``reason`` says why
    reason: str
    runner_up: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reason": self.reason, "runner_up": self.runner_up}


def growths(runs: Sequence[RunResult]) -> list[ScenarioGrowth]:
    """Per scenario, in first-seen order, its figures at each size and their fits."""
    names: list[str] = []
    for run in runs:
        names += [r.name for r in run.scenarios if r.name not in names]
    return [_growth(name, runs) for name in names]


def _growth(name: str, runs: Sequence[RunResult]) -> ScenarioGrowth:
    measured: list[tuple[int, ScenarioResult]] = []
    not_measured: list[tuple[int, str, str]] = []
    grows = disk = False
    usable = True
    for run in sorted(runs, key=lambda r: int(r.data["samples"])):
        size = int(run.data["samples"])
        for result in run.scenarios:
            if result.name != name:
                continue
            grows = grows or result.memory_grows_with_data
            disk = disk or result.disk_grows_with_data
            if result.ok and result.peak_rss_mb is not None and result.epoch_s:
                measured.append((size, result))
                usable = usable and result.data_status != "differs"
            else:
                not_measured.append((size, result.status, result.error or ""))
    sizes = tuple(size for size, _ in measured)
    memory = tuple(float(r.peak_rss_mb) for _, r in measured)  # type: ignore[arg-type]
    epochs = tuple(statistics.median(r.epoch_s) for _, r in measured)
    baselines = [r.baseline_rss_mb for _, r in measured if r.baseline_rss_mb is not None]
    return ScenarioGrowth(
        name=name,
        sizes=sizes,
        peak_rss_mb=memory,
        epoch_s=epochs,
        baseline_rss_mb=statistics.median(baselines) if baselines else None,
        memory=fit_memory(sizes, memory) if sizes else None,
        epoch=fit_epoch_time(sizes, epochs) if sizes else None,
        idle_fraction=measured[-1][1].idle_fraction if measured else None,
        memory_grows_with_data=grows,
        disk_grows_with_data=disk,
        data_usable=usable and bool(measured),
        not_measured=tuple(not_measured),
    )


def fit_memory(sizes: Sequence[int], peaks_mib: Sequence[float]) -> Fit:
    return fit_growth(sizes, peaks_mib, MEMORY_MIN_CHANGE_MIB, MEMORY_FLOOR_MIB, MEMORY_TOLERANCE)


def fit_epoch_time(sizes: Sequence[int], epochs_s: Sequence[float]) -> Fit:
    min_change = max(EPOCH_MIN_CHANGE_S, EPOCH_MIN_CHANGE_SHARE * max(epochs_s))
    return fit_growth(sizes, epochs_s, min_change, EPOCH_FLOOR_S, EPOCH_TOLERANCE)


def predict(growth: ScenarioGrowth, target_samples: int, budget_mib: float, sample_bytes: int = 0) -> Prediction:
    """The scenario's peak memory and epoch time at ``target_samples``, or why they cannot be told.

    ``sample_bytes``: one decoded sample, for the disk a strategy that writes the dataset needs.
    """
    disk = target_samples * sample_bytes / MIB if growth.disk_grows_with_data and sample_bytes else None
    base = Prediction(growth.name, target_samples, idle_fraction=growth.idle_fraction, disk_mib=disk)
    if growth.memory is None or growth.epoch is None:
        reasons = "; ".join(f"{size:,}: {status}" for size, status, _ in growth.not_measured)
        return replace(base, problem=f"no size was measured ({reasons or 'no result'})")
    problem = growth.memory.unreliable_reason()
    if problem is not None:
        return replace(base, problem=f"memory {problem}")
    problem = growth.epoch.unreliable_reason()
    if problem is not None:
        return replace(base, problem=f"epoch time {problem}")
    peak = (growth.baseline_rss_mb or 0.0) + max(growth.memory.predict(target_samples), 0.0)
    epoch = max(growth.epoch.predict(target_samples), 0.0)
    return replace(
        base,
        peak_mib=peak,
        epoch_s=epoch,
        fits=peak <= budget_mib,
        long_reach=target_samples > LONG_REACH * max(growth.sizes),
    )


def advise(
    predictions: Sequence[Prediction], usable: set[str], budget_mib: float, step_ms: float, at_step: str | None = None
) -> TargetAdvice:
    """The fastest strategy that fits and keeps the step busy at the target size, with the reason."""
    at = at_step or f"at {step_ms:g} ms/step"
    if not predictions:
        return TargetAdvice(None, "nothing was measured")
    target = predictions[0].target_samples
    where = f"at {target:,} samples in a {budget_mib:,.0f} MiB budget"
    rated = [p for p in predictions if p.name in usable and p.idle_fraction is not None]
    known = [p for p in rated if p.problem is None]
    fitting = [p for p in known if p.fits]
    unknown = [p for p in rated if p.problem is not None]
    if not fitting:
        if known:
            smallest = min(known, key=lambda p: p.peak_mib or 0.0)
            reason = (
                f"no strategy is predicted to fit {where}; the smallest, {smallest.name}, needs "
                f"{smallest.peak_mib:,.0f} MiB"
            )
        else:
            reason = f"no strategy's growth could be extrapolated {where}"
        if unknown:
            reason += f"; {_unknown_text(unknown)}"
        return TargetAdvice(None, reason)
    least_idle = min(p.idle_fraction for p in fitting)  # type: ignore[type-var]
    keeps_up = least_idle < MODERATELY_INPUT_BOUND_AT
    cut = max(least_idle + _IDLE_TIE, MODERATELY_INPUT_BOUND_AT) if keeps_up else least_idle + _IDLE_TIE
    busy = sorted((p for p in fitting if p.idle_fraction <= cut), key=lambda p: p.epoch_s)  # type: ignore[operator, arg-type, return-value]
    best = busy[0]
    others = busy[1:] + sorted(
        (p for p in fitting if p not in busy), key=lambda p: (p.idle_fraction, p.epoch_s)
    )
    what = "the fastest strategy predicted to fit" if keeps_up else "of those predicted to fit, the one waiting least"
    reason = (
        f"{what} {where}: {best.peak_mib:,.0f} MiB peak, {seconds(best.epoch_s)} per epoch flat out, "
        f"{best.idle_fraction:.1%} idle {at}"
    )
    if not keeps_up:
        reason += f" (none keeps the step busy {at}: add decode workers or store pre-decoded data)"
    if best.disk_mib is not None:
        reason += f"; it writes the decoded dataset to disk, about {best.disk_mib:,.0f} MiB at that size"
    faster = [
        p for p in known
        if not p.fits and (p.epoch_s or 0.0) < (best.epoch_s or 0.0) and (p.idle_fraction or 1.0) <= cut
    ]
    if faster:
        quickest = min(faster, key=lambda p: p.epoch_s)  # type: ignore[arg-type, return-value]
        reason += (
            f"; {quickest.name} would be faster ({seconds(quickest.epoch_s)}) but needs {quickest.peak_mib:,.0f} MiB"
        )
    if unknown:
        reason += f"; {_unknown_text(unknown)}"
    if best.long_reach:
        reason += f"; the target is over {LONG_REACH:g} times the largest size measured, so these are estimates"
    return TargetAdvice(best.name, reason, others[0].name if others else None)


def seconds(value: float | None) -> str:
    """Three significant figures: epochs of a sample dataset last from milliseconds to minutes."""
    if value is None:
        return "-"
    return f"{value:,.0f} s" if value >= 100 else f"{value:.3g} s"


def _unknown_text(unknown: Sequence[Prediction]) -> str:
    first = unknown[0]
    more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
    return f"not predicted: {first.name}{more}, whose {first.problem}"


def forecast_peak(runs: Sequence[RunResult], name: str, samples: int) -> MemoryForecast | None:
    """The scenario's whole-tree peak at ``samples`` from the smaller sizes already measured."""
    growth = _growth(name, runs)
    if not growth.sizes or growth.baseline_rss_mb is None:
        return None
    largest = growth.sizes[-1]
    if len(set(growth.sizes)) == 1:
        peak = growth.peak_rss_mb[-1]
        if growth.memory_grows_with_data:
            peak = peak * samples / largest
            basis = f"its growth at {largest:,} samples scaled to {samples:,}"
        else:
            basis = f"as measured at {largest:,} samples"
        return MemoryForecast(growth.baseline_rss_mb + peak, basis)
    assert growth.memory is not None
    predicted = growth.memory.predict(samples)
    if growth.memory.model != LINEAR:
        predicted = max(growth.peak_rss_mb)
    basis = f"fitted as {growth.memory.model} on {len(growth.sizes)} sizes up to {largest:,} samples"
    return MemoryForecast(growth.baseline_rss_mb + predicted, basis)


@dataclass(frozen=True)
class SweepResult:
    metadata: dict[str, Any]
    options: dict[str, Any]  # run settings, scenarios and sizes
    data: dict[str, Any]  # the data spec, without its size
    runs: tuple[RunResult, ...] = ()  # one per size measured, ascending
    created: str = ""
    ceiling: dict[str, Any] | None = None
    target_samples: int | None = None
    memory_budget_mb: float = 0.0
    budget_basis: str = ""
    interrupted: bool = False

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.options.get("sizes", ()))

    @property
    def step_ms(self) -> float:
        return float(self.options.get("step_ms", 0.0))

    def growths(self) -> list[ScenarioGrowth]:
        return growths(self.runs)

    def predictions(self) -> list[Prediction]:
        return self._predictions(self.growths())

    def advice(self) -> TargetAdvice | None:
        growths_ = self.growths()
        return self._advice(growths_, self._predictions(growths_))

    def _predictions(self, growths_: list[ScenarioGrowth]) -> list[Prediction]:
        if self.target_samples is None:
            return []
        data = self.data
        sample_bytes = 4 * int(data.get("height", 0)) * int(data.get("width", 0)) * int(data.get("channels", 0))
        return [predict(g, self.target_samples, self.memory_budget_mb, sample_bytes) for g in growths_]

    def _advice(self, growths_: list[ScenarioGrowth], predictions: list[Prediction]) -> TargetAdvice | None:
        if self.target_samples is None:
            return None
        usable = {g.name for g in growths_ if g.data_usable}
        return advise(predictions, usable, self.memory_budget_mb, self.step_ms, idle_condition(self.options))

    def to_dict(self) -> dict[str, Any]:
        growths_ = self.growths()  # derived from the runs: computed once here
        predictions = self._predictions(growths_)
        advice = self._advice(growths_, predictions)
        return {
            "format_version": FORMAT_VERSION,
            "kind": KIND_SWEEP,
            "created": self.created,
            "metadata": self.metadata,
            "options": self.options,
            "data": self.data,
            "interrupted": self.interrupted,
            "ceiling": self.ceiling,
            "target_samples": self.target_samples,
            "memory_budget_mb": self.memory_budget_mb,
            "budget_basis": self.budget_basis,
            # Derived from the runs below, written out for readers of the file; recomputed on load.
            "fits": [
                {
                    "name": g.name,
                    "sizes": list(g.sizes),
                    "memory": g.memory.to_dict() if g.memory else None,
                    "epoch_s": g.epoch.to_dict() if g.epoch else None,
                    "baseline_rss_mb": g.baseline_rss_mb,
                }
                for g in growths_
            ],
            "predictions": [p.to_dict() for p in predictions],
            "advice": advice.to_dict() if advice else None,
            "runs": [run.to_dict() for run in self.runs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepResult:
        target = data.get("target_samples")
        return cls(
            metadata=dict(data.get("metadata") or {}),
            options=dict(data.get("options") or {}),
            data=dict(data.get("data") or {}),
            runs=tuple(RunResult.from_dict(run) for run in data.get("runs") or ()),
            created=str(data.get("created", "")),
            ceiling=data.get("ceiling"),
            target_samples=None if target is None else int(target),
            memory_budget_mb=float(data.get("memory_budget_mb", 0.0)),
            budget_basis=str(data.get("budget_basis", "")),
            interrupted=bool(data.get("interrupted", False)),
        )


def save_sweep(sweep: SweepResult, path: Path) -> None:
    write_json(sweep.to_dict(), path)


def load_sweep(path: Path) -> SweepResult:
    data = read_results_json(path)
    if results_kind(data) != KIND_SWEEP:
        raise ProfilerError(f"'{path}' is not a sweep: pass a sweep.json written by 'profiler sweep'")
    try:
        return SweepResult.from_dict(data)
    except (TypeError, KeyError, ValueError) as error:
        raise ProfilerError(f"'{path}' is malformed ({error}): pass an unmodified sweep.json") from None


def default_budget() -> tuple[float, str]:
    available = available_memory_mib()
    budget = available * DEFAULT_BUDGET_SHARE
    return budget, f"{DEFAULT_BUDGET_SHARE:.0%} of the {available:,.0f} MiB available when the sweep started"


PrepareData = Callable[[DataSpec], DataSource]
ResultCallback = Callable[[int, ScenarioResult], None]


def measure_sweep(
    sweep: SweepResult,
    names: Sequence[str],
    spec: DataSpec,
    settings: RunSettings,
    prepare: PrepareData,
    save: Callable[[SweepResult], None],
    log_dir: Path | None = None,
    on_phase: Callable[[int, str, str], None] | None = None,
    on_result: ResultCallback | None = None,
    available_mib: Callable[[], float] = available_memory_mib,
) -> SweepResult:
    """Measure ``names`` at each of ``sweep.sizes``, smallest first; ``save`` is called after each result.

    Ctrl-C ends the sweep with what was measured, marked interrupted.
    """
    phase = on_phase or (lambda size, name, text: None)
    try:
        for size in sorted(sweep.sizes):
            source = prepare(replace(spec, samples=size))
            run = RunResult(
                metadata=sweep.metadata,
                options={**sweep.options, "scenarios": list(names)},
                data={**source.spec.to_dict(), "description": source.spec.describe(), "path": str(source.root)},
                expected_fingerprint=dataset_fingerprint(source, settings.batch_size),
                created=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                ceiling=sweep.ceiling,
            )
            earlier = sweep.runs
            folder = None if log_dir is None else log_dir / str(size)
            with Runner(source, settings, folder, lambda n, p, s=size: phase(s, n, p), available_mib) as runner:
                for name in names:
                    forecast = forecast_peak(earlier, name, size)
                    result = runner.run(name, None, forecast)
                    result = result.with_reference(run.expected_fingerprint)
                    result = result.with_ceiling((sweep.ceiling or {}).get("samples_per_s"))
                    run = with_results(run, (*run.scenarios, result))
                    sweep = replace(sweep, runs=(*earlier, run), interrupted=runner.interrupted)
                    save(sweep)
                    if on_result is not None:
                        on_result(size, result)
                    if runner.interrupted:
                        return sweep
    except KeyboardInterrupt:
        sweep = replace(sweep, interrupted=True)
        save(sweep)
    return sweep
