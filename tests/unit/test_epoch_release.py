"""The spent iterator is let go of on a thread of its own, never in a window or a paced wait: a
frozen tf.data worker's release waits 190 ms and more on its thread pool (docs/measurement.md,
"Epoch ends"). Ground truth: an iterator whose release sleeps a known 0.5 s, over batches that
come at once."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from profiler.worker.loops import BatchStream, flat_out_epoch, flat_out_window, paced_steps
from profiler.worker.release import Handover, Releaser

RELEASE_S = 0.5


class _Epochs:
    """Three batches of 4 samples an epoch; each epoch's iterator sleeps as it is released, and
    says on which thread."""

    def __init__(self) -> None:
        self.batches = [(np.zeros((4, 2)), np.arange(4)) for _ in range(3)]
        self.released_on: list[str] = []
        self.released = threading.Event()

    def __iter__(self):
        return _SlowToRelease(self)


class _SlowToRelease:
    def __init__(self, epochs: _Epochs) -> None:
        self._epochs = epochs
        self._batches = iter(epochs.batches)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._batches)

    def __del__(self) -> None:
        time.sleep(RELEASE_S)
        self._epochs.released_on.append(threading.current_thread().name)
        self._epochs.released.set()


def test_a_window_across_an_epoch_end_lets_go_of_the_spent_iterator_elsewhere():
    epochs = _Epochs()
    stream = BatchStream(epochs)
    window = flat_out_window(stream, 5)  # three batches, the epoch's end, two of the next
    assert (window.batches, window.samples, window.epochs_ended) == (5, 20, 1)
    assert window.seconds < RELEASE_S  # the release was in no part of it
    assert epochs.released.wait(10 * RELEASE_S)
    assert epochs.released_on == ["profiler-release"]


def test_a_paced_epoch_start_waits_without_the_release():
    epochs = _Epochs()
    stream = BatchStream(epochs)
    stream.next()
    stream.finish_epoch()  # as a restart does: the spent iterator is kept until the next is made
    steps = paced_steps(stream, lambda batch: None, 2)
    assert steps.epoch_starts == (True, False)
    assert steps.waits_s[0] < RELEASE_S
    assert epochs.released.wait(10 * RELEASE_S)
    assert epochs.released_on == ["profiler-release"]


def test_a_warm_up_epoch_ends_with_its_last_batch_and_its_spent_iterator_is_gone_when_it_returns():
    """A training loop's epoch ends with its last batch; what tf.data's release waits for (its
    autotuning thread asleep) is in no epoch. The release is still waited for: two iterators
    side by side raised cache_file's peak RSS from 62 to 105 MiB."""
    epochs = _Epochs()
    epoch = flat_out_epoch(epochs, Releaser())
    assert (epoch.batches, epoch.samples) == (3, 12)
    assert epoch.seconds < RELEASE_S  # the release was in no part of it...
    assert epochs.released.is_set()  # ...and it was over before the epoch was reported
    assert epochs.released_on == ["profiler-release"]


def test_the_next_iterator_is_made_only_once_the_spent_one_is_gone():
    made_after_release: list[bool] = []

    class _Watched(_Epochs):
        def __iter__(self):
            made_after_release.append(len(self.released_on))
            return super().__iter__()

    epochs = _Watched()
    stream = BatchStream(epochs)
    flat_out_window(stream, 7)  # three batches, an epoch's end, three, an end, one
    assert made_after_release == [0, 1, 2]  # each made once every spent one before it was gone


def test_a_release_that_waits_hands_the_machine_over_and_goes_on_only_once_answered():
    """Interleaved, a release that waits held every frozen worker back with it: the worker says
    so before it waits, and times nothing more until the parent answers that its turn is back."""
    epochs = _Epochs()
    stream = BatchStream(epochs)
    told: list[tuple[str, bool]] = []

    def receive() -> tuple[str]:
        told.append(("receive", epochs.released.is_set()))
        return ("on",)

    stream.releaser.handover = Handover(
        lambda m: told.append((m[0], epochs.released.is_set())), receive
    )
    window = flat_out_window(stream, 5)  # three batches, the epoch's end, two of the next
    # Handed over while it waits, every 50 ms here (the parent answers at once), and no more
    # once it is gone.
    assert told[0] == ("aside", False)
    assert told[-1] == ("receive", False)
    assert [kind for kind, _ in told] == ["aside", "receive"] * (len(told) // 2)
    assert 1 <= len(told) // 2 <= RELEASE_S / 0.05 + 1
    assert epochs.released.is_set()
    assert (window.batches, window.epochs_ended) == (5, 1)
    assert window.seconds < RELEASE_S


def test_a_release_over_at_once_hands_nothing_over():
    batch = (np.zeros((4, 2)), np.arange(4))
    stream = BatchStream([batch] * 3)  # a list's iterator goes at once

    def never(*message: object) -> None:
        raise AssertionError(f"handed over: {message}")

    stream.releaser.handover = Handover(never, never)
    window = flat_out_window(stream, 7)  # two epochs' ends
    assert (window.batches, window.epochs_ended) == (7, 2)


def test_a_handover_answered_with_anything_but_on_is_refused():
    epochs = _Epochs()
    stream = BatchStream(epochs)
    stream.releaser.handover = Handover(lambda message: None, lambda: ("close",))
    with pytest.raises(ValueError, match="answered 'on' or 'hold'"):
        flat_out_window(stream, 5)


def test_a_handover_the_parent_holds_waits_for_the_release_in_place():
    """Nobody else measures (a worker alone, or beside the machine's reference only): the parent
    keeps the turn, and the release is waited for once, in place."""
    epochs = _Epochs()
    stream = BatchStream(epochs)
    told: list[str] = []
    stream.releaser.handover = Handover(lambda m: told.append(m[0]), lambda: ("hold",))
    window = flat_out_window(stream, 5)
    assert told == ["aside"]
    assert epochs.released.is_set()
    assert window.seconds < RELEASE_S
