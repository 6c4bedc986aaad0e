"""Memory of a whole process tree, sampled from outside it.

Two samplers run side by side on the worker and every process it starts:

- summed RSS every 10 ms, read with psutil. Fast enough to catch short spikes (a 250 ms sampler
  misses a 0.6 s spike often enough to matter), but it counts a page shared by several processes
  once per process.
- summed PSS every 200 ms, read with memory-profiler's ``psutil_pss`` backend. PSS splits shared
  pages between the processes that share them, so the sum is honest for a pool of workers, but
  the kernel walks every mapping to produce it: about 9 ms of CPU per read of a process that has
  imported TensorFlow, against 0.02 ms for its RSS. At 200 ms the samplers together cost well
  under a tenth of one core, which the pipelines being measured would otherwise have.

memory-profiler is not used for the RSS series: its sampler for an external process id takes a
fixed number of samples and cannot be stopped when the worker ends, and when one child exits
between listing and reading it drops every child from that sample. A dropped sample can only
lower a maximum, never raise it, which is acceptable at the slower PSS rate but not for the RSS
series that catches spikes. Here each process is read on its own and a vanished one is skipped.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

import psutil
from memory_profiler import memory_usage

from profiler.base.units import MIB

RSS_INTERVAL_S = 0.010
PSS_INTERVAL_S = 2.0
PSS_MIN_GAP_S = 0.5
PSS_CLIMB_MIB = 16.0
_AWAKE_STEP_S = 0.05
RESCAN_INTERVAL_S = 0.5
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class MemoryTrace:
    """Samples of (unix time, MiB) for the summed RSS and the summed PSS of the tree."""

    rss: tuple[tuple[float, float], ...]
    pss: tuple[tuple[float, float], ...]

    def peak_rss_mib(self, since: float = 0.0) -> float | None:
        return _peak(self.rss, since)

    def peak_pss_mib(self, since: float = 0.0) -> float | None:
        return _peak(self.pss, since)

    @property
    def rss_interval_ms(self) -> float | None:
        """The sampling interval actually achieved for RSS (median gap)."""
        if len(self.rss) < 2:
            return None
        gaps = sorted(b[0] - a[0] for a, b in zip(self.rss, self.rss[1:], strict=False))
        return gaps[len(gaps) // 2] * 1000.0


def _peak(samples: tuple[tuple[float, float], ...], since: float) -> float | None:
    values = [mib for stamp, mib in samples if stamp >= since]
    return max(values) if values else None


class TreeMemorySampler:
    """Samples a process and all its descendants until stopped or until the process is gone.

    Cheap by design, since it shares the machine with what it measures: RSS comes from a
    ``/proc/PID/statm`` kept open per process (about 1.5 microseconds a read, against 12 for
    psutil's), the tree is listed again only every ``rescan_interval_s`` (a listing reads every
    process on the machine), and PSS, whose read walks every mapping of the process while holding
    its memory-map lock, is read every ``pss_interval_s`` and whenever RSS has climbed by
    PSS_CLIMB_MIB since the last read, at most every ``pss_min_gap_s``, so the PSS peak is read
    near the RSS peak without reading it all the time.
    """

    def __init__(
        self,
        pid: int,
        rss_interval_s: float = RSS_INTERVAL_S,
        pss_interval_s: float = PSS_INTERVAL_S,
        rescan_interval_s: float = RESCAN_INTERVAL_S,
        pss_min_gap_s: float = PSS_MIN_GAP_S,
    ) -> None:
        self._root = psutil.Process(pid)
        self._rss_interval_s = rss_interval_s
        self._pss_interval_s = pss_interval_s
        self._rescan_interval_s = rescan_interval_s
        self._pss_min_gap_s = pss_min_gap_s
        self._stop = threading.Event()
        self._climbed = threading.Event()
        # Cleared while the tree is frozen (profiler.system.freezing): a frozen process allocates
        # nothing, and reading it would only take time from the worker whose turn it is.
        self._awake = threading.Event()
        self._awake.set()
        self._rss: list[tuple[float, float]] = []
        self._pss: list[tuple[float, float]] = []
        self._known: dict[int, psutil.Process] = {pid: self._root}
        self._statm: dict[int, int] = {}
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._sample_rss, name="rss-sampler", daemon=True),
            threading.Thread(target=self._sample_pss, name="pss-sampler", daemon=True),
        ]

    def start(self) -> TreeMemorySampler:
        for thread in self._threads:
            thread.start()
        return self

    def pause(self) -> None:
        """Stop sampling until ``resume``: the tree is frozen. A climb of RSS that PSS has not been
        read for yet is read now, while the read's hold on the memory map costs the frozen tree
        nothing."""
        self._awake.clear()
        if self._climbed.is_set():
            self._climbed.clear()
            self.read_pss()

    def resume(self) -> None:
        self._awake.set()

    def stop(self) -> MemoryTrace:
        self._stop.set()
        self._climbed.set()
        self._awake.set()
        for thread in self._threads:
            thread.join()
        for handle in self._statm.values():
            os.close(handle)
        self._statm.clear()
        return MemoryTrace(rss=tuple(self._rss), pss=tuple(sorted(self._pss)))

    def snapshot(self) -> MemoryTrace:
        """The samples taken so far, the sampling going on."""
        with self._lock:
            return MemoryTrace(rss=tuple(self._rss), pss=tuple(sorted(self._pss)))

    def processes(self) -> list[psutil.Process]:
        """Every process of the tree seen so far or present now, for cleaning up."""
        with self._lock:
            known = dict(self._known)
        try:
            for child in self._root.children(recursive=True):
                known.setdefault(child.pid, child)
        except psutil.Error:
            pass
        return list(known.values())

    def _sample_rss(self) -> None:
        next_rescan = 0.0
        pss_read_at_mib = 0.0
        while not self._stop.is_set():
            if not self._awake.is_set():
                self._awake.wait()
                continue
            started = time.monotonic()
            if started >= next_rescan:
                if not self._rescan():
                    return
                next_rescan = started + self._rescan_interval_s
            total = sum(self._rss_bytes(pid) for pid in list(self._statm))
            # gone, or exiting: it reads as zero
            if self._root.pid not in self._statm or total == 0:
                return
            mib = total / MIB
            self._rss.append((time.time(), mib))
            if mib > pss_read_at_mib + PSS_CLIMB_MIB:
                pss_read_at_mib = mib
                self._climbed.set()
            # A plain sleep costs less than waiting on the event; stopping waits one interval at
            # most.
            time.sleep(max(0.0, self._rss_interval_s - (time.monotonic() - started)))

    def _rss_bytes(self, pid: int) -> int:
        try:
            return int(os.pread(self._statm[pid], 128, 0).split()[1]) * _PAGE_BYTES
        except (OSError, IndexError, ValueError):  # exited since the last listing
            os.close(self._statm.pop(pid))
            return 0

    def _rescan(self) -> bool:
        if not _running(self._root):
            return False
        try:
            children = self._root.children(recursive=True)
        except psutil.Error:
            return False
        with self._lock:
            # Keep processes that are still running; psutil guards against pid reuse.
            self._known = {pid: p for pid, p in self._known.items() if p.is_running()}
            self._known[self._root.pid] = self._root
            for child in children:
                self._known.setdefault(child.pid, child)
        for pid in self._known:
            if pid not in self._statm:
                with contextlib.suppress(OSError):
                    self._statm[pid] = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
        return True

    def read_pss(self) -> bool:
        """One PSS read of the tree, kept; False once the tree is gone. Called beside the sampling
        thread too: a worker whose life after its baseline is shorter than the interval still gets
        a PSS figure when its caller reads it before letting it go."""
        try:
            sample = memory_usage(
                proc=self._root.pid,
                interval=0,
                include_children=True,
                backend="psutil_pss",
                timestamps=True,
            )
        except psutil.Error:
            return False
        if not _running(self._root):
            return False
        if sample and sample[0] is not None:
            mib, stamp = sample[0]
            with self._lock:
                self._pss.append((stamp, mib))
        return True

    def _sample_pss(self) -> None:
        while not self._stop.is_set():
            if not self._awake.is_set():
                self._awake.wait()
                continue
            if not self.read_pss():
                return
            self._climbed.clear()
            if self._stop.is_set():  # stop() may have set the event just before it was cleared
                return
            # The next read: after the interval, or sooner when RSS climbs, but never sooner than
            # the gap; both counted in time the tree ran. Counted in plain time, the interval
            # would pass while the tree is frozen and a read would start each of its turns,
            # holding its memory map while it is timed.
            self._wait_awake(self._pss_min_gap_s, until_climbed=False)
            self._wait_awake(self._pss_interval_s - self._pss_min_gap_s, until_climbed=True)

    def _wait_awake(self, seconds: float, until_climbed: bool) -> None:
        left = seconds
        while left > 0 and not self._stop.is_set():
            if until_climbed and self._climbed.is_set():
                return
            if not self._awake.is_set():
                self._awake.wait()
                continue
            step = min(left, _AWAKE_STEP_S)
            time.sleep(step)
            if self._awake.is_set():
                left -= step


class OwnMemory(NamedTuple):
    rss_mib: float
    pss_mib: float


def own_memory_mib() -> OwnMemory:
    """RSS and PSS of the calling process in MiB."""
    info = psutil.Process().memory_full_info()
    return OwnMemory(info.rss / MIB, info.pss / MIB)


def kill_tree(processes: list[psutil.Process], grace_s: float = 3.0) -> None:
    """Terminate, then kill, every process in the list that is still running."""
    alive = [p for p in processes if _running(p)]
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, still_alive = psutil.wait_procs(alive, timeout=grace_s)
    for process in still_alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(still_alive, timeout=grace_s)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def busy_cpu_seconds() -> float | None:
    """CPU seconds the cores this process may use have spent busy (any process), since boot."""
    try:
        per_cpu = psutil.cpu_times(percpu=True)
        usable = os.sched_getaffinity(0)
    except (OSError, AttributeError, psutil.Error):
        return None
    return sum(
        times.user
        + times.system
        + getattr(times, "nice", 0.0)
        + getattr(times, "irq", 0.0)
        + getattr(times, "softirq", 0.0)
        + getattr(times, "steal", 0.0)
        for number, times in enumerate(per_cpu)
        if number in usable
    )
