"""Decode the whole dataset into memory up front, then slice it with tf.data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.strategy import PipelineContext, Scenario


class PreloadScenario(Scenario):
    name = "preload"
    summary = "decode every sample into one float32 array, then from_tensor_slices"
    description = (
        "Decodes the whole dataset into one float32 array before training, then serves batches "
        "with Dataset.from_tensor_slices(...).batch(). Every epoch after the first costs nothing, "
        "but the build is paid before the first batch and memory holds the whole dataset (briefly "
        "twice, while TensorFlow copies the array). Wins when the decoded data fits in RAM with "
        "room to spare. tf.data options: defaults."
    )
    memory_grows_with_data = True

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        images, labels = ctx.source.load_range(0, ctx.source.num_samples)
        dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(ctx.batch_size)
        del images, labels  # the dataset holds its own copy
        yield dataset


SCENARIO = PreloadScenario()
