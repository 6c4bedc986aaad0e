"""Interleaved turns: every live worker of a group is measured in short turns, round after round,
in an order shuffled each round, and the workers not taking their turn are frozen.

This is the method of randomized multiple interleaved trials (Abedi and Brecht, "Conducting
Repeatable Experiments in Highly Variable Cloud Computing Environments", ICPE 2017): on a machine
whose speed wanders over seconds, alternatives measured in interleaved turns see the same machine,
where alternatives measured one after another see different ones. Each worker is driven by a thread
of its own through the one measuring procedure (``profiler.measuring.procedure``); every request it
sends its worker is one turn, taken only when the conductor grants it, so the procedure does not
know it is interleaved. A round begins once every member asks for a turn, so each takes exactly
one per round, and turns of the same round are neighbours in time. A member keeps the machine
from the start of its turn until it asks for the next, frozen once its request is answered, so
that its thread's own work falls in nobody else's turn.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# A turn lasts a fraction of a second; one that lasts this long is not waited for any more.
PATIENCE_S = 10.0


class Solo:
    """Turns for a worker measured alone: each request is a turn of its own, never waited for."""

    def __init__(self) -> None:
        self.round = 0

    @contextmanager
    def turn(self) -> Iterator[int | None]:
        self.round += 1
        yield self.round

    def claim(self) -> None:
        pass

    def pause(self) -> None:
        pass

    def leave(self) -> None:
        pass


@dataclass
class _Member:
    freeze: Callable[[], None]
    thaw: Callable[[], None]
    companion: bool  # takes turns only while others do (the machine's reference)


class Seat:
    """One member's place at the conductor: its turns, and its leaving."""

    def __init__(self, conductor: Conductor, name: str) -> None:
        self._conductor = conductor
        self.name = name
        self._claimed: int | None = None

    @contextmanager
    def turn(self) -> Iterator[int | None]:
        """The member's next turn, thawed for it and frozen after; yields the round's number, or
        None for a companion once nobody else is left."""
        claimed, self._claimed = self._claimed, None
        with self._conductor.turn(self.name, claimed) as number:
            yield number

    def claim(self) -> None:
        """Wait for the next turn now, and keep it for the next request: a caller that times the
        request itself (pytest-benchmark's timer) must not time the wait."""
        if self._claimed is None:
            self._claimed = self._conductor.acquire(self.name)

    def pause(self) -> int | None:
        """Within a turn: freeze, let the others take theirs, and come back thawed at the next turn
        granted (the round's number): a worker that only waits holds nobody back. None: nobody
        else measures, and the turn is kept."""
        return self._conductor.pause(self.name)

    def leave(self) -> None:
        self._conductor.leave(self.name)


class Conductor:
    """Grants turns to its members one at a time, one each per round, in a shuffled order."""

    def __init__(
        self, first_round: int = 0, seed: int | None = None, patience_s: float = PATIENCE_S
    ) -> None:
        self.patience_s = patience_s
        self._held_since = 0.0
        self._set_aside: set[str] = set()
        self._changed = threading.Condition()
        self._members: dict[str, _Member] = {}
        self._waiting: set[str] = set()
        self._order: list[str] = []
        self._holder: str | None = None
        self._stopped = False
        self._random = random.Random(seed)
        self.round = first_round

    def seat(
        self,
        name: str,
        freeze: Callable[[], None],
        thaw: Callable[[], None],
        companion: bool = False,
    ) -> Seat:
        with self._changed:
            self._members[name] = _Member(freeze, thaw, companion)
        return Seat(self, name)

    def leave(self, name: str) -> None:
        with self._changed:
            self._members.pop(name, None)
            self._waiting.discard(name)
            if self._holder == name:
                self._holder = None
            self._advance()

    def stop(self) -> None:
        """Every member waiting for a turn, or asking for one from now on, is interrupted."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    @contextmanager
    def turn(self, name: str, claimed: int | None = None) -> Iterator[int | None]:
        """A turn for ``name``: the one it ``claimed`` already, or the next one it is granted."""
        number = claimed if claimed is not None else self.acquire(name)
        if number is None:
            yield None
            return
        member = self._members[name]
        member.thaw()
        try:
            yield number
        finally:
            # Frozen at once, but the machine stays this member's until it asks for its next turn
            # or leaves: what its thread does in between (deciding whether to go on, a bootstrap)
            # then falls in no other member's timed turn.
            member.freeze()

    def pause(self, name: str) -> int | None:
        """``name``'s turn, under way, ends frozen; it resumes, thawed, at its next turn. None
        where only companions are left beside it: the turn is kept, as the reference's turns
        would be all that the wait made room for."""
        with self._changed:
            if not self._others_than_companions(besides=name):
                return None
            member = self._members[name]
        member.freeze()
        number = self.acquire(name)
        member.thaw()
        return number

    def acquire(self, name: str) -> int | None:
        """Wait until ``name`` may take its turn; the round's number, or None for a companion
        that nobody is left to take turns beside."""
        with self._changed:
            if self._holder == name:
                self._holder = None  # the end of its last turn
            self._set_aside.discard(name)  # back from a turn that outlasted the others' patience
            self._waiting.add(name)
            while True:
                if self._stopped:
                    self._waiting.discard(name)
                    raise KeyboardInterrupt
                if self._members[name].companion and not self._others_than_companions():
                    self._waiting.discard(name)
                    return None
                self._lose_patience()
                self._advance()
                if self._holder == name:
                    self._waiting.discard(name)
                    return self.round
                self._changed.wait(0.5)

    def _lose_patience(self) -> None:
        """Under the lock: a turn longer than ``patience_s`` (a pipeline that hangs, a warm-up
        epoch of minutes) stops holding the others back; they go on beside it until it asks for
        its next turn, and its own ends at its timeout if it hangs."""
        if self._holder is not None and time.monotonic() - self._held_since > self.patience_s:
            self._set_aside.add(self._holder)
            self._holder = None

    def _others_than_companions(self, besides: str | None = None) -> bool:
        """Under the lock: whether a member other than ``besides`` is not a companion."""
        return any(
            not member.companion for name, member in self._members.items() if name != besides
        )

    def _advance(self) -> None:
        """Under the lock: hand the turn on, starting a round once every member asks for one."""
        if self._holder is not None:
            return
        self._order = [
            name for name in self._order if name in self._members and name not in self._set_aside
        ]
        if not self._order:
            everyone = set(self._members) - self._set_aside
            takers = any(not self._members[name].companion for name in everyone)
            if not takers or everyone - self._waiting:
                self._changed.notify_all()  # a companion may be waiting to hear it is done
                return
            self._order = sorted(everyone)
            self._random.shuffle(self._order)
            self.round += 1
        self._holder = self._order.pop(0)
        self._held_since = time.monotonic()
        self._changed.notify_all()
