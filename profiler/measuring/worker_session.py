"""One spawned worker, driven one request at a time, its memory sampled from outside all along."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psutil

from profiler.base.settings import CONSUMER_SLEEP
from profiler.base.units import plain
from profiler.data.fingerprint import Fingerprint
from profiler.measuring.confined_spawn import confining_interpreter, spawned_through
from profiler.measuring.turns import Seat, Solo
from profiler.results.records import STATUS_CRASHED, STATUS_FAILED, STATUS_TIMEOUT, AutotuneValue
from profiler.strategy.scenario import TRAINER, Helpers
from profiler.system import freezing
from profiler.system.memory import MemoryTrace, TreeMemorySampler, busy_cpu_seconds, kill_tree
from profiler.system.stopping import stop_signals_deferred
from profiler.worker.loops import EpochTiming, PacedSteps, WindowTiming
from profiler.worker.main import ClosingReport, WorkerTask, worker_main

_POLL_S = 0.05
# Batches a window that continues the stream consumes untimed at most after the turn began, while
# they come at once (see profiler.worker.loops.flat_out_window).
TURN_LEAD_BATCHES = 8
# Signals that stop a run (profiler.system.stopping); a second one must not cut a worker's cleanup
# short.
# After its closing report the worker has nothing left to do; TensorFlow's interpreter teardown
# can take a second or more, and is not worth waiting for.
_EXIT_GRACE_S = 1.0


class WorkerFailure(Exception):
    """The worker failed, crashed or ran out of time; ``status`` says which."""

    def __init__(self, status: str, error: str, traceback: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.traceback = traceback


class WorkerSession:
    """Starts the worker on enter and waits until its pipeline is built; always cleans up on exit.

    Every request shares one deadline, ``timeout_s`` after the start. After exit, ``trace`` holds
    the memory samples and ``processes_left`` is empty: the worker and all it started are gone.
    """

    def __init__(
        self,
        task: WorkerTask,
        timeout_s: float,
        on_phase: Callable[[str], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        private_network: bool = False,
    ) -> None:
        self.task = task
        self.timeout_s = timeout_s
        self.on_phase = on_phase or (lambda phase: None)
        self.on_warning = on_warning or (lambda text: None)
        self.private_network = private_network  # start the worker in a network namespace of its own
        self.phases: list[tuple[str, float]] = []
        self.baseline: tuple[float, float, float] | None = None  # RSS MiB, PSS MiB, unix time
        self.build_s: float | None = None
        self.helpers = Helpers()  # what the pipeline started beside the worker, once built
        self.started = 0.0  # unix time the worker was spawned
        self.went = 0.0  # ...and told to build its pipeline
        self.wall_s: float | None = None
        self.trace = MemoryTrace(rss=(), pss=())
        self._closed_cleanly = False
        # Where its requests take their turns: alone, or interleaved with other workers
        # (profiler.measuring.turns); the round of the last request's turn.
        self.seat: Seat | Solo = Solo()
        self.last_round: int | None = None
        # The last turn's length, and every usable core's busy seconds over it, whoever used them.
        self.turn_wall_s = 0.0
        self.turn_busy_s: float | None = None
        # Every turn's length so far, and the first epoch's timing: what a time left is told from.
        self.turns_s = 0.0
        self.first_epoch: EpochTiming | None = None
        self.epoch_start_s: float | None = None  # the longest wait a paced epoch began with
        self._aside_s = self._aside_busy_s = 0.0  # of the turn under way: handed on, not its time
        self._frozen = False
        self.freezable = True  # False: its scenario's processes must not be stopped
        # None until start() has them all: a stop signal may end a group before this one starts.
        self._process: Any = None
        self._receiver: Any = None
        self._sampler: TreeMemorySampler | None = None

    def start(self) -> WorkerSession:
        """Spawn the worker, which imports TensorFlow and then waits to be told to go on.

        A worker started early imports while the one before it finishes its unmeasured steps.
        """
        context = multiprocessing.get_context("spawn")
        self._receiver, sender = context.Pipe(duplex=True)
        self._process = context.Process(
            target=worker_main, args=(self.task, sender), name=f"profiler-{self.task.target.name}"
        )
        self.started = time.time()
        self._deadline = self.started + self.timeout_s
        # A stop signal waits until the child is started and watched: it could not be ended else.
        with stop_signals_deferred():
            if self.private_network:
                with spawned_through(confining_interpreter(self.task.temp_dir)):
                    self._process.start()
            else:
                self._process.start()
            sender.close()  # keep only the worker's end open, so its death reads as EOF here
            self._sampler = TreeMemorySampler(self._process.pid).start()
        return self

    def wait_ready(self) -> None:
        """Wait until the worker has imported what it needs and waits for "go"; raises
        WorkerFailure if it fails first. Workers started together are measured only once all are
        ready, so that no import takes a core from a measured turn."""
        self._await("ready")

    def __enter__(self) -> WorkerSession:
        """Start the worker unless it was started early, then let it build its pipeline."""
        if not self.started:
            self.start()
        # A worker started early waited for its turn: its time and its --timeout start now.
        self.went = time.time()
        self._deadline = self.went + self.timeout_s
        try:
            with self._turn():
                with contextlib.suppress(BrokenPipeError, OSError):
                    # A worker that failed while it waited has said why: the reply below reads it.
                    self._receiver.send(("go",))
                _, self.build_s, self.helpers = self._await("built")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._sampler is None:  # never started, or stopped while it started
            return self._end_unwatched()
        with stop_signals_deferred():  # a second Ctrl-C must not cut the cleanup short
            self.thaw()  # a frozen process acts on SIGTERM only once it runs again
            if self._closed_cleanly:
                self._process.join(_EXIT_GRACE_S)
            kill_tree(self._sampler.processes())
            self._process.join(5)
            self.trace = self._sampler.stop()
            self._receiver.close()
            self.wall_s = time.time() - (self.went or self.started)

    def _end_unwatched(self) -> None:
        with stop_signals_deferred():  # started or not, unwatched: the worker alone to end
            if self._process is not None and self._process.pid is not None:
                self._process.kill()
                self._process.join(5)
            if self._receiver is not None:
                self._receiver.close()

    def end_now(self) -> None:
        """Kill the worker and all it started, from another thread than the one driving it."""
        if self._sampler is not None:
            self.thaw()
            kill_tree(self._sampler.processes())

    def freeze(self) -> None:
        """Stop the worker and every process it started, between its turns."""
        if self._closed_cleanly or self._sampler is None or not self.freezable:
            return
        freezing.freeze(self.pids())
        self._sampler.pause()
        self._frozen = True

    def thaw(self) -> None:
        if self._frozen:
            self._frozen = False
            self._sampler.resume()
            freezing.thaw(self.pids())

    def pids(self) -> list[int]:
        """The worker's process first, then every process it started."""
        if self._process is None or self._sampler is None:
            return []
        root = self._process.pid
        others = [p.pid for p in self._sampler.processes() if p.pid != root]
        return ([root] if root is not None else []) + others

    def phase(self, name: str) -> None:
        self.phases.append((name, time.time() - self.started))
        self.on_phase(name)

    def tree_cpu_seconds(self) -> float | None:
        """User + system CPU seconds of the worker and every process it started, read from here."""
        total = 0.0
        for process in self._sampler.processes():
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total or None

    def cpu_seconds_by_role(self) -> dict[str, float]:
        """CPU seconds so far of each role: the worker's own process is the trainer; a process the
        pipeline named (``Helpers.roles``) counts under its role, with the processes it started."""
        pids = {process.pid: process for process in self._sampler.processes()}
        totals: dict[str, float] = {}
        for pid, process in pids.items():
            try:
                times = process.cpu_times()
                owner = pid
                while (
                    owner not in self.helpers.roles and owner != self._process.pid and owner in pids
                ):
                    owner = pids[owner].ppid()
            except psutil.Error:
                continue
            role = TRAINER if owner == self._process.pid else self.helpers.roles.get(owner, TRAINER)
            spent = times.user + times.system + times.children_user + times.children_system
            totals[role] = totals.get(role, 0.0) + spent
        return totals

    def epoch(self) -> EpochTiming:
        """One epoch of a fresh iterator, flat out."""
        timing = self._request(("epoch",), "epoch")[1]
        self.first_epoch = self.first_epoch or timing
        return timing

    def window(self, batches: int, restart: bool = False) -> WindowTiming:
        """The next ``batches`` of the pipeline's stream, flat out (``restart``: from a fresh
        epoch)."""
        # Only a frozen worker has batches finished while it was stopped; a worker left running
        # (a pool started anew each epoch) is timed from its window's first batch.
        lead = TURN_LEAD_BATCHES if self.freezable else 0
        return self._request(("window", batches, restart, lead), "window")[1]

    def paced(self, steps: int, step_s: float, consumer: str = CONSUMER_SLEEP) -> PacedSteps:
        """The next ``steps`` of the stream behind the consumer's step."""
        paced = self._request(("paced", steps, step_s, consumer), "paced")[1]
        starts = [w for w, first in zip(paced.waits_s, paced.epoch_starts, strict=True) if first]
        if starts:
            self.epoch_start_s = max([*starts, self.epoch_start_s or 0.0])
        return paced

    def floor(self, steps: int, step_s: float, consumer: str = CONSUMER_SLEEP) -> PacedSteps:
        """The consumer fed from an always-ready source of one of the pipeline's batches."""
        return self._request(("floor", steps, step_s, consumer), "floor")[1]

    def profile(self, steps: int, step_s: float, consumer: str = CONSUMER_SLEEP) -> tuple[str, ...]:
        """The next epoch's first ``steps`` behind the consumer, traced for TensorBoard; the files
        written."""
        return self._request(("trace", steps, step_s, consumer), "trace")[1]

    def autotune(self) -> tuple[AutotuneValue, ...]:
        """What tf.data's autotuning chose for the stream's iterator, as it stands now."""
        return self._request(("autotune",), "autotune")[1]

    def fingerprint(self) -> Fingerprint:
        return self._request(("fingerprint",), "fingerprint")[1]

    def close(self) -> ClosingReport:
        # Everything the pipeline built is still held: one PSS read now, so even a worker that
        # lived less than the sampling interval after its baseline has a PSS peak.
        self._sampler.read_pss()
        report = self._request(("close",), "closed")[1]
        self._closed_cleanly = True
        return report

    def _request(self, request: tuple[Any, ...], answer: str) -> tuple[Any, ...]:
        with self._turn():
            try:
                self._receiver.send(request)
            except (BrokenPipeError, OSError):
                raise WorkerFailure(STATUS_CRASHED, self._death_reason()) from None
            return self._await(answer)

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """One request's turn; the time spent waiting for it, frozen, is not the worker's time."""
        asked = time.time()
        with self.seat.turn() as number:
            self._deadline += time.time() - asked
            self.last_round = number
            busy, started = busy_cpu_seconds(), time.perf_counter()
            self._aside_s, self._aside_busy_s = 0.0, 0.0
            yield
            ended = busy_cpu_seconds()
            self.turn_wall_s = time.perf_counter() - started - self._aside_s
            self.turns_s += self.turn_wall_s
            measured = None if busy is None or ended is None else ended - busy
            self.turn_busy_s = None if measured is None else measured - self._aside_busy_s

    def _step_aside(self) -> None:
        """The worker's release waits (profiler.worker.release): the others take their turns
        meanwhile, and that gap is in neither this turn's time nor its deadline."""
        asked, busy, started = time.time(), busy_cpu_seconds(), time.perf_counter()
        number = self.seat.pause()
        ended = busy_cpu_seconds()
        self._deadline += time.time() - asked
        self._aside_s += time.perf_counter() - started
        self._aside_busy_s += 0.0 if busy is None or ended is None else ended - busy
        self.last_round = number if number is not None else self.last_round
        try:
            self._receiver.send(("on",) if number is not None else ("hold",))
        except (BrokenPipeError, OSError):
            raise WorkerFailure(STATUS_CRASHED, self._death_reason()) from None

    def _await(self, answer: str) -> tuple[Any, ...]:
        while True:
            if self._receiver.poll(_POLL_S):
                try:
                    message = self._receiver.recv()
                except EOFError:
                    raise WorkerFailure(STATUS_CRASHED, self._death_reason()) from None
                kind = message[0]
                if kind == answer:
                    return message
                if kind == "aside":
                    self._step_aside()
                elif kind == "phase":
                    self.phase(message[1])
                elif kind == "warning":
                    self.on_warning(message[1])
                elif kind == "baseline":
                    self.baseline = (message[1], message[2], message[3])
                elif kind == "error":
                    raise WorkerFailure(STATUS_FAILED, message[1], message[2])
            elif not self._process.is_alive() and not self._receiver.poll(0):
                raise WorkerFailure(STATUS_CRASHED, self._death_reason())
            if time.time() > self._deadline:
                last = self.phases[-1][0] if self.phases else "starting"
                raise WorkerFailure(
                    STATUS_TIMEOUT,
                    f"no result within --timeout {plain(self.timeout_s)} s (last phase: {last}); "
                    "raise --timeout or use smaller data",
                )

    def _death_reason(self) -> str:
        self._process.join(1)
        code = self._process.exitcode
        if code is None:
            return "worker closed its pipe without a result"
        if code < 0:
            name = signal.Signals(-code).name
            hint = (
                " (the kernel's out-of-memory killer sends this)" if code == -signal.SIGKILL else ""
            )
            return f"worker killed by {name}{hint}"
        return f"worker exited with code {code} without a result"
