"""What one worker measured, turned into a ScenarioResult: rates, idle, memory above the baseline.

The worker reports raw timings (``Measurements``); the parent's samplers report the memory trace.
Every figure of a result is derived here, once, from those two.
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass, field
from typing import Any

from profiler.fingerprint import Fingerprint
from profiler.measure import EpochTiming, PacedEpoch, percentile
from profiler.memory import MemoryTrace
from profiler.results import STATUS_OK, STATUS_SKIPPED, ScenarioResult
from profiler.scenario import Scenario
from profiler.worker import ClosingReport

# The memory timeline kept in results is thinned to at most this many points, peaks preserved.
TIMELINE_POINTS = 400


@dataclass
class Measurements:
    """What one worker delivered, filled in as it goes; a failure leaves the rest empty."""

    build_s: float | None = None
    warmup: EpochTiming | None = None
    epochs: list[EpochTiming] = field(default_factory=list)
    paced: list[PacedEpoch] = field(default_factory=list)
    fingerprint: Fingerprint | None = None
    closing: ClosingReport | None = None


@dataclass(frozen=True)
class MemorySeen:
    """The parent's view of the worker: its memory trace and the baseline it reported."""

    trace: MemoryTrace
    started: float  # unix time the worker started
    wall_s: float | None
    baseline: tuple[float, float, float] | None  # RSS MiB, PSS MiB, unix time


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
    )


def skipped_result(name: str, scenario: Scenario, reason: str) -> ScenarioResult:
    return ScenarioResult(**described(name, scenario, STATUS_SKIPPED, reason))


def scenario_result(
    name: str, scenario: Scenario, seen: MemorySeen, measured: Measurements, status: str, error: str | None
) -> ScenarioResult:
    """Combine what the worker measured with what the parent sampled into one result."""
    values: dict[str, Any] = dict(
        described(name, scenario, status, error),
        wall_s=seen.wall_s,
        rss_interval_ms=seen.trace.rss_interval_ms,
        memory_timeline=thin_timeline(seen.trace, seen.started),
    )
    if seen.baseline is not None:
        baseline_rss, baseline_pss, baseline_at = seen.baseline
        peak_rss = seen.trace.peak_rss_mib(since=baseline_at)
        peak_pss = seen.trace.peak_pss_mib(since=baseline_at)
        values.update(
            baseline_rss_mib=baseline_rss,
            baseline_pss_mib=baseline_pss,
            peak_rss_mib=None if peak_rss is None else peak_rss - baseline_rss,
            peak_pss_mib=None if peak_pss is None else peak_pss - baseline_pss,
        )
    if status == STATUS_OK:
        values.update(_measured_metrics(measured))
    return ScenarioResult(**values)


def _measured_metrics(measured: Measurements) -> dict[str, Any]:
    assert measured.warmup is not None and measured.build_s is not None and measured.closing is not None
    epochs = measured.epochs
    batch_rates = [e.batches / e.seconds for e in epochs if e.seconds > 0]
    sample_rates = [e.samples / e.seconds for e in epochs if e.seconds > 0]
    values: dict[str, Any] = dict(
        ru_maxrss_mib=measured.closing.ru_maxrss_mib,
        tf_data_options=measured.closing.tf_data_options,
        build_s=measured.build_s,
        # Both measured from the moment the pipeline started being built.
        first_batch_s=measured.build_s + measured.warmup.first_batch_s,
        warmup_epoch_s=measured.build_s + measured.warmup.seconds,
        epoch_s=tuple(e.seconds for e in epochs),
        batches_per_epoch=epochs[0].batches if epochs else None,
        samples_per_epoch=epochs[0].samples if epochs else None,
        batches_per_s=statistics.median(batch_rates) if batch_rates else None,
        samples_per_s=statistics.median(sample_rates) if sample_rates else None,
        batches_per_s_min=min(batch_rates) if batch_rates else None,
        batches_per_s_max=max(batch_rates) if batch_rates else None,
        cpu_s=statistics.median(e.cpu_s for e in epochs) if epochs else None,
        fingerprint=measured.fingerprint,
    )
    values.update(idle_metrics(measured.paced))
    return values


def idle_metrics(paced: list[PacedEpoch]) -> dict[str, Any]:
    """Idle figures in the steady state, with each epoch's first wait reported apart.

    The first batch of an epoch waits for iterator creation and an empty prefetch buffer, once
    per epoch: it weighs far more in a short sample epoch than at full dataset size.
    """
    starts = [epoch.waits_s[0] for epoch in paced if epoch.waits_s]
    pairs = [list(zip(epoch.waits_s, epoch.steps_s, strict=True)) for epoch in paced]
    steady = [pair for epoch in pairs for pair in epoch[1:]]
    if not steady:  # one batch per epoch: there is no steady state
        steady = [pair for epoch in pairs for pair in epoch]
    if not steady:
        return {}
    waits = [wait for wait, _ in steady]
    idle = sum(waits)
    compute = sum(step for _, step in steady)
    utilization = [epoch.gpu_utilization for epoch in paced if epoch.gpu_utilization is not None]
    return dict(
        idle_s=idle,
        compute_s=compute,
        idle_fraction=idle / (idle + compute) if idle + compute > 0 else None,
        wait_p50_ms=percentile(waits, 0.50) * 1000.0,
        wait_p95_ms=percentile(waits, 0.95) * 1000.0,
        wait_ms=tuple(round(wait * 1000.0, 3) for wait in waits),
        epoch_start_wait_ms=statistics.median(starts) * 1000.0 if starts else None,
        step_p50_ms=percentile([step for _, step in steady], 0.50) * 1000.0,
        step_device=paced[-1].device or None,
        gpu_utilization_percent=statistics.fmean(utilization) if utilization else None,
    )


def thin_timeline(trace: MemoryTrace, started: float) -> tuple[tuple[float, float], ...]:
    """At most TIMELINE_POINTS (seconds since start, MiB) points; each kept point is its bucket's peak."""
    samples = trace.rss
    if len(samples) <= TIMELINE_POINTS:
        chosen = list(samples)
    else:
        size = len(samples) / TIMELINE_POINTS
        chosen = [
            max(samples[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)], key=lambda s: s[1])
            for i in range(TIMELINE_POINTS)
        ]
    return tuple((round(stamp - started, 3), round(mib, 1)) for stamp, mib in chosen)


def source_hash(scenario: Scenario) -> str | None:
    """Hash of the code that defines the scenario, so results from changed code can be flagged."""
    text = scenario.source_text()
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()[:16]
