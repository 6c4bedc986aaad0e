"""Helpers the built-in strategies share; the scenario interface itself is profiler.scenario."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from profiler.data import DataSource
from profiler.scenario import PipelineContext


def output_signature(tf: Any, source: DataSource) -> tuple[Any, Any]:
    """The exact signature of a batch; the batch dimension is None so the last partial batch fits."""
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


def opencv_sample_map(tf: Any, source: DataSource) -> Any:
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
        decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


def tensorflow_decode_map(tf: Any, source: DataSource) -> Any:
    """from_tensor_slices((paths, labels)).map(read + decode + resize with TensorFlow ops, AUTOTUNE).

    No Python runs per sample, so the graph can also run in other processes (tf.data service
    workers). JPEG decoding uses the accurate integer DCT, as OpenCV's libjpeg does, and the area
    average is rounded half up, as OpenCV rounds it: the pixels equal OpenCV's at whole-number
    downscale factors.
    """
    spec = source.spec
    if spec.kind != "images":
        raise ValueError("this scenario reads encoded image files: run it with --data images")
    size = (spec.height, spec.width)
    scale = np.float32(1.0 / 255.0)

    def load(path: Any, label: Any) -> tuple[Any, Any]:
        encoded = tf.io.read_file(path)
        if spec.image_format == "jpeg":
            image = tf.io.decode_jpeg(encoded, channels=spec.channels, dct_method="INTEGER_ACCURATE")
        else:
            image = tf.io.decode_png(encoded, channels=spec.channels)
        image = tf.floor(tf.image.resize(image, size, method="area") + 0.5) * scale
        return tf.ensure_shape(image, spec.sample_shape), label

    paths = source.image_paths()
    labels = source.labels.astype(np.int32)
    return tf.data.Dataset.from_tensor_slices((paths, labels)).map(load, num_parallel_calls=tf.data.AUTOTUNE)
