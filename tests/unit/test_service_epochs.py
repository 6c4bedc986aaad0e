"""Exact epochs from the endless stream of a tf.data service job, on constructed arrivals: numpy
batches tagged with their chunk, in the orders a straggling worker and files of uneven length
make."""

from __future__ import annotations

import numpy as np

from scenarios._service_batches import Epochs

BATCH = 4


def _batch(samples: list[int], chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.array(samples, dtype=np.float32), np.array(samples, dtype=np.int32), np.int64(chunk)


def _epochs(stream: list, chunks: int) -> Epochs:
    return Epochs(stream, chunks, BATCH, concat=np.concatenate)


def test_a_straggler_s_chunk_is_held_for_its_own_epoch():
    # Ten samples in chunks 0, 1 and 2 (short); the chunk 1 of the first epoch arrives after the
    # second epoch's chunk 0 and 2.
    first = [_batch([0, 1, 2, 3], 0), _batch([8, 9], 2), _batch([0, 1, 2, 3], 0), _batch([8, 9], 2)]
    late = [_batch([4, 5, 6, 7], 1), _batch([4, 5, 6, 7], 1)]
    epochs = _epochs(first + late, chunks=3)
    for _ in range(2):
        batches = list(epochs)
        assert sorted(int(x) for _, labels in batches for x in labels) == list(range(10))
        # full ones first, the short one last
        assert [len(labels) for _, labels in batches] == [
            4,
            4,
            2,
        ]


def test_short_batches_from_the_ends_of_files_are_joined_into_full_ones():
    # Two files of 6 and 5 samples batched apart: 4+2 and 4+1; an epoch is 11 samples in 4, 4, 3.
    stream = [
        _batch([0, 1, 2, 3], 0),
        _batch([4, 5], 1),
        _batch([6, 7, 8, 9], 2),
        _batch([10], 3),
    ] * 2
    epochs = _epochs(stream, chunks=4)
    for _ in range(2):
        batches = list(epochs)
        assert [len(labels) for _, labels in batches] == [4, 4, 3]
        assert sorted(int(x) for _, labels in batches for x in labels) == list(range(11))


def test_an_epoch_left_unfinished_is_finished_before_the_next_begins():
    stream = [_batch([0, 1, 2, 3], 0), _batch([4, 5, 6, 7], 1)] * 3
    epochs = _epochs(stream, chunks=2)
    started = iter(epochs)
    next(started)  # one batch of the first epoch, then a new epoch is asked for
    second = [int(x) for _, labels in epochs for x in labels]
    assert second == list(range(8))
    assert sorted(int(x) for _, labels in epochs for x in labels) == list(range(8))
