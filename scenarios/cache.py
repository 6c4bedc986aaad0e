"""A tf.data map pipeline whose decoded samples are cached in memory by the first epoch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from scenarios.base import PipelineContext, Scenario


class CacheScenario(Scenario):
    name = "cache"
    summary = "parallel map decode, .cache() in memory, batch, prefetch"
    description = (
        "Dataset.range(N).map(decode, num_parallel_calls=AUTOTUNE) with the OpenCV decode in "
        "tf.numpy_function, then .cache() in memory, .batch() and .prefetch(AUTOTUNE). The first "
        "(warm-up) epoch decodes and fills the cache; later epochs read decoded samples from "
        "memory. Memory holds the whole decoded dataset. Wins for many epochs over data that "
        "fits in RAM. tf.data options: defaults (autotune on, deterministic order)."
    )
    memory_grows_with_data = True

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        source = ctx.source
        labels = source.labels.astype(np.int32)
        sample_shape = source.spec.sample_shape

        def load(index: np.int64) -> tuple[np.ndarray, np.int32]:
            return source.load_sample(int(index)), labels[int(index)]

        def decode(index: Any) -> tuple[Any, Any]:
            image, label = tf.numpy_function(load, [index], (tf.float32, tf.int32))
            # numpy_function forgets static shapes; batch() needs them back.
            return tf.ensure_shape(image, sample_shape), tf.ensure_shape(label, ())

        dataset = (
            tf.data.Dataset.range(source.num_samples)
            .map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .cache()
            .batch(ctx.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        yield dataset


SCENARIO = CacheScenario()
