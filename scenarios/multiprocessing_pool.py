"""A generator whose batches are decoded by a process pool, fed through from_generator."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.pool import AsyncResult
from typing import Any

import numpy as np

from profiler.data import DataSource
from profiler.scenario import PipelineContext, Scenario
from scenarios._shared import output_signature, without_prefetch_injection

# Each pool process opens the dataset once, in its initializer, and keeps it here.
_pool_source: DataSource | None = None


def _open_source(source: DataSource) -> None:
    global _pool_source
    _pool_source = source


def _decode_range(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    assert _pool_source is not None, "pool process was started without its initializer"
    return _pool_source.load_range(*bounds)


class MultiprocessingScenario(Scenario):
    name = "multiprocessing"
    tf_data_options = "inject_prefetch=False"
    summary = "from_generator; a spawn-context process pool decodes whole batches ahead"
    description = (
        "A generator hands each batch's decode to a pool of --workers processes (spawn context: "
        "the parent has imported TensorFlow and must never fork) and keeps 2 x workers batches in "
        "flight, so decoding runs on several cores while the step computes. Decoded batches come "
        "back pickled, which costs a copy per batch. The pool is created once per run and "
        "terminated when the pipeline closes, also after an early stop. tf.data options: "
        "inject_prefetch=False (the pool's look-ahead is the only read-ahead)."
    )

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        pool = multiprocessing.get_context("spawn").Pool(
            processes=ctx.workers, initializer=_open_source, initargs=(ctx.source,)
        )
        try:
            bounds = ctx.source.batch_bounds(ctx.batch_size)
            look_ahead = 2 * ctx.workers

            def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
                pending: deque[AsyncResult] = deque()
                submitted = 0
                while submitted < len(bounds) or pending:
                    # Bounded look-ahead: unlike imap, memory does not depend on consumer speed.
                    while submitted < len(bounds) and len(pending) < look_ahead:
                        pending.append(pool.apply_async(_decode_range, (bounds[submitted],)))
                        submitted += 1
                    yield pending.popleft().get()

            dataset = tf.data.Dataset.from_generator(
                batches, output_signature=output_signature(tf, ctx.source)
            )
            yield without_prefetch_injection(tf, dataset)
        finally:
            # terminate, not close: an early stop leaves submitted work that nobody will collect.
            pool.terminate()
            pool.join()


SCENARIO = MultiprocessingScenario()
