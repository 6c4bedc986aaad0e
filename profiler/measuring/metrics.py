"""What the workers measured, turned into one ScenarioResult: rates, idle, memory above the
baseline.

Each worker reports raw timings (``Measurements``, see profiler.measuring.procedure); the parent's
samplers report the memory trace (``MemorySeen``). Every figure of a result is derived here, once,
from those; with several processes their measurements are pooled: windows and steps together, the
highest memory peak, the median of the one-off timings.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from profiler.base.stats import idle_over_turns, median, percentile, pooled_median_interval
from profiler.measuring.procedure import FlatOut, Measurements, rates_kept, steady_turns
from profiler.results.records import STATUS_OK, STATUS_SKIPPED, RoleCpu, ScenarioResult
from profiler.strategy.scenario import TRAINER, Scenario
from profiler.system.memory import MemoryTrace
from profiler.worker.loops import WindowTiming

# The memory timeline kept in results is thinned to at most this many points, peaks preserved.
TIMELINE_POINTS = 400
# Whole flat-out epochs kept in results; epochs of a few samples end by the thousand.
MAX_EPOCHS = 400


@dataclass(frozen=True)
class MemorySeen:
    """The parent's view of one worker: its memory trace and the baseline it reported."""

    trace: MemoryTrace
    started: float  # unix time the worker started
    wall_s: float | None
    baseline: tuple[float, float, float] | None  # RSS MiB, PSS MiB, unix time


@dataclass(frozen=True)
class WorkerRun:
    """One worker of a target: what the parent saw and what the worker measured."""

    seen: MemorySeen
    measured: Measurements


def described(name: str, scenario: Scenario, status: str, error: str | None) -> dict[str, Any]:
    """The fields of a result that come from the scenario itself, not from measuring it."""
    return dict(
        name=name,
        status=status,
        error=error,
        summary=scenario.summary,
        description=scenario.description,
        memory_grows_with_data=scenario.memory_grows_with_data,
        disk_grows_with_data=scenario.disk_grows_with_data,
        pixels_may_differ=scenario.pixels_may_differ,
        source_hash=source_hash(scenario),
        snippet=scenario.snippet,
    )


def skipped_result(name: str, scenario: Scenario, reason: str) -> ScenarioResult:
    return ScenarioResult(**described(name, scenario, STATUS_SKIPPED, reason))


def scenario_result(
    name: str, scenario: Scenario, runs: Sequence[WorkerRun], status: str, error: str | None
) -> ScenarioResult:
    """Combine what the workers measured with what the parent sampled into one result."""
    first = runs[0].seen
    # the baseline is taken as the build starts
    build_at = None if first.baseline is None else first.baseline[2]
    walls = [run.seen.wall_s for run in runs if run.seen.wall_s is not None]
    values: dict[str, Any] = dict(
        described(name, scenario, status, error),
        wall_s=sum(walls) if walls else None,
        rss_interval_ms=first.trace.rss_interval_ms,
        memory_timeline=thin_timeline(first.trace, first.started, since=build_at),
        build_started_s=None if build_at is None else round(build_at - first.started, 3),
        processes=len(runs),
    )
    values.update(memory_metrics([run.seen for run in runs]))
    if status == STATUS_OK:
        values.update(_measured_metrics([run.measured for run in runs]))
    return ScenarioResult(**values)


def memory_metrics(seen: Sequence[MemorySeen]) -> dict[str, Any]:
    """Peaks above each worker's own baseline; the highest of them."""
    peaks_rss, peaks_pss, baselines = [], [], []
    for view in seen:
        if view.baseline is None:
            continue
        baseline_rss, baseline_pss, baseline_at = view.baseline
        baselines.append((baseline_rss, baseline_pss))
        peak_rss, peak_pss = (
            view.trace.peak_rss_mib(since=baseline_at),
            view.trace.peak_pss_mib(since=baseline_at),
        )
        if peak_rss is not None:
            peaks_rss.append(peak_rss - baseline_rss)
        if peak_pss is not None:
            peaks_pss.append(peak_pss - baseline_pss)
    if not baselines:
        return {}
    return dict(
        baseline_rss_mib=statistics.median(b[0] for b in baselines),
        baseline_pss_mib=statistics.median(b[1] for b in baselines),
        peak_rss_mib=max(peaks_rss) if peaks_rss else None,
        peak_pss_mib=max(peaks_pss) if peaks_pss else None,
    )


def _measured_metrics(measured: Sequence[Measurements]) -> dict[str, Any]:
    first = measured[0]
    assert first.warmup is not None and first.closing is not None
    builds = [m.build_s for m in measured if m.build_s is not None]
    warmups = [(m.build_s or 0.0, m.warmup) for m in measured if m.warmup is not None]
    values: dict[str, Any] = dict(
        ru_maxrss_mib=max(m.closing.ru_maxrss_mib for m in measured if m.closing is not None),
        tf_data_options=first.closing.tf_data_options,
        autotune=first.autotune,
        trace_files=tuple(path for m in measured for path in m.trace_files),
        build_s=statistics.median(builds),
        # Both measured from the moment the pipeline started being built.
        first_batch_s=statistics.median(build + warmup.first_batch_s for build, warmup in warmups),
        warmup_epoch_s=statistics.median(build + warmup.seconds for build, warmup in warmups),
        batches_per_epoch=first.warmup.batches,
        samples_per_epoch=first.warmup.samples,
        fingerprint=first.fingerprint,
        cpu_roles=cpu_roles([m.flat_out for m in measured if m.flat_out is not None]),
        service_workers=first.helpers.service_workers,
        other_busy_cores=other_busy_cores([m.flat_out for m in measured if m.flat_out is not None]),
    )
    values.update(rate_metrics(measured))
    values.update(idle_metrics(measured))
    return values


def rate_metrics(measured: Sequence[Measurements]) -> dict[str, Any]:
    """Median window rate with the interval of the median, epoch times and CPU per epoch, pooled."""
    phases = [m.flat_out for m in measured if m.flat_out is not None and m.flat_out.windows]
    if not phases:
        return {}
    kept: list[WindowTiming] = []
    rounds: list[int] = []
    per_process: list[list[float]] = []
    for phase in phases:  # each worker's own warm-up windows are left out before pooling
        cut = len(phase.windows) - len(rates_kept(phase.windows))
        own = phase.windows[cut:]
        kept += own
        if len(phase.rounds) == len(phase.windows):
            rounds += [-1 if number is None else number for number in phase.rounds[cut:]]
        per_process.append([w.samples_per_s for w in own])
    rates = [w.samples_per_s for w in kept]
    warmup = measured[0].warmup
    per_epoch = warmup.samples if warmup else 0
    # Batches per sample as an epoch has them: windows that do not hold whole epochs hold a partial
    # last batch now and then, which would pull the median and the range apart (a window of the
    # 4-sample last batch alone reads 1 batch in its time, its neighbours 1 of 32 samples).
    batches_per_sample = warmup.batches / warmup.samples if warmup and warmup.samples else 0.0
    return dict(
        samples_per_s=median(rates),
        samples_per_s_ci=pooled_median_interval(per_process),
        batches_per_s=median(rates) * batches_per_sample,
        batches_per_s_min=min(rates) * batches_per_sample,
        batches_per_s_max=max(rates) * batches_per_sample,
        window_samples_per_s=tuple(rates),
        turn_rounds=tuple(rounds) if len(rounds) == len(rates) else (),
        window_batches=phases[0].window_batches,
        warmup_windows=sum(len(phase.windows) for phase in phases) - len(kept),
        rate_capped=any(phase.capped for phase in phases),
        epoch_s=tuple(e for phase in phases for e in _epoch_times(phase.windows)),
        cpu_s=_cpu_per_epoch(phases, per_epoch),
    )


def cpu_roles(phases: Sequence[FlatOut]) -> tuple[RoleCpu, ...]:
    """Each role's CPU per sample over the flat-out phases that split it, the trainer first."""
    read = [phase for phase in phases if phase.cpu_by_role_s and phase.samples]
    if not read:
        return ()
    samples = sum(phase.samples for phase in read)
    spent: dict[str, float] = {TRAINER: 0.0}
    for phase in read:
        for role, seconds in phase.cpu_by_role_s.items():
            spent[role] = spent.get(role, 0.0) + seconds
    return tuple(RoleCpu(role, seconds / samples * 1e6) for role, seconds in spent.items())


def other_busy_cores(phases: Sequence[FlatOut]) -> float | None:
    """Cores busy with other processes than the pipeline's over the flat-out phases, on average."""
    read = [p for p in phases if p.busy_cpu_s is not None and p.cpu_s is not None and p.wall_s]
    if not read:
        return None
    others = sum((p.busy_cpu_s or 0.0) - (p.cpu_s or 0.0) for p in read) / sum(
        p.wall_s or 0.0 for p in read
    )
    return max(0.0, others)


def _cpu_per_epoch(phases: list[FlatOut], per_epoch: int) -> float | None:
    """Tree CPU seconds for an epoch's samples, over every flat-out phase that was read."""
    read = [phase for phase in phases if phase.cpu_s is not None and phase.samples]
    if not read or not per_epoch:
        return None
    return (
        sum(phase.cpu_s or 0.0 for phase in read) / sum(phase.samples for phase in read) * per_epoch
    )


def _epoch_times(windows: tuple[WindowTiming, ...]) -> tuple[float, ...]:
    """Whole epochs of the flat-out stream, at most MAX_EPOCHS.

    An epoch's end is seen when the next batch is asked for, so the epoch still running when the
    last window ends is not among them; nor are the epochs of a window that ended more of them than
    it could keep stamps for.
    """
    durations: list[float] = []
    # A window that began mid-epoch (calibrating a window shorter than an epoch) starts no epoch.
    previous: float | None = windows[0].started if windows and windows[0].began_epoch else None
    for window in windows:
        for end in window.epoch_ends:
            # An end stamped before the one it follows would be an epoch of no time or less,
            # which no results file may hold: the epoch is left out instead.
            if previous is not None and end > previous:
                durations.append(end - previous)
            previous = end
        if window.epochs_ended > len(window.epoch_ends):
            previous = None  # stamps were dropped: the next end does not follow this one
    return tuple(durations[:MAX_EPOCHS])


def idle_metrics(measured: Sequence[Measurements]) -> dict[str, Any]:
    """Idle figures in the steady state, above the fetch floor, with each epoch's first wait apart.

    The first batch of an epoch waits for iterator creation and an empty prefetch buffer, once
    per epoch: it weighs far more in a short sample epoch than at full dataset size.
    """
    paced = [block for m in measured for block in m.paced]
    turns = steady_turns(paced)
    if not any(w for w, _ in turns):  # one batch per epoch: there is no steady state
        turns = [(list(block.waits_s), list(block.steps_s)) for block in paced]
    waits = [w for turn, _ in turns for w in turn]
    steps = [s for _, turn in turns for s in turn]
    if not waits:
        return {}
    floor = [w for m in measured for block in m.floor for w in block.waits_s]
    starts = [
        w
        for block in paced
        for w, first in zip(block.waits_s, block.epoch_starts, strict=True)
        if first
    ]
    idle, interval = idle_over_turns(turns, floor)
    raw, _ = idle_over_turns(turns)
    utilization = [
        block.gpu_utilization_percent
        for block in paced
        if block.gpu_utilization_percent is not None
    ]
    return dict(
        idle_s=sum(waits),
        compute_s=sum(steps),
        idle_fraction=idle,
        idle_fraction_ci=interval,
        idle_fraction_raw=raw,
        fetch_floor_ms=statistics.fmean(floor) * 1000.0 if floor else None,
        idle_capped=any(m.idle_capped for m in measured),
        wait_p50_ms=percentile(waits, 0.50) * 1000.0,
        wait_p95_ms=percentile(waits, 0.95) * 1000.0,
        wait_ms=tuple(round(wait * 1000.0, 3) for wait in waits),
        epoch_start_wait_ms=statistics.median(starts) * 1000.0 if starts else None,
        step_p50_ms=percentile(steps, 0.50) * 1000.0,
        step_device=paced[-1].device or None,
        gpu_utilization_percent=statistics.fmean(utilization) if utilization else None,
    )


def thin_timeline(
    trace: MemoryTrace, started: float, since: float | None = None
) -> tuple[tuple[float, float], ...]:
    """At most TIMELINE_POINTS (seconds since start, MiB) points from ``since`` (the baseline, where
    the pipeline's build begins: the import before it is the same for every target); each kept point
    is its bucket's peak."""
    samples = [s for s in trace.rss if since is None or s[0] >= since]
    if len(samples) <= TIMELINE_POINTS:
        chosen = list(samples)
    else:
        size = len(samples) / TIMELINE_POINTS
        chosen = [
            max(
                samples[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)],
                key=lambda s: s[1],
            )
            for i in range(TIMELINE_POINTS)
        ]
    return tuple((round(stamp - started, 3), round(mib, 1)) for stamp, mib in chosen)


def source_hash(scenario: Scenario) -> str | None:
    """Hash of the code that defines the scenario, so results from changed code can be flagged."""
    text = scenario.source_text()
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()[:16]
