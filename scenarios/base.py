"""The small interface every scenario implements, and helpers the scenarios share."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from profiler.data import DataSource

# A batch is (images, labels): float32 [B, H, W, C] and int32 [B], numpy arrays or eager tensors.
Batch = tuple[Any, Any]


@dataclass(frozen=True)
class PipelineContext:
    """What a scenario gets to build its pipeline from."""

    source: DataSource | None  # None for a user's pipeline, which brings its own data
    batch_size: int
    workers: int
    # Scratch folder for this scenario alone; the runner deletes it afterwards.
    temp_dir: Path
    # Settings that only some scenarios read, such as the data service's dispatcher address.
    options: Mapping[str, Any] = field(default_factory=dict)


class Scenario:
    """One input-pipeline strategy.

    ``open`` returns a context manager whose value is re-iterable: each ``iter()`` is one epoch
    over every sample in batches of ``batch_size``, the last one partial. Whatever the pipeline
    starts (pools, threads, files) is released when the context exits, also after an early stop.
    Scenario modules import TensorFlow inside ``open`` only, so listing scenarios stays cheap and
    the profiler's parent process never holds TensorFlow.
    """

    name: str = ""
    summary: str = ""
    description: str = ""
    requires_tensorflow: bool = True
    # True where peak memory holds the whole dataset, so it grows with the number of samples.
    memory_grows_with_data: bool = False
    # True where the decoded dataset is written to disk, which then needs room for all of it.
    disk_grows_with_data: bool = False
    # The tf.data options the scenario sets itself; the rest stay at TensorFlow's defaults.
    tf_data_options: str = ""
    # True where the scenario decodes with another library than OpenCV (TensorFlow's image ops),
    # whose resize may round some pixels one level apart.
    pixels_may_differ: bool = False
    # The kinds of synthetic data (profiler.data.DATA_KINDS) the scenario can read.
    data_kinds: tuple[str, ...] = ("images", "arrays")
    # Why the scenario is left out of --scenario all (slow to start, say); empty: it is in.
    opt_in: str = ""

    def open(self, ctx: PipelineContext) -> AbstractContextManager[Iterable[Batch]]:
        raise NotImplementedError

    def validate(self) -> None:
        """Fail early, in the worker and before TensorFlow is imported, when the scenario cannot run."""

    def source_text(self) -> str | None:
        """The code that defines this scenario: its module's source."""
        try:
            return inspect.getsource(inspect.getmodule(type(self)))  # type: ignore[arg-type]
        except (OSError, TypeError):
            return None


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
