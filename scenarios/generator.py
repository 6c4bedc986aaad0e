"""A Python generator fed through Dataset.from_generator, with no read-ahead at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.strategy import PipelineContext, Scenario
from scenarios._shared import generator_dataset, without_prefetch_injection


class GeneratorScenario(Scenario):
    name = "generator"
    tf_data_options = "inject_prefetch=False"
    summary = "from_generator decoding each batch on demand, prefetch injection off"
    description = (
        "A Python generator decodes each batch when the training step asks for it, through "
        "Dataset.from_generator with an exact float32/int32 output_signature. tf.data's automatic "
        "prefetch injection is turned OFF, so nothing is decoded while the step computes: the "
        "accelerator waits for every batch. Memory stays flat whatever the dataset size. tf.data "
        "options: inject_prefetch=False."
    )

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        yield without_prefetch_injection(tf, generator_dataset(tf, ctx))


SCENARIO = GeneratorScenario()
