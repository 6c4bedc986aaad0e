"""Decoded samples saved once with Dataset.save, then read back with Dataset.load."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.strategy import PipelineContext, Scenario
from scenarios._shared import opencv_sample_map


class SnapshotScenario(Scenario):
    name = "snapshot"
    disk_grows_with_data = True
    summary = "Dataset.save of the decoded samples at build, Dataset.load in every epoch"
    description = (
        "Before training, the parallel OpenCV map is run once and its decoded samples written with "
        "Dataset.save (sharded, compressed files); every epoch then reads them back with "
        "Dataset.load, batches and prefetches. The save is paid before the first batch, like a "
        "preprocessing job; afterwards no decoding happens at all, and memory stays flat. The "
        "saved files are new for every run and deleted afterwards. tf.data options: defaults."
    )

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        path = str(ctx.temp_dir / "snapshot")
        opencv_sample_map(tf, ctx.source).save(path)
        dataset = tf.data.Dataset.load(path).batch(ctx.batch_size).prefetch(tf.data.AUTOTUNE)
        yield dataset


SCENARIO = SnapshotScenario()
