"""A worker session without a worker: the real ``WorkerSession`` with its pipe replaced by a script.

``ScriptedSession`` answers every request the way a worker would, from figures a test chose: window
rates, paced waits, CPU spent per role. Its clock (``FakeClock``) moves by exactly what each answer
says it lasted, so the procedure's time caps fall where arithmetic puts them. No process starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from profiler.base.settings import Target
from profiler.measuring.worker_session import WorkerSession
from profiler.strategy.scenario import Helpers
from profiler.worker.loops import EpochTiming, PacedSteps, WindowTiming
from profiler.worker.main import ClosingReport, WorkerTask

WORKER_PID = 100


class FakeClock:
    """time.monotonic that only moves when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeProcess:
    """What the session reads of a psutil.Process: its pid, its parent, its CPU times."""

    pid: int
    parent: int
    user: float = 0.0
    system: float = 0.0
    children_user: float = 0.0
    children_system: float = 0.0
    gone: bool = False

    def cpu_times(self) -> SimpleNamespace:
        if self.gone:
            import psutil

            raise psutil.NoSuchProcess(self.pid)
        return SimpleNamespace(
            user=self.user,
            system=self.system,
            children_user=self.children_user,
            children_system=self.children_system,
        )

    def ppid(self) -> int:
        return self.parent


@dataclass
class FakeSampler:
    processes_seen: list[FakeProcess] = field(default_factory=list)

    pss_reads: int = 0

    def processes(self) -> list[FakeProcess]:
        return list(self.processes_seen)

    def read_pss(self) -> bool:
        self.pss_reads += 1
        return True


def task(batch_size: int = 32) -> WorkerTask:
    return WorkerTask(
        Target.scenario("scripted"), None, batch_size, 2, Path("/nonexistent"), Path("/nonexistent")
    )


class ScriptedSession(WorkerSession):
    """A WorkerSession whose requests are answered by a script instead of a worker process.

    ``rates``: samples/s of each flat-out window in turn; each window holds ``batches`` batches of
    ``batch_size`` samples, starts an epoch where ``per_epoch`` divides the batches so far, and
    lasts samples / rate. ``wait_of(step)``: the wait of the n-th paced step that does not begin
    an epoch; a step that begins one waits ``epoch_start_wait_s``. ``cpu_per_window``: pid -> user
    CPU seconds each window costs that process.
    """

    def __init__(
        self,
        warmup: EpochTiming,
        rates: Sequence[float],
        *,
        clock: FakeClock,
        wait_of: Any = lambda n: 0.005,
        step_s: float = 0.020,
        floor_wait_s: float = 0.0005,
        epoch_start_wait_s: float = 0.050,
        processes: Sequence[FakeProcess] = (),
        cpu_per_window: dict[int, float] | None = None,
        roles: dict[int, str] | None = None,
        batch_size: int = 32,
        busy_cpu: Any = None,
    ) -> None:
        super().__init__(task(batch_size), timeout_s=300.0)
        # Every core's busy seconds, read at each turn's start and end as the real session does.
        self.busy_cpu = busy_cpu or (lambda: None)
        self.warmup, self.rates, self.clock = warmup, list(rates), clock
        self.wait_of, self.step_s, self.floor_wait_s = wait_of, step_s, floor_wait_s
        self.epoch_start_wait_s = epoch_start_wait_s
        self.batch_size = batch_size
        self.helpers = Helpers(roles=dict(roles or {}))
        self.build_s = 0.25
        self._process = SimpleNamespace(pid=WORKER_PID)
        self._sampler = FakeSampler(list(processes) or [FakeProcess(WORKER_PID, 1)])
        self.cpu_per_window = cpu_per_window or {}
        self.requests: list[tuple[Any, ...]] = []
        self.windows: list[WindowTiming] = []
        self.position = 0  # batches of the current epoch already delivered
        self.steady = 0  # paced steps so far that did not begin an epoch
        self.closed = False

    def phase(self, name: str) -> None:
        self.phases.append((name, self.clock.now))

    def _request(self, request: tuple[Any, ...], answer: str) -> tuple[Any, ...]:
        busy, started = self.busy_cpu(), self.clock.now
        answered = self._answer(request, answer)
        ended = self.busy_cpu()
        self.turn_wall_s = self.clock.now - started
        self.turn_busy_s = None if busy is None or ended is None else ended - busy
        return answered

    def _answer(self, request: tuple[Any, ...], answer: str) -> tuple[Any, ...]:
        self.requests.append(request)
        kind = request[0]
        assert kind == answer or (kind, answer) == ("close", "closed"), (kind, answer)
        if kind == "epoch":
            self.position = 0
            self._spend(5.0)  # the warm-up's CPU: before the flat-out phase, counted in none of it
            return ("epoch", self.warmup)
        if kind == "window":
            return ("window", self._window(*request[1:]))
        if kind in ("paced", "floor"):
            return (kind, self._paced(request))
        if kind == "autotune":
            return ("autotune", ())
        if kind == "fingerprint":
            return ("fingerprint", None)
        if kind == "close":
            self.closed = True
            return (
                "closed",
                ClosingReport(ru_maxrss_mib=321.0, tf_data_options={"autotune": True}),
            )
        raise AssertionError(f"unexpected request {request!r}")

    def _spend(self, scale: float = 1.0) -> None:
        by_pid = {process.pid: process for process in self._sampler.processes_seen}
        for pid, seconds in self.cpu_per_window.items():
            by_pid[pid].user += seconds * scale

    def _window(self, batches: int, restart: bool, lead: int = 0) -> WindowTiming:
        per_epoch = self.warmup.batches
        if restart and self.position:
            self.position = 0  # the rest of the epoch consumed untimed
        began = self.position in (0, per_epoch)  # its first batch is the first of an epoch
        rate = self.rates[len(self.windows)]
        samples = batches * self.batch_size
        seconds = samples / rate
        started = self.clock.now
        ends = []
        done = self.position
        for number in range(batches):  # an epoch's end is seen as the next batch is asked for
            if done == per_epoch:
                ends.append(started + seconds * number / batches)
                done = 0
            done += 1
        self.position = done
        self.clock.advance(seconds)
        self._spend()
        window = WindowTiming(started, seconds, batches, samples, tuple(ends), len(ends), began)
        self.windows.append(window)
        return window

    def _paced(self, request: tuple[Any, ...]) -> PacedSteps:
        count = request[1]
        if request[0] == "floor":
            # 10% either side, alternating, of the floor: its mean over an even count, and a
            # jitter, as a real floor has.
            waits = tuple(self.floor_wait_s * (1.1 if i % 2 else 0.9) for i in range(count))
            self.clock.advance(sum(waits) + count * self.step_s)
            return PacedSteps(waits, (self.step_s,) * count, (False,) * count, device="simulated")
        waits, starts = [], []
        for _ in range(count):
            first = self.position == self.warmup.batches
            self.position = 1 if first else self.position + 1
            starts.append(first)
            if first:
                waits.append(self.epoch_start_wait_s)
            else:
                waits.append(self.wait_of(self.steady))
                self.steady += 1
        self.clock.advance(sum(waits) + count * self.step_s)
        return PacedSteps(tuple(waits), (self.step_s,) * count, tuple(starts), device="simulated")
