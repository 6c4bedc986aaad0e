"""Runs each scenario in a fresh spawned worker, with a timeout, sampling its memory from outside."""

from __future__ import annotations

import hashlib
import shutil
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

from profiler.consumer import CONSUMER_KERAS, CONSUMER_SLEEP
from profiler.data import DataSource
from profiler.fingerprint import Fingerprint
from profiler.measure import EpochTiming, PacedEpoch, percentile
from profiler.memory import MIB, MemoryTrace
from profiler.results import STATUS_INTERRUPTED, STATUS_OK, STATUS_SKIPPED, ScenarioResult
from profiler.session import WorkerFailure, WorkerSession
from profiler.worker import ClosingReport, WorkerTask
from scenarios import Scenario, load

# The memory timeline kept in results is thinned to at most this many points, peaks preserved.
TIMELINE_POINTS = 400
PHASE_WARMUP = "warm-up epoch"
PHASE_VERIFY = "checking delivered data"

PhaseCallback = Callable[[str, str], None]


def available_memory_mib() -> float:
    """Memory the kernel can hand out now without swapping (MemAvailable), in MiB."""
    return psutil.virtual_memory().available / MIB


@dataclass(frozen=True)
class MemoryForecast:
    """A scenario's expected peak memory, whole process tree, before it runs."""

    peak_mib: float
    basis: str  # how it was predicted, in words, for the message when it is skipped


@dataclass(frozen=True)
class RunSettings:
    batch_size: int = 32
    workers: int = 2
    epochs: int = 3
    idle_epochs: int = 1
    step_ms: float = 20.0
    timeout_s: float = 300.0
    consumer: str = CONSUMER_SLEEP  # profiler.consumer.CONSUMERS
    # Read by the scenarios that need them, such as the data service's dispatcher address.
    scenario_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measurements:
    """What one worker delivered, filled in as it goes; a failure leaves the rest empty."""

    build_s: float | None = None
    warmup: EpochTiming | None = None
    epochs: list[EpochTiming] = field(default_factory=list)
    paced: list[PacedEpoch] = field(default_factory=list)
    fingerprint: dict[str, Any] | None = None
    closing: ClosingReport | None = None


class Runner:
    """Owns the scratch folder of a run; use as a context manager so it is always removed."""

    def __init__(
        self,
        source: DataSource | None,
        settings: RunSettings,
        log_dir: Path | None = None,
        on_phase: PhaseCallback | None = None,
        available_mib: Callable[[], float] = available_memory_mib,
    ) -> None:
        self.source = source
        self.available_mib = available_mib
        self.settings = settings
        self.log_dir = log_dir
        self.on_phase = on_phase or (lambda name, phase: None)
        self._scratch: Path | None = None
        self.interrupted = False

    def __enter__(self) -> Runner:
        self._scratch = Path(tempfile.mkdtemp(prefix="tf-pipeline-profiler-"))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def new_task(self, reference: str, arguments: dict[str, Any] | None = None) -> WorkerTask:
        """``arguments`` is None for a scenario, a dict (maybe empty) for a user's pipeline function."""
        if self._scratch is None:
            raise RuntimeError("Runner must be used as a context manager")
        name = reference.replace(":", "_").replace("/", "_")
        temp_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self._scratch))
        return WorkerTask(
            scenario=reference,
            source=self.source,
            batch_size=self.settings.batch_size,
            workers=self.settings.workers,
            temp_dir=temp_dir,
            log_path=temp_dir / "worker.log",
            pipeline_arguments=None if arguments is None else dict(arguments),
            options=dict(self.settings.scenario_options),
        )

    def run(
        self, reference: str, arguments: dict[str, Any] | None = None, forecast: MemoryForecast | None = None
    ) -> ScenarioResult:
        """Measure one scenario; failures, timeouts and Ctrl-C all come back as a result.

        After Ctrl-C the result has status "interrupted" and ``self.interrupted`` is set, so the
        caller stops starting new scenarios. A scenario whose ``forecast`` (or the decoded size of
        a dataset it holds whole) exceeds the memory available now is not started: the kernel
        would kill it, or the machine would swap, and the result says so.
        """
        scenario = load(reference, arguments)
        refusal = self.memory_refusal(scenario, forecast)
        if refusal is not None:
            return skipped_result(reference, scenario, refusal)
        task = self.new_task(reference, arguments)
        session = WorkerSession(task, self.settings.timeout_s, lambda phase: self.on_phase(reference, phase))
        measured = Measurements()
        status, error, trace = STATUS_OK, None, None
        try:
            with session:
                self._measure(session, measured)
        except WorkerFailure as failure:
            status, error, trace = failure.status, failure.error, failure.traceback
        except KeyboardInterrupt:
            status, error = STATUS_INTERRUPTED, "stopped by Ctrl-C"
            self.interrupted = True
        result = scenario_result(reference, scenario, session, measured, status, error)
        if status != STATUS_OK:
            result = self._with_kept_log(result, task.log_path, trace)
        shutil.rmtree(task.temp_dir, ignore_errors=True)
        return result

    def memory_refusal(self, scenario: Scenario, forecast: MemoryForecast | None) -> str | None:
        """Why the scenario must not start for lack of memory, or None when it may."""
        forecasts = [forecast] if forecast is not None else []
        if scenario.memory_grows_with_data and self.source is not None:
            spec = self.source.spec
            held = spec.samples * spec.sample_bytes / MIB
            forecasts.append(MemoryForecast(held, f"it holds the whole decoded dataset, {_mib(held)} MiB at least"))
        if not forecasts:
            return None
        largest = max(forecasts, key=lambda f: f.peak_mib)
        available = self.available_mib()
        if largest.peak_mib <= available:
            return None
        return (
            f"not started: its predicted peak of {_mib(largest.peak_mib)} MiB ({largest.basis}) exceeds the "
            f"{_mib(available)} MiB of memory available now, and the kernel would kill it; measure it on "
            "fewer --samples or free memory first"
        )

    def _measure(self, session: WorkerSession, measured: Measurements) -> None:
        settings = self.settings
        measured.build_s = session.build_s
        session.phase(PHASE_WARMUP)
        measured.warmup = session.epoch()
        for number in range(1, settings.epochs + 1):
            session.phase(f"epoch {number}/{settings.epochs} flat out")
            measured.epochs.append(session.epoch())
        step = "a Keras training step" if settings.consumer == CONSUMER_KERAS else f"{settings.step_ms:g} ms/step"
        for number in range(1, settings.idle_epochs + 1):
            session.phase(f"epoch {number}/{settings.idle_epochs} behind {step}")
            measured.paced.append(session.paced(settings.step_ms / 1000.0, settings.consumer))
        session.phase(PHASE_VERIFY)
        measured.fingerprint = session.fingerprint()
        measured.closing = session.close()

    def _with_kept_log(self, result: ScenarioResult, log_path: Path, traceback: str | None) -> ScenarioResult:
        """Keep a failed worker's output beside the results, and quote its last line if it crashed."""
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        error = result.error
        last = [line.strip() for line in text.splitlines() if line.strip()]
        if result.status not in (STATUS_OK, STATUS_INTERRUPTED) and last and traceback is None:
            error = f"{error}; last output: {last[-1][:200]}"
        kept = None
        if self.log_dir is not None:
            try:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                path = self.log_dir / f"{result.name.replace(':', '_')}.log"
                path.write_text(text + ("\n" + traceback if traceback else ""))
                kept = str(path)
            except OSError:
                kept = None
        return replace(result, error=error, log_path=kept)


def _mib(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _described(reference: str, scenario: Scenario, status: str, error: str | None) -> dict[str, Any]:
    """The fields of a result that come from the scenario itself, not from measuring it."""
    return dict(
        name=reference,
        status=status,
        error=error,
        summary=scenario.summary,
        description=scenario.description,
        memory_grows_with_data=scenario.memory_grows_with_data,
        disk_grows_with_data=scenario.disk_grows_with_data,
        pixels_may_differ=scenario.pixels_may_differ,
        source_hash=source_hash(scenario),
    )


def skipped_result(reference: str, scenario: Scenario, reason: str) -> ScenarioResult:
    return ScenarioResult(**_described(reference, scenario, STATUS_SKIPPED, reason))


def scenario_result(
    reference: str,
    scenario: Scenario,
    session: WorkerSession,
    measured: Measurements,
    status: str,
    error: str | None,
) -> ScenarioResult:
    """Combine what the worker measured with what the parent sampled into one result."""
    trace = session.trace
    values: dict[str, Any] = dict(
        _described(reference, scenario, status, error),
        wall_s=session.wall_s,
        rss_interval_ms=trace.rss_interval_ms,
        memory_timeline=thin_timeline(trace, session.started),
    )
    if session.baseline is not None:
        baseline_rss, baseline_pss, baseline_at = session.baseline
        peak_rss = trace.peak_rss_mib(since=baseline_at)
        peak_pss = trace.peak_pss_mib(since=baseline_at)
        values.update(
            baseline_rss_mb=baseline_rss,
            baseline_pss_mb=baseline_pss,
            peak_rss_mb=None if peak_rss is None else peak_rss - baseline_rss,
            peak_pss_mb=None if peak_pss is None else peak_pss - baseline_pss,
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
        ru_maxrss_mb=measured.closing.ru_maxrss_mib,
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
        fingerprint=Fingerprint.from_dict(measured.fingerprint) if measured.fingerprint else None,
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
        gpu_utilization=statistics.fmean(utilization) if utilization else None,
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
