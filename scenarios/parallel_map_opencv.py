"""Native tf.data parallel map, with the OpenCV decode inside tf.numpy_function."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.strategy import Knob, PipelineContext, Scenario
from scenarios._shared import opencv_batch_map, opencv_sample_map
from scenarios._tuning import MAP_PARALLELISM, PREFETCH, RAM_BUDGET, THREADPOOL, with_tuned_options

# Per batch: the indices batched first, then one numpy_function decodes the whole batch.
DECODE_UNIT = Knob(
    "decode",
    "per sample",
    ("per batch",),
    code="Dataset.range(N).batch(BATCH).map(decode_batch)  # decode {value}",
    what="one numpy_function per sample, then batch; or batch the indices, then one per batch",
)


class ParallelMapOpenCVScenario(Scenario):
    name = "parallel_map_opencv"
    summary = "range(N).map(OpenCV decode, AUTOTUNE), static shapes restored, batch, prefetch"
    description = (
        "Dataset.range(N).map(decode, num_parallel_calls=AUTOTUNE) where decode runs the OpenCV "
        "decode in tf.numpy_function, with tf.ensure_shape restoring the static shapes that "
        "numpy_function loses, then .batch() and .prefetch(AUTOTUNE). tf.data's own threads run "
        "the decodes in parallel and autotune their number. Memory stays flat. tf.data options: "
        "defaults (autotune on, deterministic order)."
    )

    knobs = (MAP_PARALLELISM, DECODE_UNIT, PREFETCH, THREADPOOL, RAM_BUDGET)

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        parallelism = ctx.setting(MAP_PARALLELISM, tf)
        if ctx.setting(DECODE_UNIT) == "per batch":
            batches = opencv_batch_map(tf, ctx.source, ctx.batch_size, parallelism)
        else:
            batches = opencv_sample_map(tf, ctx.source, parallelism).batch(ctx.batch_size)
        yield with_tuned_options(tf, batches.prefetch(ctx.setting(PREFETCH, tf)), ctx)


SCENARIO = ParallelMapOpenCVScenario()
