"""The small interface every scenario implements, and helpers the scenarios share."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
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
    # The tf.data options the scenario sets itself; the rest stay at TensorFlow's defaults.
    tf_data_options: str = ""

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
