"""The worker's own deadline counts its own time: not the waits for the parent's requests, nor time
spent frozen, as the parent's deadline does not."""

from __future__ import annotations

import os

import pytest

from profiler.system import lifeline
from profiler.system.lifeline import DEADLINE_GRACE_S, Lifeline


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(lifeline.time, "monotonic", clock.monotonic)
    return clock


def _check_at(line: Lifeline, clock: Clock, seconds: float) -> bool:
    """A check half a second after the previous one, ``seconds`` after the clock's start."""
    clock.now = 1000.0 + seconds
    return line.expired(clock.now, clock.now - 0.5)


def test_the_deadline_passes_after_the_timeout_and_its_grace(clock):
    line = Lifeline(os.getpid())
    assert not line.expired(clock.now, clock.now - 0.5)  # no deadline set: never
    line.set_deadline(10.0)
    assert not _check_at(line, clock, 10.0 + DEADLINE_GRACE_S - 0.1)
    assert _check_at(line, clock, 10.0 + DEADLINE_GRACE_S + 0.1)


def test_waits_for_the_parents_requests_move_the_deadline_on_by_their_length(clock):
    line = Lifeline(os.getpid())
    line.set_deadline(10.0)  # due at 25 s, grace included
    seen = []

    def receive():
        # From 4 s to 104 s waiting for a turn, never frozen (a cluster's worker): past the
        # deadline meanwhile, and not expired for it.
        seen.append(_check_at(line, clock, 60.0))
        clock.now = 1104.0
        return ("paced",)

    clock.now = 1004.0
    assert line.waiting_for(receive) == ("paced",)
    assert seen == [False]
    # The deadline moved on by the 100 s waited: 125 s.
    assert not _check_at(line, clock, 124.9)
    assert _check_at(line, clock, 125.1)


def test_a_check_held_back_by_a_freeze_moves_the_deadline_on_by_the_freeze(clock):
    line = Lifeline(os.getpid())
    line.set_deadline(10.0)
    # Frozen outside a wait for 30 s: the check comes 30.5 s after the previous one.
    clock.now += 30.5
    assert not line.expired(clock.now, clock.now - 30.5)
    assert not _check_at(line, clock, 10.0 + DEADLINE_GRACE_S + 30.0 - 0.2)
    assert _check_at(line, clock, 10.0 + DEADLINE_GRACE_S + 30.0 + 0.2)
