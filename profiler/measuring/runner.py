"""Runs each target in a fresh spawned worker, with a timeout, sampling its memory from outside."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import psutil

from profiler.analysis.forecast import MemoryForecast
from profiler.base.settings import MeasureSettings, Target
from profiler.base.units import MIB
from profiler.data.dataset_cache import DISK_MARGIN_BYTES
from profiler.data.synthetic import DataSource
from profiler.measuring.metrics import MemorySeen, WorkerRun, scenario_result, skipped_result
from profiler.measuring.procedure import Measurements, WindowDriver, measure, until_precise
from profiler.measuring.worker_session import WorkerFailure, WorkerSession
from profiler.results.records import STATUS_INTERRUPTED, STATUS_OK, ScenarioResult
from profiler.strategy.registry import entry_point_of, load
from profiler.strategy.scenario import Scenario
from profiler.system.scratch import SCRATCH_PREFIX, owned_folder, release, remove_abandoned
from profiler.system.stopping import stop_reason
from profiler.worker.main import WorkerTask

PhaseCallback = Callable[[str, str], None]


def available_memory_mib() -> float:
    """Memory the kernel can hand out now without swapping (MemAvailable), in MiB."""
    return psutil.virtual_memory().available / MIB


def files_mib(folder: Path, leave_out: Path) -> float:
    """MiB of the files under ``folder`` (what a scenario wrote to its scratch folder), its log left
    out."""
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and path != leave_out:
                total += path.stat().st_size
        except OSError:
            continue  # removed while walking: it is no longer on the disk
    return total / MIB


class Turn(NamedTuple):
    """One worker's turn: the target, its memory forecast, and which of its processes this is."""

    target: Target
    forecast: MemoryForecast | None
    process: int


class EarlyWorker(NamedTuple):
    """A worker started ahead of its turn, importing TensorFlow while the one before finishes."""

    target: Target
    process: int
    session: WorkerSession


class Runner:
    """Owns the scratch folder of a run; use as a context manager so it is always removed."""

    def __init__(
        self,
        source: DataSource | None,
        settings: MeasureSettings,
        log_dir: Path | None = None,
        on_phase: PhaseCallback | None = None,
        available_mib: Callable[[], float] = available_memory_mib,
        on_warning: PhaseCallback | None = None,
        trace_dir: Path | None = None,
    ) -> None:
        self.source = source
        self.trace_dir = (
            trace_dir  # each target's TensorBoard profile goes into a folder of its own here
        )
        self.available_mib = available_mib
        self.settings = settings
        self.log_dir = log_dir
        self.on_phase = on_phase or (lambda name, phase: None)
        self.on_warning = on_warning or (lambda name, text: None)
        self._scratch: Path | None = None
        self._early: EarlyWorker | None = None  # a worker started ahead of its turn
        self.interrupted = False

    def __enter__(self) -> Runner:
        remove_abandoned(tempfile.gettempdir(), SCRATCH_PREFIX)  # left by a run that was killed
        self._scratch = owned_folder(tempfile.gettempdir(), SCRATCH_PREFIX)
        return self

    def __exit__(self, *exc_info: object) -> None:
        early, self._early = self._early, None
        if early is not None:  # started for a target that never came: it must not outlive the run
            early.session.__exit__()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            release(self._scratch)
            self._scratch = None

    def new_task(self, target: Target) -> WorkerTask:
        if self._scratch is None:
            raise RuntimeError("Runner must be used as a context manager")
        temp_dir = Path(tempfile.mkdtemp(prefix=f"{target.file_name}-", dir=self._scratch))
        return WorkerTask(
            target=target,
            source=self.source,
            batch_size=self.settings.batch_size,
            workers=self.settings.workers,
            temp_dir=temp_dir,
            log_path=temp_dir / "worker.log",
            service=self.settings.service,
            entry_point=None if target.is_pipeline else entry_point_of(target.reference),
            timeout_s=self.settings.timeout_s,
            cold=self.settings.cold,
            # A user's pipeline brings its own order and augmentation.
            shuffle_buffer=0 if target.is_pipeline else self.settings.shuffle_buffer,
            trace_dir=None if self.trace_dir is None else self.trace_dir / target.file_name,
        )

    def run(
        self,
        target: Target,
        forecast: MemoryForecast | None = None,
        driver: WindowDriver = until_precise,
        following: tuple[Target, MemoryForecast | None] | None = None,
    ) -> ScenarioResult:
        """Measure one target in ``settings.processes`` fresh workers, one after another, pooled.

        Failures, timeouts and Ctrl-C all come back as a result. After Ctrl-C the result has
        status "interrupted" and ``self.interrupted`` is set, so the caller stops starting new
        targets. A target whose ``forecast`` (or the decoded size of a dataset it holds whole)
        exceeds the memory available now is not started: the kernel would kill it, or the machine
        would swap, and the result says so. ``following`` is the target measured next: its worker
        starts importing TensorFlow once this one has nothing more to time.
        """
        scenario = load(target)
        cannot = (
            None
            if target.is_pipeline or self.source is None
            else scenario.cannot_serve(self.source.spec)
        )
        cannot = cannot or scenario.cannot_measure(self.settings)
        refusal = cannot or self.memory_refusal(scenario, forecast) or self.disk_refusal(scenario)
        if refusal is not None:
            return skipped_result(target.name, scenario, refusal)
        runs: list[WorkerRun] = []
        status, error, trace, log_path = STATUS_OK, None, None, None
        written_mib = None
        for number in range(self.settings.processes):
            session = self._session(target, number)
            after = self._next_turn(Turn(target, forecast, number), following)
            measured = Measurements()
            try:
                with session:
                    measured = measure(
                        session, self.settings, driver, lambda after=after: self._start_early(after)
                    )
            except WorkerFailure as failure:
                status, error, trace = failure.status, failure.error, failure.traceback
            except (
                KeyboardInterrupt
            ) as stop:  # Ctrl-C, or SIGTERM and SIGHUP (profiler.system.stopping)
                status, error = STATUS_INTERRUPTED, stop_reason(stop)
                self.interrupted = True
            runs.append(
                WorkerRun(
                    MemorySeen(session.trace, session.started, session.wall_s, session.baseline),
                    measured,
                )
            )
            if status != STATUS_OK:
                log_path = session.task.log_path
                break
            if number == 0 and scenario.disk_grows_with_data:
                written_mib = files_mib(session.task.temp_dir, leave_out=session.task.log_path)
            shutil.rmtree(session.task.temp_dir, ignore_errors=True)
        result = scenario_result(target.name, scenario, runs, status, error)
        if written_mib is not None:
            result = replace(result, disk_written_mib=written_mib)
        if log_path is not None:
            result = self._with_kept_log(result, log_path, trace, target.file_name)
            shutil.rmtree(log_path.parent, ignore_errors=True)
        return result

    def _session(self, target: Target, number: int) -> WorkerSession:
        """The worker started early for this target and process, or a new one."""
        early, self._early = self._early, None
        if early is not None and (early.target, early.process) == (target, number):
            return early.session
        if early is not None:
            early.session.__exit__()
        processes = self.settings.processes
        where = f" (process {number + 1}/{processes})" if processes > 1 else ""
        return WorkerSession(
            self.new_task(target),
            self.settings.timeout_s,
            lambda phase: self.on_phase(target.name, phase + where),
            lambda text: self.on_warning(target.name, text),
            private_network=load(target).needs_private_network(self.settings.service),
        )

    def _next_turn(
        self, turn: Turn, following: tuple[Target, MemoryForecast | None] | None
    ) -> Turn | None:
        """The turn after ``turn``: this target's next process, else the first of ``following``."""
        if turn.process + 1 < self.settings.processes:
            return turn._replace(process=turn.process + 1)
        return None if following is None else Turn(*following, 0)

    def _start_early(self, after: Turn | None) -> None:
        if after is None or self._early is not None:
            return
        target, forecast, number = after
        try:
            if self.memory_refusal(load(target), forecast) is not None:
                return  # it will not be started at all
        # Its own turn reports what is wrong with it, not this one's.
        except Exception:  # noqa: BLE001
            return
        session = self._session(target, number)
        self._early = EarlyWorker(target, number, session.start())

    def memory_refusal(self, scenario: Scenario, forecast: MemoryForecast | None) -> str | None:
        """Why the scenario must not start for lack of memory, or None when it may."""
        forecasts = [forecast] if forecast is not None else []
        if scenario.memory_grows_with_data and self.source is not None:
            spec = self.source.spec
            held = spec.samples * spec.sample_bytes / MIB
            forecasts.append(
                MemoryForecast(
                    held, f"it holds the whole decoded dataset, {_mib(held)} MiB at least"
                )
            )
        if not forecasts:
            return None
        largest = max(forecasts, key=lambda f: f.peak_mib)
        available = self.available_mib()
        if largest.peak_mib <= available:
            return None
        return (
            f"not started: its predicted peak of {_mib(largest.peak_mib)} MiB ({largest.basis}) "
            f"exceeds the {_mib(available)} MiB of memory available now, and the kernel would kill "
            "it; measure it on fewer --samples or free memory first"
        )

    def disk_refusal(self, scenario: Scenario) -> str | None:
        """Why a scenario that writes the decoded dataset to the scratch folder must not start, or
        None."""
        if not scenario.disk_grows_with_data or self.source is None or self._scratch is None:
            return None
        spec = self.source.spec
        needed = spec.samples * spec.sample_bytes
        free = shutil.disk_usage(self._scratch).free
        if needed + DISK_MARGIN_BYTES <= free:
            return None
        return (
            f"not started: it writes the decoded dataset, about {needed / 2**30:,.1f} GiB, to "
            f"'{self._scratch.parent}', which has {free / 2**30:,.1f} GiB free; set TMPDIR to a "
            "disk with room, or use fewer --samples"
        )

    def _with_kept_log(
        self, result: ScenarioResult, log_path: Path, traceback: str | None, file_name: str
    ) -> ScenarioResult:
        """Keep a failed worker's output beside the results, and quote its last line if it
        crashed."""
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        error = result.error
        last = [line.strip() for line in text.splitlines() if line.strip()]
        if result.status not in (STATUS_OK, STATUS_INTERRUPTED) and last and traceback is None:
            error = f"{error}; last output: {last[-1][:200]}"
        kept = None
        if self.log_dir is not None:
            try:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                path = self.log_dir / f"{file_name}.log"
                path.write_text(text + ("\n" + traceback if traceback else ""))
                kept = str(path)
            except OSError:
                kept = None
        return replace(result, error=error, log_path=kept)


def _mib(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
