"""The parent's side of the machine's speed reference (``profiler.worker.reference_loop``)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from profiler.system.stopping import stop_signals_deferred
from profiler.worker.reference_loop import UNIT, reference_main

_ANSWER_S = 30.0  # a turn lasts a fraction of a second; a reference this late is gone


class ReferenceFailure(Exception):
    """The reference process died or stopped answering; the run goes on without it."""


@dataclass
class ReferenceTurns:
    """The reference's turns, (round, rate) each: one item a turn, so that the thread saving
    results never reads a rate without its round."""

    taken: list[tuple[int, float]] = field(default_factory=list)
    unit: str = UNIT

    def split(self) -> tuple[tuple[float, ...], tuple[int, ...]]:
        """(rates, rounds), of the turns taken so far."""
        taken = list(self.taken)
        return tuple(rate for _, rate in taken), tuple(number for number, _ in taken)

    @property
    def rounds(self) -> tuple[int, ...]:
        return self.split()[1]


class ReferenceWorkload:
    """A spawned process running the fixed workload for a given time, on request."""

    _process: Any = None

    def start(self) -> ReferenceWorkload:
        context = multiprocessing.get_context("spawn")
        self._conn, theirs = context.Pipe(duplex=True)
        self._process = context.Process(
            target=reference_main, args=(theirs, os.getpid()), name="profiler-reference"
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

    def close(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(("close",))
        self._process.join(2)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(2)
        self._conn.close()
        self._process = None
