"""The spent iterator is let go of on a thread of its own, never in a window or a paced wait: a
frozen tf.data worker's release waits 190 ms and more on its thread pool (docs/measurement.md,
"Epoch ends"). Ground truth: an iterator whose release sleeps a known 0.5 s, over batches that
come at once."""

from __future__ import annotations

import threading
import time

import numpy as np

from profiler.worker.loops import BatchStream, flat_out_epoch, flat_out_window, paced_steps
from profiler.worker.release import Releaser

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


class _Held:
    """Three batches of 4 samples an epoch; each epoch's iterator, let go of, holds its release
    until the test lets it end."""

    def __init__(self) -> None:
        self.batches = [(np.zeros((4, 2)), np.arange(4)) for _ in range(3)]
        self.may_end = threading.Event()
        self.ended: list[int] = []

    def __iter__(self):
        return _HeldIterator(self)


class _HeldIterator:
    def __init__(self, epochs: _Held) -> None:
        self._epochs = epochs
        self._batches = iter(epochs.batches)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._batches)

    def __del__(self) -> None:
        self._epochs.may_end.wait(30)
        self._epochs.ended.append(1)


def test_the_stream_goes_on_while_the_spent_iterator_is_still_being_let_go_of():
    """What a release waits for (tf.data's autotuning thread asleep, up to 60 s) holds no turn."""
    epochs = _Held()
    stream = BatchStream(epochs)
    window = flat_out_window(stream, 5)  # three batches, the epoch's end, two of the next
    assert (window.batches, window.epochs_ended) == (5, 1)
    assert epochs.ended == []  # returned while the spent iterator's release still waits
    epochs.may_end.set()
    stream.releaser.wait()
    assert len(epochs.ended) == 1


def test_a_second_release_waits_for_the_first_so_spent_iterators_never_pile_up():
    epochs = _Held()
    releaser = Releaser()
    first = flat_out_epoch(epochs, releaser)
    assert (first.batches, epochs.ended) == (3, [])  # the epoch ended without its release
    second = threading.Thread(target=flat_out_epoch, args=(epochs, releaser))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # its iterator is spent, but the first one is not yet gone
    epochs.may_end.set()
    second.join(30)
    assert not second.is_alive()
    releaser.wait()
    assert len(epochs.ended) == 2
