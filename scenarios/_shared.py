"""Helpers the built-in strategies share; the scenario interface itself is
profiler.strategy.scenario."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from profiler.strategy import DataSource, PipelineContext, augment_table, max_shift


def output_signature(tf: Any, source: DataSource) -> tuple[Any, Any]:
    """The exact signature of a batch; the batch dimension is None so the last partial batch
    fits."""
    return (
        tf.TensorSpec(shape=(None, *source.spec.sample_shape), dtype=tf.float32),
        tf.TensorSpec(shape=(None,), dtype=tf.int32),
    )


def numpy_batches(source: DataSource, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of batches decoded in the calling thread."""
    for start, stop in source.batch_bounds(batch_size):
        yield source.load_range(start, stop)


def generator_dataset(tf: Any, ctx: PipelineContext) -> Any:
    """Dataset.from_generator over ``numpy_batches``, with the exact signature of a batch."""
    return tf.data.Dataset.from_generator(
        lambda: numpy_batches(ctx.source, ctx.batch_size),
        output_signature=output_signature(tf, ctx.source),
    )


def without_prefetch_injection(tf: Any, dataset: Any) -> Any:
    """Turn off the prefetch that tf.data otherwise adds on its own to the end of a pipeline."""
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False
    return dataset.with_options(options)


def opencv_sample_map(tf: Any, source: DataSource, parallelism: Any = None) -> Any:
    """Dataset.range(N).map(OpenCV decode, AUTOTUNE): one decoded (image, label) per element.

    The decode runs in tf.numpy_function, which forgets static shapes; tf.ensure_shape puts them
    back so that batch() and later ops know them.
    """
    labels = source.labels.astype(np.int32)
    sample_shape = source.spec.sample_shape

    def load(index: np.int64) -> tuple[np.ndarray, np.int32]:
        return source.load_sample(int(index)), labels[int(index)]

    def decode(index: Any) -> tuple[Any, Any]:
        image, label = tf.numpy_function(load, [index], (tf.float32, tf.int32))
        return tf.ensure_shape(image, sample_shape), tf.ensure_shape(label, ())

    return tf.data.Dataset.range(source.num_samples).map(
        decode,
        num_parallel_calls=tf.data.AUTOTUNE if parallelism is None else parallelism,
        deterministic=True,
    )


def opencv_batch_map(tf: Any, source: DataSource, batch_size: int, parallelism: Any) -> Any:
    """Dataset.range(N).batch(B).map(OpenCV decode of the whole batch): one numpy_function per
    batch."""
    labels = source.labels.astype(np.int32)
    shape = (None, *source.spec.sample_shape)

    def load(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images, _ = source.load_range(int(indices[0]), int(indices[-1]) + 1)
        return images, labels[indices]

    def decode(indices: Any) -> tuple[Any, Any]:
        images, batch_labels = tf.numpy_function(load, [indices], (tf.float32, tf.int32))
        return tf.ensure_shape(images, shape), tf.ensure_shape(batch_labels, (None,))

    return (
        tf.data.Dataset.range(source.num_samples)
        .batch(batch_size)
        .map(decode, num_parallel_calls=parallelism, deterministic=True)
    )


def tensorflow_decode_map(
    tf: Any, source: DataSource, parallelism: Any = None, ratio: int = 1
) -> Any:
    """Encoded images read, decoded and resized by TensorFlow's own ops, in parallel (AUTOTUNE).

    Files are sliced by path (``from_tensor_slices``); TFRecords are read in order by
    ``TFRecordDataset``, keeping the records of the run's samples. No Python runs per sample, so
    the graph can also run in other processes (tf.data service workers). JPEG decoding uses the
    accurate integer DCT, as OpenCV's libjpeg does, and the area average is rounded half up, as
    OpenCV rounds it: the pixels equal OpenCV's at whole-number downscale factors. ``ratio`` above
    1 decodes JPEGs at that reduced scale (tune's ``decode_ratio``), whose pixels are close, not
    equal.
    """
    decode, shifts = tensorflow_sample_decoder(tf, source, ratio)
    calls = tf.data.AUTOTUNE if parallelism is None else parallelism
    if source.spec.form == "images":
        slices = tf.data.Dataset.from_tensor_slices(
            (source.image_paths(), source.labels.astype(np.int32), shifts)
        )
        return slices.map(
            lambda path, label, shift: decode(tf.io.read_file(path), label, shift),
            num_parallel_calls=calls,
        )
    files, starts, keep, parse = records_parser(tf, source, shifts, decode)
    return (
        tf.data.Dataset.from_tensor_slices((files, starts))
        .flat_map(lambda file, start: tf.data.TFRecordDataset(file).enumerate(start))
        .filter(keep)
        .map(parse, num_parallel_calls=calls)
    )


def tensorflow_sample_decoder(
    tf: Any, source: DataSource, ratio: int = 1, scaled: bool = True
) -> tuple[Any, Any]:
    """``decode(encoded, label, shift) -> (image, label)`` in TensorFlow's ops, and each sample's
    shift.

    Unscaled (``scaled=False``), the image is the rounded pixel values as uint8: a quarter of the
    bytes to move, and ``float32 * (1/255)`` of them equals the scaled image exactly.
    """
    spec = source.spec
    if spec.form == "arrays":
        raise ValueError("this scenario decodes encoded images: run it on image files or TFRecords")
    size = (spec.height, spec.width)
    count = source.num_samples
    shifts = augment_table(spec, count) if spec.augment else np.zeros((count, 3), dtype=np.int32)

    def decode(encoded: Any, label: Any, shift: Any) -> tuple[Any, Any]:
        image = tf.cond(
            tf.io.is_jpeg(encoded),
            lambda: tf.io.decode_jpeg(
                encoded, channels=spec.channels, dct_method="INTEGER_ACCURATE", ratio=ratio
            ),
            lambda: tf.io.decode_image(encoded, channels=spec.channels, expand_animations=False),
        )
        image = tf.floor(tf.image.resize(image, size, method="area") + 0.5)
        if spec.augment:  # a shift, zero fill and flip: the same before or after the scaling
            image = _tensorflow_augment(tf, image, shift, spec)
        image = image * SCALE if scaled else tf.cast(image, tf.uint8)
        return tf.ensure_shape(image, spec.sample_shape), label

    return decode, shifts


SCALE = np.float32(1.0 / 255.0)


def records_parser(tf: Any, source: DataSource, shifts: np.ndarray, decode: Any) -> tuple[Any, ...]:
    """For TFRecordDataset over each of the user's files in order, enumerated from the file's start:
    (files, starts, keep(number, record), parse(number, record) -> decoded sample).

    Each file's records are numbered from its first record's number across all files, so the
    numbers hold wherever a file is read (a tf.data service worker reads the files it is given).
    """
    spec = source.spec
    files, starts, records = source.record_plan()  # type: ignore[attr-defined]
    kept = np.zeros(int(records.max()) + 1, dtype=bool)
    kept[records] = True
    position = np.zeros(len(kept), dtype=np.int64)
    position[records] = np.arange(source.num_samples)
    features = {
        spec.image_key: tf.io.FixedLenFeature([], tf.string),
        spec.label_key: tf.io.FixedLenFeature([], tf.int64),
    }

    def keep(number: Any, record: Any) -> Any:
        return number < len(kept) and tf.gather(kept, tf.minimum(number, len(kept) - 1))

    def parse(number: Any, record: Any) -> tuple[Any, Any]:
        parsed = tf.io.parse_single_example(record, features)
        return decode(
            parsed[spec.image_key],
            tf.cast(parsed[spec.label_key], tf.int32),
            tf.gather(shifts, tf.gather(position, number)),
        )

    return files, starts, keep, parse


def _tensorflow_augment(tf: Any, image: Any, shift: Any, spec: Any) -> Any:
    """profiler.data.sample_work.augmented with TensorFlow's ops: the same shift, zero fill and
    flip."""
    rows, columns = max_shift(spec)
    padded = tf.pad(image, [[rows, rows], [columns, columns], [0, 0]])
    out = tf.slice(
        padded, [rows - shift[0], columns - shift[1], 0], [spec.height, spec.width, spec.channels]
    )
    return tf.cond(shift[2] > 0, lambda: tf.reverse(out, [1]), lambda: out)
