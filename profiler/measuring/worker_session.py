"""One spawned worker, driven one request at a time, its memory sampled from outside all along."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing import spawn as multiprocessing_spawn
from pathlib import Path
from typing import Any

import psutil

from profiler.base.settings import CONSUMER_SLEEP
from profiler.base.units import plain
from profiler.data.fingerprint import Fingerprint
from profiler.results.records import STATUS_CRASHED, STATUS_FAILED, STATUS_TIMEOUT, AutotuneValue
from profiler.strategy.scenario import TRAINER, Helpers
from profiler.system import namespace_launcher
from profiler.system.memory import MemoryTrace, TreeMemorySampler, kill_tree
from profiler.worker.loops import EpochTiming, PacedSteps, WindowTiming
from profiler.worker.main import ClosingReport, WorkerTask, worker_main

_POLL_S = 0.05
# Signals that stop a run (profiler.system.stopping); a second one must not cut a worker's cleanup
# short.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
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
        if self.private_network:
            with _spawned_through(_confining_interpreter(self.task.temp_dir)):
                self._process.start()
        else:
            self._process.start()
        sender.close()  # keep only the worker's end open, so its death reads as EOF here
        self._sampler = TreeMemorySampler(self._process.pid).start()
        return self

    def __enter__(self) -> WorkerSession:
        """Start the worker unless it was started early, then let it build its pipeline."""
        if not self.started:
            self.start()
        # A worker started early waited for its turn: its time and its --timeout start now.
        self.went = time.time()
        self._deadline = self.went + self.timeout_s
        try:
            with contextlib.suppress(BrokenPipeError, OSError):
                # A worker that failed while it waited has said why: the reply below reads it.
                self._receiver.send(("go",))
            _, self.build_s, self.helpers = self._await("built")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        with _stop_signals_deferred():  # a second Ctrl-C must not cut the cleanup short
            if self._closed_cleanly:
                self._process.join(_EXIT_GRACE_S)
            kill_tree(self._sampler.processes())
            self._process.join(5)
            self.trace = self._sampler.stop()
            self._receiver.close()
            self.wall_s = time.time() - (self.went or self.started)

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
        return self._request(("epoch",), "epoch")[1]

    def window(self, batches: int, restart: bool = False) -> WindowTiming:
        """The next ``batches`` of the pipeline's stream, flat out (``restart``: from a fresh
        epoch)."""
        return self._request(("window", batches, restart), "window")[1]

    def paced(
        self, steps: int, step_s: float, consumer: str = CONSUMER_SLEEP, restart: bool = False
    ) -> PacedSteps:
        """The next ``steps`` of the stream behind the consumer's step."""
        return self._request(("paced", steps, step_s, consumer, restart), "paced")[1]

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
        try:
            self._receiver.send(request)
        except (BrokenPipeError, OSError):
            raise WorkerFailure(STATUS_CRASHED, self._death_reason()) from None
        return self._await(answer)

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
                if kind == "phase":
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


def _confining_interpreter(folder: Path) -> str:
    """An executable that starts the interpreter inside a private network namespace
    (profiler.system.namespace_launcher)."""
    python = os.fsdecode(multiprocessing_spawn.get_executable())
    path = folder / "confined-python"
    path.write_text(
        f"#!/bin/sh\nexec {shlex.quote(str(python))} {shlex.quote(namespace_launcher.__file__)} "
        f'{shlex.quote(str(python))} "$@"\n'
    )
    path.chmod(0o700)
    return str(path)


@contextmanager
def _spawned_through(executable: str) -> Iterator[None]:
    # The spawn context has one executable for every process it starts: swapped for this one start
    # only, which happens here, in this thread, before anything else is spawned.
    previous = multiprocessing_spawn.get_executable()
    multiprocessing_spawn.set_executable(executable)
    try:
        yield
    finally:
        multiprocessing_spawn.set_executable(previous)


@contextmanager
def _stop_signals_deferred() -> Iterator[None]:
    """Hold stop signals back while a worker is cleaned up; one that came meanwhile acts afterwards.

    Blocked, not ignored: a sender that signals once (docker stop, a cancelled CI job) and then
    kills must still find the run stopping, with its report written.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
