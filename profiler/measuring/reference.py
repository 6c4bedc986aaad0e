"""The parent's side of the machine's speed reference (``profiler.worker.reference_loop``)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from profiler.measuring.turns import Seat
from profiler.system.stopping import stop_signals_deferred
from profiler.worker.reference_loop import UNIT, reference_main

_ANSWER_S = 30.0  # a turn lasts a fraction of a second; a reference this late is gone


class ReferenceFailure(Exception):
    """The reference process died or stopped answering; the run goes on without it."""


class WorkFailure(Exception):
    """The run's sample work failed in the reference process (a file changed, say): the ceiling
    goes without its turns."""


@dataclass
class ReferenceTurns:
    """The reference's turns, (round, rate) each: one item a turn, so that the thread saving
    results never reads a rate without its round."""

    taken: list[tuple[int, float]] = field(default_factory=list)
    unit: str = UNIT
    # The run's own sample work on one core, samples/s, (round, rate) a turn: the ceiling's work
    # timed in the same rounds as the strategies.
    work: list[tuple[int, float]] = field(default_factory=list)
    work_failed: bool = False

    def split(self) -> tuple[tuple[float, ...], tuple[int, ...]]:
        """(rates, rounds), of the turns taken so far."""
        taken = list(self.taken)
        return tuple(rate for _, rate in taken), tuple(number for number, _ in taken)

    def split_work(self) -> tuple[tuple[float, ...], tuple[int, ...]]:
        work = list(self.work)
        return tuple(rate for _, rate in work), tuple(number for number, _ in work)

    @property
    def rounds(self) -> tuple[int, ...]:
        return self.split()[1]


class ReferenceWorkload:
    """A spawned process running the fixed workload for a given time, on request."""

    _process: Any = None

    def start(self) -> ReferenceWorkload:
        context = multiprocessing.get_context("spawn")
        self._conn, theirs = context.Pipe(duplex=True)
        # Daemonic: were it ever left running, the exit ends it instead of waiting on it forever.
        self._process = context.Process(
            target=reference_main,
            args=(theirs, os.getpid()),
            name="profiler-reference",
            daemon=True,
        )
        with stop_signals_deferred():  # a child half started would outlive the run
            self._process.start()
        theirs.close()
        return self

    def guard(self, pids: Iterable[int]) -> None:
        """Processes to wake should this one die without stopping them (they may be frozen)."""
        # A reference that is gone guards nothing: the parent's own cleanup is left.
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(("guard", list(pids)))

    def run(self, seconds: float) -> float:
        """The workload's rate over one turn of ``seconds``."""
        try:
            self._conn.send(("run", seconds))
            if not self._conn.poll(seconds + _ANSWER_S):
                raise ReferenceFailure("the reference workload stopped answering")
            _, decodes, spent = self._conn.recv()
        except (BrokenPipeError, EOFError, OSError) as error:
            raise ReferenceFailure(f"the reference workload ended ({error})") from None
        return decodes / spent

    def give_source(self, source: Any) -> None:
        """The run's data, whose sample work ``run_work`` times."""
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(("source", source))

    def run_work(self, seconds: float) -> float:
        """The run's sample work, samples/s on one core, over one turn of ``seconds``."""
        try:
            self._conn.send(("work", seconds))
            if not self._conn.poll(seconds + _ANSWER_S):
                raise ReferenceFailure("the reference workload stopped answering")
            answer = self._conn.recv()
        except (BrokenPipeError, EOFError, OSError) as error:
            raise ReferenceFailure(f"the reference workload ended ({error})") from None
        if answer[0] != "ran":
            raise WorkFailure(answer[1])
        return float(answer[1] / answer[2])

    def close(self) -> None:
        if self._process is None:
            return
        # A stop signal waits the few seconds this takes: one landing before "close" was sent
        # left the process waiting for it, and the run's exit waiting on the process.
        with stop_signals_deferred():
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(("close",))
            self._process.join(2)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(2)
            self._conn.close()
            self._process = None


def take_turns(
    reference: ReferenceWorkload, seat: Seat, turns: ReferenceTurns, window_s: float, work: bool
) -> None:
    """The reference's turns, one a round, as long as any worker takes turns; with ``work``, the
    run's sample work for half a window in each, until it fails."""
    try:
        while True:
            with seat.turn() as number:
                if number is None:
                    return
                rate = reference.run(window_s)
                worked = _work_turn(reference, turns, window_s / 2) if work else None
            turns.taken.append((number, rate))
            if worked is not None:
                turns.work.append((number, worked))
    except (ReferenceFailure, KeyboardInterrupt):
        pass  # the figures go without the reference; the run goes on
    finally:
        seat.leave()


def _work_turn(reference: ReferenceWorkload, turns: ReferenceTurns, seconds: float) -> float | None:
    if turns.work_failed:
        return None
    try:
        return reference.run_work(seconds)
    except WorkFailure:
        turns.work_failed = True
        return None
