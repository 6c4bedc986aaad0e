"""A tf.data map pipeline whose decoded samples are cached in memory by the first epoch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.strategy import PipelineContext, Scenario
from scenarios._shared import opencv_sample_map


class CacheScenario(Scenario):
    name = "cache"
    summary = "parallel map decode, .cache() in memory, batch, prefetch"
    description = (
        "Dataset.range(N).map(decode, num_parallel_calls=AUTOTUNE) with the OpenCV decode in "
        "tf.numpy_function, then .cache() in memory, .batch() and .prefetch(AUTOTUNE). The first "
        "(warm-up) epoch decodes and fills the cache; later epochs read decoded samples from "
        "memory. Memory holds the whole decoded dataset. Wins for many epochs over data that fits "
        "in RAM. tf.data options: defaults (autotune on, deterministic order)."
    )
    memory_grows_with_data = True

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        dataset = (
            opencv_sample_map(tf, ctx.source)
            .cache()
            .batch(ctx.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        yield dataset


SCENARIO = CacheScenario()
