"""Runs each scenario in a fresh spawned worker, with a timeout, sampling its memory from outside."""

from __future__ import annotations

import hashlib
import inspect
import multiprocessing
import shutil
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from profiler.data import DataSource
from profiler.fingerprint import Fingerprint
from profiler.measure import percentile
from profiler.memory import MemoryTrace, TreeMemorySampler, kill_tree
from profiler.results import (
    STATUS_CRASHED,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    STATUS_TIMEOUT,
    ScenarioResult,
)
from profiler.worker import WorkerReport, WorkerTask, worker_main
from scenarios import Scenario, resolve

# The memory timeline kept in results is thinned to at most this many points, peaks preserved.
TIMELINE_POINTS = 400
_POLL_S = 0.05
_EXIT_GRACE_S = 30.0

PhaseCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class RunSettings:
    batch_size: int = 32
    workers: int = 2
    epochs: int = 5
    idle_epochs: int = 2
    step_ms: float = 20.0
    timeout_s: float = 300.0


class Runner:
    """Owns the scratch folder of a run; use as a context manager so it is always removed."""

    def __init__(
        self,
        source: DataSource,
        settings: RunSettings,
        log_dir: Path | None = None,
        on_phase: PhaseCallback | None = None,
    ) -> None:
        self.source = source
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

    def run(self, reference: str) -> ScenarioResult:
        """Measure one scenario; failures, timeouts and Ctrl-C all come back as a result.

        After Ctrl-C the result has status "interrupted" and ``self.interrupted`` is set, so the
        caller stops starting new scenarios.
        """
        if self._scratch is None:
            raise RuntimeError("Runner must be used as a context manager")
        scenario = resolve(reference)
        temp_dir = Path(tempfile.mkdtemp(prefix=f"{scenario.name}-", dir=self._scratch))
        log_path = temp_dir / "worker.log"
        task = WorkerTask(
            scenario=reference,
            source=self.source,
            batch_size=self.settings.batch_size,
            workers=self.settings.workers,
            epochs=self.settings.epochs,
            idle_epochs=self.settings.idle_epochs,
            step_s=self.settings.step_ms / 1000.0,
            temp_dir=temp_dir,
            log_path=log_path,
        )
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=worker_main, args=(task, sender), name=f"profiler-{scenario.name}"
        )
        started = time.time()
        process.start()
        sender.close()  # keep only the worker's end open, so its death reads as EOF here
        sampler = TreeMemorySampler(process.pid).start()
        outcome = _Outcome()
        try:
            self._follow(reference, process, receiver, started, outcome)
        except KeyboardInterrupt:
            outcome.status, outcome.error = STATUS_INTERRUPTED, "stopped by Ctrl-C"
            self.interrupted = True
        with _sigint_ignored():  # a second Ctrl-C must not cut the cleanup short
            if outcome.status == STATUS_OK:
                process.join(_EXIT_GRACE_S)
            kill_tree(sampler.processes())
            process.join(5)
            trace = sampler.stop()
            receiver.close()
            outcome.wall_s = time.time() - started
            result = self._result(scenario, reference, outcome, trace, started, log_path)
            shutil.rmtree(temp_dir, ignore_errors=True)
        return result

    def _follow(
        self,
        reference: str,
        process: multiprocessing.process.BaseProcess,
        receiver: multiprocessing.connection.Connection,
        started: float,
        outcome: _Outcome,
    ) -> None:
        deadline = started + self.settings.timeout_s
        while True:
            if receiver.poll(_POLL_S):
                try:
                    message = receiver.recv()
                except EOFError:
                    outcome.status, outcome.error = STATUS_CRASHED, _death_reason(process)
                    return
                kind = message[0]
                if kind == "phase":
                    outcome.phases.append((message[1], message[2] - started))
                    self.on_phase(reference, message[1])
                elif kind == "baseline":
                    outcome.baseline = (message[1], message[2], message[3])
                elif kind == "result":
                    outcome.status, outcome.error, outcome.report = STATUS_OK, None, message[1]
                    return
                elif kind == "error":
                    outcome.status, outcome.error, outcome.traceback = STATUS_FAILED, message[1], message[2]
                    return
            elif not process.is_alive() and not receiver.poll(0):
                outcome.status, outcome.error = STATUS_CRASHED, _death_reason(process)
                return
            if time.time() > deadline:
                last_phase = outcome.phases[-1][0] if outcome.phases else "starting"
                outcome.status = STATUS_TIMEOUT
                outcome.error = (
                    f"no result within --timeout {self.settings.timeout_s:g} s (last phase: "
                    f"{last_phase}); raise --timeout or use smaller data"
                )
                return

    def _result(
        self,
        scenario: Scenario,
        reference: str,
        outcome: _Outcome,
        trace: MemoryTrace,
        started: float,
        log_path: Path,
    ) -> ScenarioResult:
        kept_log = None
        if outcome.status != STATUS_OK:
            kept_log = self._keep_log(scenario.name, log_path, outcome)
            if outcome.status == STATUS_CRASHED and log_path.exists():
                last = _last_line(log_path)
                if last:
                    outcome.error = f"{outcome.error}; last output: {last}"
        common = dict(
            name=reference,
            status=outcome.status,
            error=outcome.error,
            summary=scenario.summary,
            description=scenario.description,
            memory_grows_with_data=scenario.memory_grows_with_data,
            source_hash=scenario_source_hash(scenario),
            wall_s=outcome.wall_s,
            rss_interval_ms=trace.rss_interval_ms,
            memory_timeline=thin_timeline(trace, started),
            log_path=kept_log,
        )
        if outcome.baseline is not None:
            baseline_rss, baseline_pss, baseline_at = outcome.baseline
            peak_rss = trace.peak_rss_mib(since=baseline_at)
            peak_pss = trace.peak_pss_mib(since=baseline_at)
            common.update(
                baseline_rss_mb=baseline_rss,
                baseline_pss_mb=baseline_pss,
                peak_rss_mb=None if peak_rss is None else peak_rss - baseline_rss,
                peak_pss_mb=None if peak_pss is None else peak_pss - baseline_pss,
            )
        if outcome.report is None:
            return ScenarioResult(**common)
        return ScenarioResult(**common, **_report_metrics(outcome.report))

    def _keep_log(self, name: str, log_path: Path, outcome: _Outcome) -> str | None:
        if self.log_dir is None:
            return None
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            kept = self.log_dir / f"{name.replace(':', '_')}.log"
            text = log_path.read_text(errors="replace") if log_path.exists() else ""
            if outcome.traceback:
                text += "\n" + outcome.traceback
            kept.write_text(text)
            return str(kept)
        except OSError:
            return None


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Outcome:
    """What the parent learned from one worker, filled in as messages arrive."""

    def __init__(self) -> None:
        self.status = STATUS_CRASHED
        self.error: str | None = "worker ended without a report"
        self.traceback: str | None = None
        self.report: WorkerReport | None = None
        self.baseline: tuple[float, float, float] | None = None
        self.phases: list[tuple[str, float]] = []
        self.wall_s: float | None = None


def _report_metrics(report: WorkerReport) -> dict[str, object]:
    epochs = report.epochs
    batch_rates = [e.batches / e.seconds for e in epochs if e.seconds > 0]
    sample_rates = [e.samples / e.seconds for e in epochs if e.seconds > 0]
    # Steady state excludes each epoch's first batch: its wait (iterator creation, an empty
    # prefetch buffer) is paid once per epoch, so it weighs far more in a short sample epoch than
    # at full dataset size. It is reported on its own.
    starts = [epoch.waits_s[0] for epoch in report.paced if epoch.waits_s]
    pairs = [list(zip(epoch.waits_s, epoch.steps_s, strict=True)) for epoch in report.paced]
    steady = [pair for epoch in pairs for pair in epoch[1:]]
    if not steady:  # one batch per epoch: there is no steady state
        steady = [pair for epoch in pairs for pair in epoch]
    waits = [w for w, _ in steady]
    idle = sum(waits)
    compute = sum(s for _, s in steady)
    return dict(
        ru_maxrss_mb=report.ru_maxrss_mib,
        build_s=report.build_s,
        first_batch_s=report.first_batch_s,
        warmup_epoch_s=report.warmup_epoch_s,
        epoch_s=tuple(e.seconds for e in epochs),
        batches_per_epoch=epochs[0].batches if epochs else None,
        samples_per_epoch=epochs[0].samples if epochs else None,
        batches_per_s=statistics.median(batch_rates) if batch_rates else None,
        samples_per_s=statistics.median(sample_rates) if sample_rates else None,
        batches_per_s_min=min(batch_rates) if batch_rates else None,
        batches_per_s_max=max(batch_rates) if batch_rates else None,
        cpu_s=statistics.median(e.cpu_s for e in epochs) if epochs else None,
        idle_s=idle if waits else None,
        compute_s=compute if waits else None,
        idle_fraction=idle / (idle + compute) if waits and idle + compute > 0 else None,
        wait_p50_ms=percentile(waits, 0.50) * 1000.0 if waits else None,
        wait_p95_ms=percentile(waits, 0.95) * 1000.0 if waits else None,
        wait_ms=tuple(round(wait * 1000.0, 3) for wait in waits),
        epoch_start_wait_ms=statistics.median(starts) * 1000.0 if starts else None,
        fingerprint=Fingerprint.from_dict(report.fingerprint),
        tf_data_options=report.tf_data_options,
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


def scenario_source_hash(scenario: Scenario) -> str | None:
    """Hash of the module that defines the scenario, so results from changed code can be flagged."""
    try:
        source = inspect.getsource(inspect.getmodule(type(scenario)))  # type: ignore[arg-type]
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _death_reason(process: multiprocessing.process.BaseProcess) -> str:
    process.join(1)
    code = process.exitcode
    if code is None:
        return "worker closed its pipe without a result"
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (the kernel's out-of-memory killer sends this)" if code == -signal.SIGKILL else ""
        return f"worker killed by {name}{hint}"
    return f"worker exited with code {code} without a result"


def _last_line(path: Path) -> str | None:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return None
    return lines[-1][:200] if lines else None
