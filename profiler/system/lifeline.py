"""A worker's lifeline: it ends itself and everything it started when its parent dies or time runs
out.

The parent enforces --timeout and kills the worker's process tree, but a parent killed with
SIGKILL enforces nothing: a worker stuck in its pipeline (a ``repeat()``, a tf.data service that
does not answer) would run on for ever, with its pool processes or servers. A daemon thread checks
the parent twice a second and keeps a deadline of its own; it runs whatever the pipeline does,
since Python switches threads even in a busy loop and TensorFlow's ops release the interpreter.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psutil

from profiler.system.scratch import is_run_folder, remove_if_abandoned

_CHECK_S = 0.5
# The worker's own deadline falls this long after the parent's, so that the parent, which can say
# why, normally acts first.
DEADLINE_GRACE_S = 15.0
# A check that comes later than this beyond its half second was held back by a freeze, not by a
# busy machine.
_OVERSLEEP_S = 0.05
EXIT_ORPHANED = 70
# A parent killed outright closes its pipes a moment before the kernel has it fully gone.
PARENT_ENDING_S = 1.0

_T = TypeVar("_T")


class Lifeline:
    def __init__(self, parent_pid: int) -> None:
        self.parent_pid = parent_pid
        self._deadline: float | None = None
        self._lock = threading.Lock()
        self._parents_folder: str | None = None
        self._waiting_since: float | None = None  # in waiting_for, since then

    def leaves_behind(self, folder: str | os.PathLike[str]) -> Lifeline:
        """Remove ``folder``, a scratch folder of the parent's, once the parent is gone: a parent
        killed outright removes nothing, and this process may be the last of the run. Only a
        folder the parent made is taken (``profiler.system.scratch.is_run_folder``), and only once
        no process holds it."""
        if is_run_folder(folder, self.parent_pid):
            self._parents_folder = os.fspath(folder)
        return self

    @classmethod
    def of_this_process(cls) -> Lifeline:
        """Watching the process that spawned this one, as multiprocessing recorded it: were the
        parent gone already, ``os.getppid()`` would name whoever adopted this process instead."""
        parent = multiprocessing.parent_process()
        return cls(parent.pid if parent is not None and parent.pid is not None else os.getppid())

    def start(self) -> Lifeline:
        threading.Thread(target=self._watch, name="profiler-lifeline", daemon=True).start()
        return self

    def set_deadline(self, seconds_from_now: float) -> None:
        with self._lock:
            self._deadline = time.monotonic() + seconds_from_now + DEADLINE_GRACE_S

    def waiting_for(self, receive: Callable[[], _T]) -> _T:
        """``receive()``, a wait for the parent's next request: the parent's time, not this
        process's own, so the deadline moves on by it, as the parent's does by the turns it waits
        for. A worker that is not frozen between its turns (one driving a cluster of the user's)
        waits for them here; one that is frozen is frozen here."""
        with self._lock:
            self._waiting_since = time.monotonic()
        try:
            return receive()
        finally:
            with self._lock:
                if self._deadline is not None and self._waiting_since is not None:
                    self._deadline += time.monotonic() - self._waiting_since
                self._waiting_since = None

    def expired(self, now: float, checked: float) -> bool:
        """Whether the deadline has passed at ``now``, the previous check having been at
        ``checked``; never while waiting for the parent."""
        with self._lock:
            if self._deadline is None or self._waiting_since is not None:
                return False
            # Time spent frozen outside waiting_for (SIGSTOP, profiler.system.freezing) is no time
            # of its own either: the deadline moves on by it.
            self._deadline += max(0.0, now - checked - _CHECK_S - _OVERSLEEP_S)
            return now > self._deadline

    def _watch(self) -> None:
        checked = time.monotonic()
        while True:
            time.sleep(_CHECK_S)
            now = time.monotonic()
            expired = self.expired(now, checked)
            checked = now
            self.end_if_orphaned()
            if expired:
                end_everything_started_here()
                os._exit(EXIT_ORPHANED)

    def end_if_orphaned(self, wait_s: float = 0.0) -> None:
        """If the parent is gone, or goes within ``wait_s``, end as an orphan: everything this
        process started, the parent's folder it was told of, then itself. A pipe to the parent
        that broke is the first sign of its end; the kernel reparents this process only after it
        closed the parent's files, its lock on the folder among them."""
        deadline = time.monotonic() + wait_s
        while os.getppid() == self.parent_pid:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.02)
        end_everything_started_here()
        if self._parents_folder is not None:
            # Its siblings end as orphans too, and one may be removing it: wait for that.
            remove_if_abandoned(self._parents_folder, wait_s=PARENT_ENDING_S)
        if os.getpgrp() == os.getpid():
            # A group of its own (a worker's): what its other threads started meanwhile (a process
            # pool replacing the processes just killed) ends with it, at once.
            os.killpg(0, signal.SIGKILL)
        os._exit(EXIT_ORPHANED)


# prctl's option that makes a process the reaper of its orphaned descendants (linux/prctl.h).
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt this process's orphaned descendants: a grandchild a pipeline daemonized (a double fork
    and setsid) stays in this tree, where the parent finds and ends it, instead of passing to init.
    False where the system has no such call (not Linux, or a kernel before 3.4)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def own_group_and_orphans() -> None:
    """A worker's first step: a process group of its own, since the kernel sends SIGHUP to an
    orphaned process group holding a stopped process (a run left behind by a shell that exits) and
    a worker is stopped between turns; and its orphaned descendants adopted (become_subreaper).

    The worker's own group is orphaned in turn when the parent dies, and then gets SIGHUP and
    SIGCONT if the worker was frozen. That SIGHUP is caught and let go: ended by it, the worker
    never reached its lifeline, which ends what it started and removes the run's folder once the
    parent is gone (a parent killed while every worker was frozen left the folder behind). Caught,
    not ignored: what the worker starts (spawned, exec'd) gets the default again.
    """
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    signal.signal(signal.SIGHUP, _hangup_let_go)
    become_subreaper()


def _hangup_let_go(number: int, frame: object) -> None:
    """The parent ends a worker with SIGTERM or SIGKILL, never SIGHUP: the lifeline acts."""


def end_everything_started_here() -> None:
    """SIGKILL every descendant of this process and reap what can be reaped."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=2)


def quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker, which every spawned child shares, with its own
    stderr sent nowhere: when a stop kills a worker whose pool held semaphores, the tracker frees
    them and would warn of the leak on the user's terminal after the run's last line."""
    from multiprocessing import resource_tracker

    null = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    try:
        os.dup2(null, 2)
        resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
