"""Runs each target in a fresh spawned worker, with a timeout, sampling its memory from outside."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from profiler.analysis.forecast import MemoryForecast
from profiler.base.settings import MeasureSettings, Target
from profiler.data.synthetic import DataSource
from profiler.measuring.admission import Admission, available_memory_mib, plan_groups, refusal
from profiler.measuring.group import (
    Group,
    Member,
    end_undriven,
    files_mib,
    time_left_s,
    with_kept_log,
)
from profiler.measuring.metrics import MemorySeen, WorkerRun, scenario_result, skipped_result
from profiler.measuring.procedure import WindowDriver, measure, until_precise
from profiler.measuring.reference import ReferenceTurns, ReferenceWorkload, take_turns
from profiler.measuring.turns import Conductor, Seat
from profiler.measuring.worker_session import WorkerFailure, WorkerSession
from profiler.results.records import (
    STATUS_CRASHED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    ScenarioResult,
)
from profiler.strategy.registry import entry_point_of, load
from profiler.strategy.scenario import Scenario
from profiler.system.lifeline import quiet_resource_tracker
from profiler.system.scratch import SCRATCH_PREFIX, owned_folder, release, remove_abandoned
from profiler.system.stopping import raise_lost_stop, stop_reason
from profiler.worker.main import WorkerTask

PhaseCallback = Callable[[str, str], None]


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
        on_left: Callable[[float | None], None] | None = None,
    ) -> None:
        self.source = source
        self.on_left = on_left or (lambda seconds: None)  # the time a group's turns have left
        self.trace_dir = (
            trace_dir  # each target's TensorBoard profile goes into a folder of its own here
        )
        self.available_mib = available_mib
        self.settings = settings
        self.log_dir = log_dir
        self.on_phase = on_phase or (lambda name, phase: None)
        self.on_warning = on_warning or (lambda name, text: None)
        self._scratch: Path | None = None
        self.interrupted = False
        self.reference = ReferenceTurns()  # the machine's speed, in the rounds of every group
        self.rounds = 0  # rounds so far: each group's rounds are numbered on from the last's
        self.groups = 0
        self._started: Group | None = None  # a group started and not yet measured

    def __enter__(self) -> Runner:
        quiet_resource_tracker()
        remove_abandoned(tempfile.gettempdir(), SCRATCH_PREFIX)  # left by a run that was killed
        self._scratch = owned_folder(tempfile.gettempdir(), SCRATCH_PREFIX, swept_if_killed=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        started, self._started = self._started, None
        if started is not None:  # started, never measured: its processes end with the run
            end_undriven(started)
            started.reference.close()
        if self.source is not None:  # what a worker stopped half-way was writing beside the data
            remove_abandoned(self.source.work_root, ".")
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
    ) -> ScenarioResult:
        """Measure one target, interleaved with the machine's reference only."""
        return self.run_group([(target, forecast)], driver)[0]

    def run_group(
        self,
        items: Sequence[tuple[Target, MemoryForecast | None]],
        driver: WindowDriver = until_precise,
    ) -> list[ScenarioResult]:
        """Measure the targets together, interleaved (profiler.measuring.turns), each in
        ``settings.processes`` fresh workers whose measurements are pooled.

        Every worker starts at once and imports TensorFlow while nothing is measured; then each
        request any of them makes is a turn, the others frozen. Failures, timeouts and Ctrl-C all
        come back as results. After Ctrl-C the results have status "interrupted" and
        ``self.interrupted`` is set, so the caller starts no more. A target whose ``forecast`` (or
        the decoded size of a dataset it holds whole) exceeds the memory available now is not
        started, and its result says why.
        """
        return self.measure_group(self.start_group(items), driver)

    def start_group(self, items: Sequence[tuple[Target, MemoryForecast | None]]) -> Group:
        """Spawn the group's workers and the reference: they import while the caller does work of
        its own that times nothing (the ceiling's imports, the dataset's fingerprint)."""
        self.groups += 1
        group = Group(list(items), Conductor(first_round=self.rounds), ReferenceWorkload())
        self._started = group
        for item, (target, forecast) in enumerate(items):
            scenario = load(target)
            refusal = self._refusal(target, scenario, forecast)
            if refusal is not None:
                group.skipped[item] = skipped_result(target.name, scenario, refusal)
                continue
            for number in range(self.settings.processes):
                session = self._session(target, number)
                name = f"{item}:{target.file_name}#{number}"
                session.seat = group.conductor.seat(name, session.freeze, session.thaw)
                group.members.append(Member(target, number, session, item))
        group.beside_reference = all(m.session.freezable for m in group.members)
        if group.members:
            for member in group.members:
                member.session.start()
            if group.beside_reference:
                group.reference.start()
                group.reference.guard(m.session.pids()[0] for m in group.members)
                if self.source is not None:
                    group.reference.give_source(self.source)
        return group

    def wait_ready(self, group: Group) -> None:
        """Wait until every worker of the group has imported what it needs; one that failed keeps
        its failure, which its thread reports."""
        for member in group.members:
            if member.failure is None and not member.ready:
                try:
                    member.session.wait_ready()
                    member.ready = True
                except WorkerFailure as failure:
                    member.failure = failure

    def measure_group(
        self,
        group: Group,
        driver: WindowDriver = until_precise,
        on_done: Callable[[int, ScenarioResult], None] | None = None,
    ) -> list[ScenarioResult]:
        """Measure a started group together, interleaved; a result per target, in order.

        ``on_done(item, result)`` hears of each target as soon as all its workers are done, from
        this thread, so that what was measured can be saved while the others go on.
        """
        done: dict[int, ScenarioResult] = dict(group.skipped)
        told: set[int] = set()

        def tell() -> None:
            for item, (target, _) in enumerate(group.items):
                mine = [m for m in group.members if m.item == item]
                if item not in done and all(m.finished for m in mine):
                    done[item] = self._result(target, mine)
                if item in done and item not in told and on_done is not None:
                    told.add(item)
                    on_done(item, done[item])

        try:
            if group.members:
                self.wait_ready(group)
                self._measure_together(group, driver, tell)
        except BaseException:  # Ctrl-C while they import: nobody drives them, so they end here
            end_undriven(group)
            raise
        finally:
            self._started = None
            self.rounds = group.conductor.round
            group.reference.close()
        for member in group.members:  # an interrupted group: its threads have all ended
            member.finished = True
        tell()
        return [done[item] for item in range(len(group.items))]

    def _measure_together(
        self, group: Group, driver: WindowDriver, tell: Callable[[], None]
    ) -> None:
        """Drive every member in a thread of its own, and the reference in one more; ``tell``
        is called while they run, to hear of the targets done."""
        members, conductor = group.members, group.conductor
        threads: list[threading.Thread] = []
        try:
            threads = [
                threading.Thread(target=self._drive, args=(m, driver), name=m.target.file_name)
                for m in members
            ]
            if group.beside_reference:
                seat = conductor.seat("reference", lambda: None, lambda: None, companion=True)
                turns = self._reference_turns
                threads.append(threading.Thread(target=turns, args=(group.reference, seat)))
                threads[-1].daemon = True
            group.turns_began = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
                    raise_lost_stop()
                    tell()
                    self.on_left(time_left_s(group, self.settings, time.monotonic()))
        except BaseException as stop:
            # Ctrl-C, SIGTERM and SIGHUP (system.stopping) end the members as interrupted; any
            # other error (saving a result, say) ends them too, then goes on up.
            if isinstance(stop, KeyboardInterrupt):
                self.interrupted = True
                for member in members:  # before their threads hear of it; Ctrl-C for SIGTERM
                    if member.status == STATUS_OK and not member.finished:
                        member.status, member.error = STATUS_INTERRUPTED, stop_reason(stop)
            conductor.stop()
            for member in members:
                member.session.end_now()  # a turn in flight ends with its worker
            for thread in threads:
                if thread.ident is not None:  # started: a stop may come while they start
                    thread.join()
            end_undriven(group)
            if not isinstance(stop, KeyboardInterrupt):
                raise

    def _drive(self, member: Member, driver: WindowDriver) -> None:
        """One member's procedure, in a thread of its own; what ends it is kept as its status."""
        session = member.session
        member.driven = True
        try:
            if member.failure is not None:
                session.__exit__()
                raise member.failure
            with session:
                member.measured = measure(session, self.settings, driver)
            if member.process == 0 and load(member.target).disk_grows_with_data:
                # within its turn: the others' turns are timed
                member.written_mib = files_mib(
                    session.task.temp_dir, leave_out=session.task.log_path
                )
        except WorkerFailure as failure:
            if member.status == STATUS_OK:
                member.status, member.error = failure.status, failure.error
                member.traceback = failure.traceback
        except KeyboardInterrupt as stop:
            self.interrupted = True
            if member.status == STATUS_OK:
                member.status, member.error = STATUS_INTERRUPTED, stop_reason(stop)
        except Exception as error:  # noqa: BLE001 - a bug here must not hang the other members
            member.status, member.error = STATUS_CRASHED, f"{type(error).__name__}: {error}"
            member.traceback = traceback.format_exc()
        finally:
            session.seat.leave()
        member.finished = True

    def _reference_turns(self, reference: ReferenceWorkload, seat: Seat) -> None:
        """The reference's turns, one a round, as long as any worker takes turns."""
        take_turns(reference, seat, self.reference, self.settings.window_s, self.source is not None)

    def _result(self, target: Target, members: list[Member]) -> ScenarioResult:
        """One target's result from its members, pooled, with a failed worker's log kept."""
        scenario = load(target)
        runs = [
            WorkerRun(
                MemorySeen(
                    m.session.trace, m.session.started, m.session.wall_s, m.session.baseline
                ),
                m.measured,
            )
            for m in members
        ]
        failed = next((m for m in members if m.status != STATUS_OK), None)
        status, error = (STATUS_OK, None) if failed is None else (failed.status, failed.error)
        if failed is not None:  # as before: a process after a failed one was not measured
            runs = runs[: members.index(failed) + 1]
        result = scenario_result(target.name, scenario, runs, status, error)
        result = replace(result, group=self.groups)
        if members[0].written_mib is not None:
            result = replace(result, disk_written_mib=members[0].written_mib)
        if failed is not None:
            log_path = failed.session.task.log_path
            kept_as = None if self.log_dir is None else self.log_dir / f"{target.file_name}.log"
            result = with_kept_log(result, log_path, failed.traceback, kept_as)
        for member in members:
            shutil.rmtree(member.session.task.temp_dir, ignore_errors=True)
        return result

    def plan_groups(
        self, items: Sequence[tuple[Target, MemoryForecast | None]]
    ) -> list[list[tuple[Target, MemoryForecast | None]]]:
        """The targets in groups whose workers fit in memory together, in the order given."""
        return plan_groups(items, self._admission())

    def _refusal(
        self, target: Target, scenario: Scenario, forecast: MemoryForecast | None
    ) -> str | None:
        return refusal(target, scenario, forecast, self._admission())

    def _admission(self) -> Admission:
        return Admission(self.source, self.settings, self.available_mib, self._scratch)

    def _session(self, target: Target, number: int) -> WorkerSession:
        processes = self.settings.processes
        where = f" (process {number + 1}/{processes})" if processes > 1 else ""
        scenario = load(target)
        session = WorkerSession(
            self.new_task(target),
            self.settings.timeout_s,
            lambda phase: self.on_phase(target.name, phase + where),
            lambda text: self.on_warning(target.name, text),
            private_network=scenario.needs_private_network(self.settings.service),
        )
        session.freezable = scenario.can_freeze(self.settings.service)
        return session
