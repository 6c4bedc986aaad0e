"""The plain generator with tf.data prefetch, so decoding overlaps the training step."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.strategy import PipelineContext, Scenario
from scenarios._shared import generator_dataset


class GeneratorPrefetchScenario(Scenario):
    name = "generator_prefetch"
    summary = "from_generator plus prefetch(AUTOTUNE)"
    description = (
        "The same generator as 'generator', followed by prefetch(tf.data.AUTOTUNE): a background "
        "thread decodes the next batches while the training step computes. Costs a few batches of "
        "memory; wins when one core decodes a batch faster than the step consumes it. tf.data "
        "options: defaults (autotune on)."
    )

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        yield generator_dataset(tf, ctx).prefetch(tf.data.AUTOTUNE)


SCENARIO = GeneratorPrefetchScenario()
