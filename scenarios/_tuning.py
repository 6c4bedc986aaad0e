"""The knobs the built-in strategies share, and the tf.data options some of them set."""

from __future__ import annotations

from typing import Any

from profiler.scenario import AUTOTUNE, Knob, PipelineContext

MAP_PARALLELISM = Knob("map_parallelism", AUTOTUNE, threads=True, code="num_parallel_calls={value}  # in the map",
                       what="threads of the decoding map")
PREFETCH = Knob("prefetch", AUTOTUNE, (1, 2, 4, 8), code=".prefetch({value})  # after the batch",
                what="batches made ahead")
THREADPOOL = Knob("private_threadpool", 0, threads=True,
                  code="options.threading.private_threadpool_size = {value}",
                  what="a thread pool of the pipeline's own, of this size (0: TensorFlow's shared pool)")
RAM_BUDGET = Knob("autotune_ram_budget_mib", 0, (256,), code="options.autotune.ram_budget = {value} * 2**20",
                  what="the memory autotuning may give buffers, MiB (0: half of the machine's)")
WORKERS = Knob("workers", None, threads=True, code="WORKERS = {value}", what="decoding threads or processes")
TF_DATA_KNOBS = (MAP_PARALLELISM, PREFETCH, THREADPOOL, RAM_BUDGET)


def with_tuned_options(tf: Any, dataset: Any, ctx: PipelineContext) -> Any:
    """``dataset`` with the private thread pool and autotune RAM budget ``tune`` set, where it set them."""
    pool, budget = ctx.setting(THREADPOOL), ctx.setting(RAM_BUDGET)
    if not pool and not budget:
        return dataset
    options = tf.data.Options()
    if pool:
        options.threading.private_threadpool_size = int(pool)
    if budget:
        options.autotune.ram_budget = int(budget) * 2**20
    return dataset.with_options(options)
