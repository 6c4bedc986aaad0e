"""What the worker answers to each request, driven in this process on a plain list of batches.

The dataset is 70 samples in batches of 16: five batches an epoch, the last one of 6. The stream
runs on across epochs: which window holds which batches, how many samples, which epochs it saw end
and whether it began one follow from that alone (an epoch's end is seen when the next batch is asked
for). Only counts and marks are checked, never a duration.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from profiler.base.settings import CONSUMER_SLEEP, Target
from profiler.data.fingerprint import FingerprintBuilder
from profiler.measuring.worker_session import TURN_LEAD_BATCHES, WorkerSession
from profiler.worker import loops
from profiler.worker.loops import EpochTiming, PacedSteps, WindowTiming
from profiler.worker.main import WorkerTask, _Server
from tests.fake_session import task as fake_task
from tests.fakes import VirtualTime

SIZES = [16, 16, 16, 16, 6]


class Epochs:
    """Re-iterable: every iteration is an epoch of the same five batches; counts the epochs
    begun."""

    def __init__(self) -> None:
        self.begun = 0
        start = np.cumsum([0, *SIZES])
        self.batches = [
            (np.full((n, 2, 2, 1), i, np.float32), np.arange(a, a + n, dtype=np.int32))
            for i, (a, n) in enumerate(zip(start, SIZES, strict=False))
        ]

    def __iter__(self):
        self.begun += 1
        return iter(self.batches)


@pytest.fixture
def served():
    dataset = Epochs()
    server = _Server(dataset, classes=10, before_epoch=None)
    kind, warmup = server.answer(("epoch",))
    assert kind == "epoch" and isinstance(warmup, EpochTiming)
    assert (warmup.batches, warmup.samples) == (5, 70)
    return server, dataset


def _window(server, batches: int, restart: bool = False, lead: int = 0) -> WindowTiming:
    kind, window = server.answer(("window", batches, restart, lead))
    assert kind == "window" and window.seconds >= 0
    return window


def test_windows_continue_the_stream_across_epochs(served):
    server, dataset = served
    # A restart leaves the epoch's first batch behind, untimed: the rest of the epoch (16 x 3 + 6)
    # and three batches of the next (48), whose start falls inside the window.
    first = _window(server, 7, restart=True, lead=TURN_LEAD_BATCHES)
    assert (first.batches, first.samples, first.epochs_ended, first.began_epoch) == (
        7,
        102,
        1,
        False,
    )
    assert len(first.epoch_ends) == 1 and first.started <= first.epoch_ends[0]
    second = _window(server, 3)  # the rest of that epoch (16 + 6) and the next one's first batch
    assert (second.samples, second.epochs_ended, second.began_epoch) == (38, 1, False)
    third = _window(server, 2)  # two more of that epoch; its end not seen yet
    assert (third.samples, third.epochs_ended, third.began_epoch) == (32, 0, False)
    assert dataset.begun == 1 + 3  # the warm-up's epoch, then three of the stream


def test_a_window_that_crosses_into_an_epoch_did_not_begin_one(served):
    server, _ = served
    _window(server, 3, restart=True, lead=TURN_LEAD_BATCHES)
    # the 4th and 5th batches (16 + 6), then the next epoch's first (16)
    window = _window(server, 3)
    assert (window.samples, window.epochs_ended, window.began_epoch) == (38, 1, False)


def test_a_restart_finishes_the_epoch_untimed_and_starts_the_next_one_batch_in(served):
    server, dataset = served
    _window(server, 2, restart=True)
    # The 2 batches left and the next epoch's first are consumed untimed: an epoch's worth of
    # batches from there holds the next epoch's start in its middle, not right after a thaw.
    window = _window(server, 5, restart=True, lead=TURN_LEAD_BATCHES)
    assert (window.samples, window.epochs_ended, window.began_epoch) == (54 + 16, 1, False)
    assert dataset.begun == 1 + 3


def test_a_worker_never_frozen_restarts_timed_from_the_epochs_start(served):
    server, dataset = served
    _window(server, 2, restart=True)
    # No lead: the 3 batches left are consumed untimed, and the window is the next whole epoch,
    # its start timed (its end is seen when the next batch is asked for).
    window = _window(server, 5, restart=True)
    assert (window.samples, window.epochs_ended, window.began_epoch) == (70, 0, True)
    assert dataset.begun == 1 + 2


def test_paced_steps_mark_the_steps_that_begin_an_epoch(served):
    server, _ = served
    kind, paced = server.answer(("paced", 12, 0.0, CONSUMER_SLEEP))
    assert kind == "paced" and isinstance(paced, PacedSteps)
    assert paced.epoch_starts == (True, False, False, False, False) * 2 + (True, False)
    assert (
        len(paced.waits_s) == len(paced.steps_s) == 12 and min(paced.waits_s + paced.steps_s) >= 0
    )
    assert paced.device == "simulated"
    # The stream goes on: 3 batches of the third epoch are left.
    _, more = server.answer(("paced", 4, 0.0, CONSUMER_SLEEP))
    assert more.epoch_starts == (False, False, False, True)


def test_the_floor_serves_the_warm_up_s_first_batch_and_never_begins_an_epoch(served):
    server, dataset = served
    begun = dataset.begun
    kind, floor = server.answer(("floor", 6, 0.0, CONSUMER_SLEEP))
    assert kind == "floor" and floor.epoch_starts == (False,) * 6 and len(floor.waits_s) == 6
    assert dataset.begun == begun  # an always-ready source: the pipeline is not read


def test_the_floor_needs_a_warm_up_batch():
    with pytest.raises(RuntimeError, match="warm-up"):
        _Server(Epochs(), classes=10, before_epoch=None).answer(("floor", 2, 0.0, CONSUMER_SLEEP))


def test_the_fingerprint_is_of_one_whole_epoch(served):
    server, dataset = served
    _window(server, 2, restart=True)  # mid-epoch: the fingerprint's epoch is a fresh, whole one
    kind, fingerprint = server.answer(("fingerprint",))
    builder = FingerprintBuilder()
    for images, labels in dataset.batches:
        builder.add_batch(images, labels)
    assert kind == "fingerprint" and fingerprint == builder.build()
    assert (fingerprint.samples, fingerprint.batches) == (70, 5)


def test_elements_that_are_not_batches_and_unknown_requests_are_refused():
    server = _Server([{"image": 1, "label": 2}], classes=None, before_epoch=None)
    with pytest.raises(ValueError, match="dict"):
        server.answer(("fingerprint",))
    with pytest.raises(ValueError, match="unknown request 'reboot'"):
        server.answer(("reboot",))


def test_every_epoch_of_the_stream_runs_the_hook_before_it():
    dataset, calls = Epochs(), []
    server = _Server(dataset, classes=10, before_epoch=lambda: calls.append(dataset.begun))
    server.answer(("epoch",))
    server.answer(("window", 12, True))  # two whole epochs and the first 2 batches of a third
    # Run before each epoch's iterator is made: the warm-up's, then the stream's three.
    assert calls == [0, 1, 2, 3] and dataset.begun == 4


class _Ended(Exception):
    """Stands in for the worker's immediate exit, which would end this test process."""


def test_a_worker_whose_folder_is_gone_tells_the_parent_without_a_traceback(
    tmp_path, monkeypatch, capfd
):
    # A stop while a worker starts: the parent has already removed the task's scratch folder.
    from profiler.worker import main

    gone = tmp_path / "removed-by-the-parent"
    task = WorkerTask(Target.scenario("preload"), None, 16, 2, gone, gone / "worker.log")
    sent = []

    class Conn:
        def send(self, message):
            sent.append(message)

    monkeypatch.setattr(main, "signals_as_a_child", lambda: None)
    monkeypatch.setattr(main.Lifeline, "of_this_process", lambda: main.Lifeline(os.getpid()))
    monkeypatch.setattr(main.Lifeline, "start", lambda self: self)
    monkeypatch.setattr(main, "_exit_at_once", lambda: (_ for _ in ()).throw(_Ended()))
    with pytest.raises(_Ended):
        main.worker_main(task, Conn())
    assert len(sent) == 1 and sent[0][0] == "error"
    assert (
        sent[0][1]
        == f"cannot open the worker's log {gone / 'worker.log'}: No such file or directory"
    )
    assert "Traceback" not in capfd.readouterr().err


def test_only_a_worker_that_is_frozen_between_turns_skips_batches_made_meanwhile():
    session = WorkerSession(fake_task(), timeout_s=1.0)
    sent: list[tuple] = []
    session._request = lambda request, answer: sent.append(request) or (answer, None)
    session.window(5)
    session.freezable = False  # a pool started anew each epoch: its start is timed
    session.window(5)
    assert [request[3] for request in sent] == [TURN_LEAD_BATCHES, 0]


class Bursts:
    """Epochs of 12 batches of 4 that come three at once: a sleep of ``pause_s`` before every
    third, on ``clock``."""

    def __init__(self, pause_s: float, clock: VirtualTime) -> None:
        self.pause_s = pause_s
        self.clock = clock

    def __iter__(self):
        for number in range(12):
            if number % 3 == 0:
                self.clock.sleep(self.pause_s)
            yield np.zeros((4, 2, 2, 1), np.float32), np.zeros(4, np.int32)


def test_a_window_counts_the_batches_it_waited_for(monkeypatch):
    # On a real clock a batch that came at once took microseconds, but a loaded machine can stall
    # the thread longer than the quarter of the mean wait that tells the two apart.
    clock = VirtualTime()
    monkeypatch.setattr(loops, "time", clock)
    server = _Server(Bursts(pause_s=0.040, clock=clock), classes=10, before_epoch=None)
    server.answer(("epoch",))
    # The window begins the epoch: its first batch (its sleep, and a new iterator) is left out, and
    # of the 11 after it, 3 were waited for.
    window = _window(server, 12, restart=True)
    assert (window.batches, window.steady, window.waited) == (12, 11, 3)
    assert window.burst == pytest.approx(11 / 3)
    assert window.seconds == pytest.approx(4 * 0.040)
    # The next window begins the next epoch: of the 5 after its first batch, one was waited for.
    after = _window(server, 6)
    assert (after.batches, after.steady, after.waited) == (6, 5, 1)
