"""The spent iterator's release is no part of a window or a paced wait: a frozen tf.data worker's
release waits 250 ms and more on its thread pool (docs/measurement.md, "Epoch ends"). Ground truth:
an iterator whose release sleeps a known 0.5 s, over batches that come at once."""

from __future__ import annotations

import time

import numpy as np

from profiler.worker.loops import BatchStream, flat_out_window, paced_steps

RELEASE_S = 0.5


class _SlowToRelease:
    def __init__(self, batches: list) -> None:
        self._batches = iter(batches)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._batches)

    def __del__(self) -> None:
        time.sleep(RELEASE_S)


class _Epochs:
    """Three batches of 4 samples an epoch; each epoch's iterator is slow to release."""

    def __init__(self) -> None:
        self.batches = [(np.zeros((4, 2)), np.arange(4)) for _ in range(3)]

    def __iter__(self):
        return _SlowToRelease(self.batches)


def test_a_window_across_an_epoch_end_leaves_the_spent_iterators_release_out():
    stream = BatchStream(_Epochs())
    window = flat_out_window(stream, 5)  # three batches, the epoch's end, two of the next
    assert (window.batches, window.samples, window.epochs_ended) == (5, 20, 1)
    # The release happened (its sleep went into the untimed time), outside the window's time.
    assert stream.untimed_s >= RELEASE_S
    assert window.seconds < RELEASE_S


def test_a_paced_epoch_start_waits_without_the_release():
    stream = BatchStream(_Epochs())
    stream.next()
    stream.finish_epoch()  # as a restart does: the spent iterator is kept until the next is made
    steps = paced_steps(stream, lambda batch: None, 2)
    assert steps.epoch_starts == (True, False)
    assert stream.untimed_s >= RELEASE_S
    assert steps.waits_s[0] < RELEASE_S
