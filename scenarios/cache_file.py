"""The parallel OpenCV map cached to a file on disk by the first epoch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.strategy import PipelineContext, Scenario
from scenarios._shared import opencv_sample_map


class CacheFileScenario(Scenario):
    name = "cache_file"
    disk_grows_with_data = True
    summary = "parallel OpenCV map, .cache(file) on disk, batch, prefetch"
    description = (
        "The parallel_map_opencv pipeline with .cache(path) before batching: the first (warm-up) "
        "epoch decodes and writes the decoded samples to a cache file, later epochs read them back "
        "from disk. The cache file is new for every run and deleted afterwards, because tf.data "
        "silently reuses an existing cache file even when the data changed. Costs disk (the "
        "decoded size of the dataset) rather than memory. tf.data options: defaults (autotune on, "
        "deterministic order)."
    )

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        # ctx.temp_dir is fresh for this run and removed by the runner, whatever happens.
        cache_path = ctx.temp_dir / "decoded.cache"
        dataset = (
            opencv_sample_map(tf, ctx.source)
            .cache(str(cache_path))
            .batch(ctx.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        yield dataset


SCENARIO = CacheFileScenario()
