"""A generator whose batches are decoded by a process pool, fed through from_generator."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.pool import AsyncResult
from typing import Any

import numpy as np

from profiler.strategy import DataSource, Knob, PipelineContext, Scenario
from scenarios._shared import output_signature, without_prefetch_injection
from scenarios._tuning import WORKERS

PICKLE = "pickle"
MEMORY_MAP = "memory map"
# How a decoded batch comes back: pickled through the pool's pipe, or written by the pool process
# into one of the slots of a file mapped into memory by every process, so only labels travel.
TRANSFER = Knob(
    "transfer",
    PICKLE,
    (MEMORY_MAP,),
    what="decoded batches pickled back through the pool's pipe, or written into slots of a file "
    "mapped into every process's memory",
)

# Each pool process opens the dataset once, in its initializer, and keeps it here.
_pool_source: DataSource | None = None
_pool_slots: np.ndarray | None = None


def _open_source(source: DataSource, slots: tuple[str, tuple[int, ...]] | None = None) -> None:
    global _pool_source, _pool_slots
    _pool_source = source
    if slots is not None:
        _pool_slots = np.lib.format.open_memmap(slots[0], mode="r+")


def _decode_range(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    assert _pool_source is not None, "pool process was started without its initializer"
    return _pool_source.load_range(*bounds)


def _decode_into(bounds: tuple[int, int], slot: int) -> np.ndarray:
    """The batch decoded into its slot of the shared file; only its labels go back."""
    assert _pool_source is not None and _pool_slots is not None, (
        "pool process was started without its slots"
    )
    start, stop = bounds
    for offset, index in enumerate(range(start, stop)):
        _pool_slots[slot, offset] = _pool_source.load_sample(index)
    return _pool_source.labels[start:stop].astype(np.int32)


class MultiprocessingScenario(Scenario):
    name = "multiprocessing"
    knobs = (WORKERS, TRANSFER)
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

        look_ahead = 2 * ctx.workers
        shared = ctx.setting(TRANSFER) == MEMORY_MAP
        slots = None
        # in the scenario's scratch folder, which the runner removes however the run ends
        if shared:
            path = str(ctx.temp_dir / "slots.npy")
            shape = (look_ahead, ctx.batch_size, *ctx.source.spec.sample_shape)
            slots = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
        pool = multiprocessing.get_context("spawn").Pool(
            processes=ctx.workers,
            initializer=_open_source,
            initargs=(ctx.source, None if slots is None else (path, slots.shape)),
        )
        try:
            bounds = ctx.source.batch_bounds(ctx.batch_size)

            def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
                pending: deque[tuple[int, AsyncResult]] = deque()
                submitted = 0
                while submitted < len(bounds) or pending:
                    # Bounded look-ahead: unlike imap, memory does not depend on consumer speed.
                    while submitted < len(bounds) and len(pending) < look_ahead:
                        slot = submitted % look_ahead
                        work = (
                            (_decode_into, (bounds[submitted], slot))
                            if shared
                            else (_decode_range, (bounds[submitted],))
                        )
                        pending.append((slot, pool.apply_async(*work)))
                        submitted += 1
                    slot, result = pending.popleft()
                    if slots is None:
                        yield result.get()
                    else:
                        labels = result.get()
                        # A copy: the slot is written again once the next batch is submitted.
                        yield np.array(slots[slot, : len(labels)]), labels

            dataset = tf.data.Dataset.from_generator(
                batches, output_signature=output_signature(tf, ctx.source)
            )
            yield without_prefetch_injection(tf, dataset)
        finally:
            # terminate, not close: an early stop leaves submitted work that nobody will collect.
            pool.terminate()
            pool.join()


SCENARIO = MultiprocessingScenario()
