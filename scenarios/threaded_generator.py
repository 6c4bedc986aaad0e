"""A generator that decodes each batch with a thread pool: the cheap alternative to processes."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

from profiler.strategy import PipelineContext, Scenario
from scenarios._shared import output_signature, without_prefetch_injection
from scenarios._tuning import WORKERS


class ThreadedGeneratorScenario(Scenario):
    name = "threaded_generator"
    knobs = (WORKERS,)
    tf_data_options = "inject_prefetch=False"
    summary = "from_generator; a thread pool decodes the samples of each batch, one batch ahead"
    description = (
        "A generator decodes the samples of each batch with a pool of --workers threads and keeps "
        "the next batch in flight while the current one is consumed. OpenCV releases Python's "
        "interpreter lock while it decodes, so threads use several cores without the start-up, "
        "memory and pickling costs of processes. The pool is created once per run and shut down "
        "when the pipeline closes. tf.data options: inject_prefetch=False (the look-ahead is the "
        "pool's own)."
    )

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        source = ctx.source
        bounds = source.batch_bounds(ctx.batch_size)
        pool = ThreadPoolExecutor(max_workers=ctx.workers, thread_name_prefix="decode")

        def submit(start: int, stop: int) -> list[Any]:
            return [pool.submit(source.load_sample, index) for index in range(start, stop)]

        def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            pending = submit(*bounds[0]) if bounds else []
            for number, (start, stop) in enumerate(bounds):
                current, pending = (
                    pending,
                    (submit(*bounds[number + 1]) if number + 1 < len(bounds) else []),
                )
                images = np.stack([future.result() for future in current])
                yield images, source.labels[start:stop].astype(np.int32)

        try:
            dataset = tf.data.Dataset.from_generator(
                batches, output_signature=output_signature(tf, source)
            )
            yield without_prefetch_injection(tf, dataset)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


SCENARIO = ThreadedGeneratorScenario()
