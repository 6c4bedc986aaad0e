"""keras.utils.PyDataset with worker threads, measured through the adapter that Model.fit uses."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.strategy import PipelineContext, Scenario
from scenarios._tuning import WORKERS


class PyDatasetScenario(Scenario):
    """Indexing a PyDataset directly runs serially: its workers only act behind Keras's adapter,
    which fit() builds from it. This scenario builds the same adapter and iterates the
    tf.data.Dataset that fit() would iterate."""

    knobs = (WORKERS,)

    memory_grows_with_data = False

    def __init__(self, use_processes: bool) -> None:
        self.use_processes = use_processes
        kind = "processes" if use_processes else "threads"
        self.name = "pydataset_processes" if use_processes else "pydataset"
        self.tf_data_options = "autotune=False (by Keras)"
        # Keras starts a pool of spawned processes every epoch: stopped while they start, the
        # epoch never finished (a 180 s timeout on tiny data).
        self.freezable = not use_processes
        if use_processes:
            self.opt_in = (
                "slow: Keras starts a new pool every epoch, each process importing TensorFlow"
            )
        self.summary = (
            f"keras.utils.PyDataset, --workers {kind}, through the adapter Model.fit uses"
        )
        cost = (
            "Each process is started with spawn (never fork a process that has imported "
            "TensorFlow) and imports Keras, and so TensorFlow, on its own: expect seconds of "
            "start-up and hundreds of MiB per worker. "
            if use_processes
            else "Threads share the interpreter lock, but OpenCV releases it while decoding. "
        )
        self.description = (
            f"A keras.utils.PyDataset whose __getitem__ decodes one batch, with --workers {kind} "
            "(use_multiprocessing=" + str(use_processes) + ", max_queue_size=10). Its workers only "
            "run behind the data adapter that Model.fit builds, so the scenario builds that "
            "adapter "
            "and iterates the tf.data.Dataset it makes, as fit() does; Keras's enqueuer then keeps "
            f"up to 10 batches decoded ahead. {cost}"
            "tf.data options: Keras turns autotune off when the PyDataset has workers."
        )

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        from keras.src.trainers.data_adapters import get_data_adapter

        from scenarios._keras_dataset import SyntheticPyDataset

        if self.use_processes:
            # Keras starts its pool from multiprocessing's default context, which is fork on Linux.
            multiprocessing.set_start_method("spawn", force=True)
        py_dataset = SyntheticPyDataset(
            ctx.source, ctx.batch_size, workers=ctx.workers, use_multiprocessing=self.use_processes
        )
        adapter = get_data_adapter(py_dataset)
        try:
            yield adapter.get_tf_dataset()
        finally:
            if adapter.enqueuer is not None and adapter.enqueuer.is_running():
                adapter.enqueuer.stop()


SCENARIO = PyDatasetScenario(use_processes=False)
