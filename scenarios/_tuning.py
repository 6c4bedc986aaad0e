"""The knobs the built-in strategies share, and the tf.data options some of them set."""

from __future__ import annotations

from typing import Any

from profiler.strategy import AUTOTUNE, Knob, PipelineContext

MAP_PARALLELISM = Knob(
    "map_parallelism",
    AUTOTUNE,
    threads=True,
    code="num_parallel_calls={value}  # in the map",
    what="threads of the decoding map",
)
PREFETCH = Knob(
    "prefetch",
    AUTOTUNE,
    (1, 2, 4, 8),
    code=".prefetch({value})  # after the batch",
    what="batches made ahead",
)
SHARED = "shared"  # TensorFlow's own thread pool, shared by every pipeline of the process
HALF_THE_MEMORY = "half the memory"
THREADPOOL = Knob(
    "private_threadpool",
    SHARED,
    threads=True,
    code="options.threading.private_threadpool_size = {value}",
    what="a thread pool of the pipeline's own, of this size (default: TensorFlow's shared pool)",
)
RAM_BUDGET = Knob(
    "autotune_ram_budget_mib",
    HALF_THE_MEMORY,
    (256,),
    code="options.autotune.ram_budget = {value} * 2**20",
    what="the memory autotuning may give buffers, MiB (default: half of the machine's)",
)
WORKERS = Knob(
    "workers", None, threads=True, code="WORKERS = {value}", what="decoding threads or processes"
)
TF_DATA_KNOBS = (MAP_PARALLELISM, PREFETCH, THREADPOOL, RAM_BUDGET)


def with_tuned_options(tf: Any, dataset: Any, ctx: PipelineContext) -> Any:
    """``dataset`` with the private thread pool and autotune RAM budget ``tune`` set, where it set
    them."""
    pool, budget = ctx.setting(THREADPOOL), ctx.setting(RAM_BUDGET)
    if pool == SHARED and budget == HALF_THE_MEMORY:
        return dataset
    options = tf.data.Options()
    if pool != SHARED:
        options.threading.private_threadpool_size = int(pool)
    if budget != HALF_THE_MEMORY:
        options.autotune.ram_budget = int(budget) * 2**20
    return dataset.with_options(options)
