"""The conductor of interleaved turns, with threads standing in for workers."""

from __future__ import annotations

import threading

import pytest

from profiler.measuring.turns import Conductor, Solo


class Member:
    def __init__(self, conductor: Conductor, name: str, log: list, companion: bool = False):
        self.name, self.log = name, log
        self.seat = conductor.seat(name, self.freeze, self.thaw, companion=companion)
        self.rounds: list[int] = []

    def freeze(self) -> None:
        self.log.append(("freeze", self.name))

    def thaw(self) -> None:
        self.log.append(("thaw", self.name))

    def take(self, turns: int) -> None:
        try:
            for _ in range(turns):
                with self.seat.turn() as number:
                    self.log.append(("work", self.name))
                    self.rounds.append(number)
        finally:
            self.seat.leave()

    def accompany(self) -> None:
        try:
            while True:
                with self.seat.turn() as number:
                    if number is None:
                        return
                    self.log.append(("work", self.name))
                    self.rounds.append(number)
        finally:
            self.seat.leave()


def _run(targets) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), "a member never got its turn"


def _one_at_a_time(log: list) -> None:
    """One member at a time: each one's work lies between its own thaw and freeze."""
    running = None
    for kind, name in log:
        if kind == "thaw":
            assert running is None
            running = name
        elif kind == "work":
            assert running == name
        elif kind == "freeze":
            assert running == name
            running = None


def test_each_member_takes_one_turn_a_round_alone_thawed_and_in_a_shuffled_order():
    log: list = []
    conductor = Conductor(seed=1)
    members = [Member(conductor, name, log) for name in "abc"]
    reference = Member(conductor, "ref", log, companion=True)
    _run([*(lambda m=m: m.take(8) for m in members), reference.accompany])
    for member in [*members, reference]:
        assert member.rounds == list(range(1, 9)), member.name
    work = [name for kind, name in log if kind == "work"]
    orders = {tuple(work[i : i + 4]) for i in range(0, len(work), 4)}
    assert all(sorted(order) == ["a", "b", "c", "ref"] for order in orders)
    assert len(orders) > 1  # shuffled, not a fixed order
    _one_at_a_time(log)


def test_a_member_that_leaves_early_does_not_hold_the_others_up():
    log: list = []
    conductor = Conductor(seed=2)
    short, long = Member(conductor, "short", log), Member(conductor, "long", log)
    _run([lambda: short.take(2), lambda: long.take(6)])
    assert short.rounds == [1, 2] and long.rounds == list(range(1, 7))


def test_stop_interrupts_every_member_waiting_for_a_turn():
    conductor = Conductor(seed=3)
    log: list = []
    waiting = Member(conductor, "waiting", log)
    Member(conductor, "never asks", log)  # a round cannot begin: the first member waits
    caught: list = []

    def wait() -> None:
        try:
            waiting.take(1)
        except KeyboardInterrupt:
            caught.append(True)

    thread = threading.Thread(target=wait)
    thread.start()
    conductor.stop()
    thread.join(5)
    assert caught == [True]


def test_a_claimed_turn_is_the_next_request_s_and_the_wait_falls_before_it():
    conductor = Conductor(seed=4)
    log: list = []
    claimer, other = Member(conductor, "claimer", log), Member(conductor, "other", log)

    def claim_then_work() -> None:
        try:
            for _ in range(3):
                claimer.seat.claim()
                log.append(("claimed", "claimer"))
                with claimer.seat.turn() as number:
                    log.append(("work", "claimer"))
                    claimer.rounds.append(number)
        finally:
            claimer.seat.leave()

    _run([claim_then_work, lambda: other.take(3)])
    assert claimer.rounds == [1, 2, 3]
    for index, entry in enumerate(log):
        if entry == ("claimed", "claimer"):  # nothing of another member's between claim and turn
            assert log[index + 1] == ("thaw", "claimer")


def test_solo_seats_number_their_requests():
    from profiler.measuring.turns import Solo

    solo = Solo()
    numbers = []
    for _ in range(3):
        with solo.turn() as number:
            numbers.append(number)
    assert numbers == [1, 2, 3]
    with pytest.raises(KeyError):
        Conductor().acquire("nobody")


def test_a_turn_that_outlasts_the_patience_stops_holding_the_others_back():
    import time

    log: list = []
    conductor = Conductor(seed=5, patience_s=0.2)
    stuck, other = Member(conductor, "stuck", log), Member(conductor, "other", log)

    def hang_once() -> None:
        try:
            with stuck.seat.turn():
                time.sleep(1.5)  # a pipeline that hangs in its turn
                log.append(("work", "stuck"))
        finally:
            stuck.seat.leave()

    _run([hang_once, lambda: other.take(5)])
    work = [name for kind, name in log if kind == "work"]
    assert work[-1] == "stuck" and work.count("other") == 5  # the other went on meanwhile
    assert len(other.rounds) == 5


def test_a_member_that_pauses_lets_the_others_take_their_turns_and_resumes_thawed():
    """A worker whose iterator's release waits steps aside within its turn: frozen, the others
    take theirs, and it goes on thawed at its next turn, one member at a time throughout."""
    log: list = []
    conductor = Conductor(seed=3)
    a, b = Member(conductor, "a", log), Member(conductor, "b", log)

    def pausing() -> None:
        try:
            for _ in range(3):
                with a.seat.turn() as number:
                    log.append(("work", "a"))
                    a.rounds.append(number)
                    a.rounds.append(a.seat.pause())
                    log.append(("work", "a"))
        finally:
            a.seat.leave()

    _run([pausing, lambda: b.take(6)])
    assert a.rounds == b.rounds == [1, 2, 3, 4, 5, 6]  # each pause resumed in the next round
    _one_at_a_time(log)
    assert [entry for entry in log if entry[1] == "b"].count(("work", "b")) == 6


def test_a_solo_seat_pauses_in_place():
    assert Solo().pause() is None


def test_a_member_beside_companions_only_keeps_its_turn_when_it_pauses():
    log: list = []
    conductor = Conductor(seed=1)
    a = Member(conductor, "a", log)
    reference = Member(conductor, "ref", log, companion=True)
    paused: list = []

    def pausing() -> None:
        try:
            for _ in range(3):
                with a.seat.turn():
                    paused.append(a.seat.pause())
        finally:
            a.seat.leave()

    _run([pausing, reference.accompany])
    assert paused == [None, None, None]
    # Never frozen within its turns: each thaw of its own is followed by its freeze.
    own = [kind for kind, name in log if name == "a"]
    assert own == ["thaw", "freeze"] * 3
