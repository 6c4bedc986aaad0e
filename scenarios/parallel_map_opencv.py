"""Native tf.data parallel map, with the OpenCV decode inside tf.numpy_function."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.scenario import PipelineContext, Scenario
from scenarios._shared import opencv_sample_map


class ParallelMapOpenCVScenario(Scenario):
    name = "parallel_map_opencv"
    summary = "range(N).map(OpenCV decode, AUTOTUNE), static shapes restored, batch, prefetch"
    description = (
        "Dataset.range(N).map(decode, num_parallel_calls=AUTOTUNE) where decode runs the OpenCV "
        "decode in tf.numpy_function, with tf.ensure_shape restoring the static shapes that "
        "numpy_function loses, then .batch() and .prefetch(AUTOTUNE). tf.data's own threads run "
        "the decodes in parallel and autotune their number. Memory stays flat. "
        "tf.data options: defaults (autotune on, deterministic order)."
    )

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        dataset = (
            opencv_sample_map(tf, ctx.source)
            .batch(ctx.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        yield dataset


SCENARIO = ParallelMapOpenCVScenario()
