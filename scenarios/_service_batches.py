"""Batches made on tf.data service workers, and exact epochs read from one endless job.

The workers run an endless dataset (the splits repeat), so one job serves every epoch and the
job's start-up is paid once, as a training loop reading an endless dataset pays it. Each split the
dispatcher hands out is a chunk of consecutive samples (images) or a file (TFRecords), never one
sample: a split costs the dispatcher a request, and per sample that cost was most of its CPU. A
worker decodes a split's samples, batches them and sends each batch as uint8 with the number of its
chunk. The trainer scales the pixels to float32 and, from the chunk numbers, cuts the stream into
epochs that hold every sample once, as the other strategies' epochs do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np

from profiler.strategy import DataSource
from scenarios._shared import SCALE, records_parser, tensorflow_sample_decoder

# Splits decoded at once by one worker: a worker pinned to one core still overlaps reading and
# decoding.
_SPLITS_IN_FLIGHT = 4


def worker_batches(tf: Any, source: DataSource, batch_size: int) -> tuple[Any, int]:
    """The endless dataset the workers run, of (uint8 images, labels, chunk), and the chunks in an
    epoch."""
    decode, shifts = tensorflow_sample_decoder(tf, source, scaled=False)
    if source.spec.form == "images":
        paths = tf.constant(source.image_paths())
        labels = tf.constant(source.labels.astype(np.int32))
        shifts_t = tf.constant(shifts)
        chunks = -(-source.num_samples // batch_size)

        def split_batches(chunk: Any) -> Any:
            low = chunk * batch_size
            high = tf.minimum(low + batch_size, source.num_samples)
            part = tf.data.Dataset.from_tensor_slices(
                (paths[low:high], labels[low:high], shifts_t[low:high])
            )
            batched = part.map(
                lambda path, label, shift: decode(tf.io.read_file(path), label, shift)
            )
            return batched.batch(batch_size).map(lambda images, labels_: (images, labels_, chunk))

        splits = tf.data.Dataset.range(chunks)
    else:
        files, starts, keep, parse = records_parser(tf, source, shifts, decode)
        first_chunk, chunks = _chunks_of_files(source, starts, batch_size)
        files_t, starts_t, first_t = (
            tf.constant(files),
            tf.constant(starts),
            tf.constant(first_chunk),
        )

        def split_batches(file: Any) -> Any:
            records = (
                tf.data.TFRecordDataset(files_t[file])
                .enumerate(starts_t[file])
                .filter(keep)
                .map(parse)
            )
            return (
                records.batch(batch_size)
                .enumerate()
                .map(lambda number, batch: (batch[0], batch[1], first_t[file] + number))
            )

        splits = tf.data.Dataset.range(len(files))
    endless = splits.repeat().interleave(
        split_batches,
        cycle_length=_SPLITS_IN_FLIGHT,
        num_parallel_calls=_SPLITS_IN_FLIGHT,
        deterministic=False,
    )
    return endless, chunks


def _chunks_of_files(
    source: DataSource, starts: np.ndarray, batch_size: int
) -> tuple[np.ndarray, int]:
    """The number of each file's first batch, and the batches of all files, where a file's kept
    records are batched on their own."""
    _, _, records = source.record_plan()  # type: ignore[attr-defined]
    file_of = np.searchsorted(np.asarray(starts), records, side="right") - 1
    per_file = -(-np.bincount(file_of, minlength=len(starts)) // batch_size)
    first = np.concatenate([[0], np.cumsum(per_file)[:-1]]).astype(np.int64)
    return first, int(per_file.sum())


def trainer_batches(tf: Any, distributed: Any) -> Any:
    """The distributed stream with uint8 pixels scaled back to float32 (exactly the scaled
    decode's)."""
    if distributed.element_spec[0].dtype != tf.uint8:
        return distributed.prefetch(tf.data.AUTOTUNE)
    return distributed.map(
        lambda images, labels, chunk: (tf.cast(images, tf.float32) * SCALE, labels, chunk),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).prefetch(tf.data.AUTOTUNE)


class Epochs:
    """Iterated once per epoch, reading on from one iterator of the endless stream.

    A chunk's n-th arrival belongs to epoch n: a worker that falls behind may deliver an epoch's
    chunk after the next epoch's, which is then held back for its own epoch. Batches cut short at
    a file's end are joined into full ones, so an epoch has as many batches as the others' do.
    """

    def __init__(self, stream: Any, chunks: int, batch_size: int, concat: Any = None) -> None:
        self.stream = stream
        self.concat = concat  # joins short batches: tf.concat unless given (numpy's, in tests)
        self.chunks = chunks
        self.batch_size = batch_size
        self._iterator: Iterator[Any] | None = None
        self._arrivals = np.zeros(chunks, dtype=np.int64)
        self._held: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
        self._epoch = 0
        self._open: Iterator[Any] | None = None

    @property
    def element_spec(self) -> Any:
        """As a tf.data pipeline's: each batch comes from one, so the fetch floor is measured on
        one."""
        return self.stream.element_spec[:2]

    def options(self) -> Any:
        return self.stream.options()

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self._open is not None:  # an epoch left unfinished: its batches are not the next one's
            for _ in self._open:
                pass
        self._open = self._epoch_batches()
        return self._open

    def _epoch_batches(self) -> Iterator[tuple[Any, Any]]:
        if self.concat is None:
            import tensorflow as tf

            self.concat = tf.concat
        concat = self.concat
        epoch, left = self._epoch, self.chunks
        short: list[tuple[Any, Any]] = []
        for images, labels in self._held.pop(epoch, []):
            left -= 1
            yield from self._whole(concat, images, labels, short)
        if self._iterator is None:
            self._iterator = iter(self.stream)
        while left:
            try:
                images, labels, chunk = next(self._iterator)
            except StopIteration:
                raise RuntimeError("the tf.data service job ended before the epoch did") from None
            number = int(chunk)
            arrived = int(self._arrivals[number])
            self._arrivals[number] += 1
            if arrived != epoch:
                self._held[arrived].append((images, labels))
                continue
            left -= 1
            yield from self._whole(concat, images, labels, short)
        if short:
            yield concat([part[0] for part in short], 0), concat([part[1] for part in short], 0)
        self._epoch += 1
        self._open = None

    def _whole(
        self, concat: Any, images: Any, labels: Any, short: list[tuple[Any, Any]]
    ) -> Iterator[tuple[Any, Any]]:
        """The batch if it is full; else it waits in ``short`` until enough have come to make
        one."""
        if int(labels.shape[0]) == self.batch_size:
            yield images, labels
            return
        short.append((images, labels))
        if sum(int(part[1].shape[0]) for part in short) < self.batch_size:
            return
        joined_images = concat([part[0] for part in short], 0)
        joined_labels = concat([part[1] for part in short], 0)
        short.clear()
        rest = joined_labels.shape[0] - self.batch_size
        if rest:
            short.append((joined_images[self.batch_size :], joined_labels[self.batch_size :]))
        yield joined_images[: self.batch_size], joined_labels[: self.batch_size]
