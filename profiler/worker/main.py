"""The measuring process: one fresh spawned interpreter per scenario, driven over a pipe.

The worker imports TensorFlow and waits for ("go",); then it reports ("baseline", rss, pss, unix
time), builds the pipeline and reports ("built", seconds, Helpers). Then it answers one request
at a time until asked to close:

- ("epoch",) -> ("epoch", EpochTiming): one epoch of a fresh iterator consumed flat out (warm-up);
- ("window", batches, restart, lead) -> ("window", WindowTiming): the next ``batches`` of the
  stream, flat out, after ``lead`` untimed; the stream runs on across epochs, or, with ``restart``,
  first finishes the current one untimed;
- ("paced", steps, step_s, consumer) -> ("paced", PacedSteps): the next ``steps`` of the stream
  behind a device step, simulated (consumer "sleep") or a real Keras training step ("keras");
- ("floor", steps, step_s, consumer) -> ("floor", PacedSteps): the same consumer fed from an
  always-ready source of a batch of this pipeline: what fetching costs when nothing is late;
- ("trace", steps, step_s, consumer) -> ("trace", files): the next epoch's first ``steps``
  paced, under TensorFlow's profiler, written to the task's trace folder for TensorBoard;
- ("autotune",) -> ("autotune", values): what tf.data's autotuning chose for the stream's iterator;
- ("fingerprint",) -> ("fingerprint", Fingerprint): a fresh iterator's epoch, fingerprinted;
- ("close",) -> ("closed", ClosingReport): the pipeline is closed, then the worker exits.

Within a request, a spent iterator's release that waits sends ("aside",) and goes on only once
answered: ("on",), the parent handed the turn on meanwhile, or ("hold",), it kept the turn and
the release is waited for in place (profiler.worker.release).

Any failure is answered with ("error", one-line summary, traceback) and ends the worker. Being
driven one window at a time lets the parent decide when a figure is precise enough, and time
windows with any timer it likes (pytest-benchmark's included), while they run here, in a process
of its own.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing.util
import os
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from profiler.base.errors import error_summary
from profiler.base.settings import CONSUMER_KERAS, ServiceSettings, Target
from profiler.data.fingerprint import FingerprintBuilder
from profiler.data.synthetic import DataSource
from profiler.system.lifeline import PARENT_ENDING_S, Lifeline, own_group_and_orphans
from profiler.system.namespace_launcher import NETWORK_ENV, PRIVATE
from profiler.system.stopping import signals_as_a_child
from profiler.system.tf_import import import_tensorflow
from profiler.worker.batches import bad_batch
from profiler.worker.consumer import GpuUtilization, KerasStep, SleepStep
from profiler.worker.loops import (
    BatchStream,
    PacedSteps,
    autotune_values,
    each_batch,
    flat_out_epoch,
    flat_out_window,
    paced_steps,
    ready_batches,
)
from profiler.worker.release import Handover
from profiler.worker.tf_data_options import tf_data_options

PHASE_IMPORT = "importing TensorFlow"
PHASE_BUILD = "building pipeline"


@dataclass(frozen=True)
class WorkerTask:
    target: Target
    source: DataSource | None
    batch_size: int
    workers: int
    temp_dir: Path
    log_path: Path
    service: ServiceSettings = field(default_factory=ServiceSettings)
    entry_point: str | None = (
        None  # where a registered scenario comes from (profiler.strategy.registry)
    )
    timeout_s: float | None = (
        None  # the worker's own deadline, counted from "go" (profiler.system.lifeline)
    )
    # drop the data's files from the page cache before every epoch (profiler.system.page_cache)
    cold: bool = False
    shuffle_buffer: int = 0
    trace_dir: Path | None = None  # where ("trace", ...) writes a TensorBoard profile


@dataclass(frozen=True)
class ClosingReport:
    ru_maxrss_mib: float
    tf_data_options: dict[str, Any] = field(default_factory=dict)


def worker_main(task: WorkerTask, conn: Connection) -> None:
    """Entry point of the spawned worker."""
    own_group_and_orphans()
    signals_as_a_child()  # the parent decides what stops; SIGTERM ends this tree
    # A parent killed outright leaves its scratch folder to the last of its processes.
    lifeline = Lifeline.of_this_process().leaves_behind(task.temp_dir.parent).start()
    try:
        _redirect_output(task.log_path)
    except OSError as error:
        # The task's folder is gone: the run is ending (a stop while this worker started), or
        # gave none. Say so to the parent, if it listens, never as a traceback on the terminal.
        with contextlib.suppress(OSError, ValueError):
            reason = error.strerror or str(error)
            conn.send(("error", f"cannot open the worker's log {task.log_path}: {reason}", ""))
        _exit_at_once()
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Temporary files of TensorFlow (autograph's modules) and the pipeline's: removed with the run.
    os.environ["TMPDIR"] = str(task.temp_dir)
    tempfile.tempdir = str(task.temp_dir)
    try:
        _serve(task, conn, lifeline)
    except BaseException as error:  # noqa: BLE001 - every failure must reach the parent
        try:
            conn.send(("error", error_summary(error), traceback.format_exc()))
        except OSError:  # the pipe broke: the parent is ending, killed outright perhaps
            lifeline.end_if_orphaned(wait_s=PARENT_ENDING_S)
            raise
    finally:
        conn.close()
    _exit_at_once()


def _exit_at_once() -> None:
    """End without TensorFlow's teardown, which takes seconds and which the parent would cut short.

    multiprocessing's exit handler runs first: it unlinks the semaphores a pipeline's process pool
    made, which a kill would leave for the resource tracker to report as leaked when the run ends.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    multiprocessing.util._exit_function()  # what a normal exit runs; public in all but name
    os._exit(0)


def _serve(task: WorkerTask, conn: Connection, lifeline: Lifeline) -> None:
    from profiler.strategy.registry import load
    from profiler.strategy.scenario import PipelineContext
    from profiler.system.memory import own_memory_mib

    scenario = load(task.target, task.entry_point)
    scenario.validate()
    scenario.check_knobs(task.target.knobs)
    private = (
        _network_checked(task.service) if scenario.needs_private_network(task.service) else True
    )
    if scenario.requires_tensorflow:
        conn.send(("phase", PHASE_IMPORT, time.time()))
        import_tensorflow()  # the baseline is taken with TensorFlow loaded
    # Workers start together and import at once; each builds nothing until its turn, told to.
    conn.send(("ready",))
    if conn.recv()[0] != "go":
        raise ValueError("the first request must be 'go'")
    if task.timeout_s is not None:
        lifeline.set_deadline(task.timeout_s)
    baseline_rss, baseline_pss = own_memory_mib()
    conn.send(("baseline", baseline_rss, baseline_pss, time.time()))
    context = PipelineContext(
        source=task.source,
        batch_size=task.batch_size,
        workers=task.target.knobs.get("workers") or task.workers,
        temp_dir=task.temp_dir,
        service=task.service,
        network_private=private,
        warn=lambda text: conn.send(("warning", text)),
        knobs=dict(task.target.knobs),
    )
    conn.send(("phase", PHASE_BUILD, time.time()))
    build_started = time.perf_counter()
    with scenario.open(context) as opened:
        dataset = _shuffled(opened, task) if task.shuffle_buffer else opened
        conn.send(("built", time.perf_counter() - build_started, context.helpers))
        # What exists now lives as long as the worker: leave it out of every later collection, so
        # a full one does not walk TensorFlow's few hundred thousand objects inside a timed window.
        gc.freeze()
        server = _Server(
            dataset,
            task.source.spec.classes if task.source is not None else None,
            _cold(task),
            task.trace_dir,
        )
        # A release that waits lets the machine go (profiler.worker.release).
        server.stream.releaser.handover = Handover(
            conn.send, lambda: lifeline.waiting_for(conn.recv)
        )
        while (request := lifeline.waiting_for(conn.recv))[0] != "close":
            conn.send(server.answer(request))
        options = tf_data_options(dataset)
    ru_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    conn.send(("closed", ClosingReport(ru_maxrss, options)))
    conn.close()
    # Now, while the dataset is still referenced: releasing it runs TensorFlow's destructors, which
    # can wait on threads for seconds (a generator's prefetch waiting on a terminated pool).
    _exit_at_once()


class _Server:
    """Answers the parent's requests on one open pipeline."""

    def __init__(
        self,
        dataset: Any,
        classes: int | None,
        before_epoch: Callable[[], None] | None,
        trace_dir: Path | None = None,
    ) -> None:
        self.dataset = dataset
        self.trace_dir = trace_dir
        self.before_epoch = before_epoch
        self.stream = BatchStream(dataset, before_epoch)
        self.classes = classes
        self.keras_step: KerasStep | None = None
        # A batch kept from the first epoch: the Keras consumer is built and traced on it before its
        # first timed step, and the fetch floor serves it (a throwaway iterator would be a second
        # one open, which Keras's PyDataset adapter does not allow).
        self.kept: list[Any] = []
        self.ready: Iterator[Any] | None = None

    def answer(self, request: tuple[Any, ...]) -> tuple[Any, ...]:
        command = request[0]
        if command in ("epoch", "fingerprint"):
            self.stream.finish_epoch()  # one iterator at a time: some pipelines allow no second
        if command == "epoch":
            if self.before_epoch is not None:
                self.before_epoch()
            keep = None if self.kept else self.kept.append
            return ("epoch", flat_out_epoch(self.dataset, self.stream.releaser, keep))
        if command == "window":
            return ("window", flat_out_window(self.stream, *request[1:4]))
        if command == "paced":
            count, step_s, consumer = request[1:4]
            return ("paced", self._paced(self.stream, count, step_s, consumer))
        if command == "floor":
            count, step_s, consumer = request[1:4]
            return ("floor", self._paced(self._ready(), count, step_s, consumer))
        if command == "trace":
            return ("trace", self._traced(*request[1:4]))
        if command == "autotune":
            return ("autotune", autotune_values(self.stream.last_iterator))
        if command == "fingerprint":
            builder = FingerprintBuilder()
            for batch in each_batch(self.dataset, self.stream.releaser):
                if (
                    not isinstance(batch, tuple | list)
                    or len(batch) != 2
                    or isinstance(batch[0], dict)
                ):
                    raise ValueError(bad_batch(batch))
                builder.add_batch(*batch)
            return ("fingerprint", builder.build())
        raise ValueError(f"unknown request {command!r}")

    def _paced(
        self, stream: BatchStream | Iterator[Any], count: int, step_s: float, consumer: str
    ) -> PacedSteps:
        step = self._keras() if consumer == CONSUMER_KERAS else SleepStep(step_s)
        with GpuUtilization() as gpu:
            measured = paced_steps(stream, step, count)
        return replace(measured, device=step.device, gpu_utilization_percent=gpu.mean())

    def _traced(self, count: int, step_s: float, consumer: str) -> tuple[str, ...]:
        """One paced epoch under TensorFlow's profiler (which starts no server); the files it
        wrote."""
        if self.trace_dir is None:
            raise RuntimeError("this worker was given no trace folder")
        import tensorflow as tf

        self.stream.finish_epoch()
        tf.profiler.experimental.start(str(self.trace_dir))
        try:
            self._paced(self.stream, count, step_s, consumer)
        finally:
            tf.profiler.experimental.stop()
        return tuple(sorted(str(path) for path in self.trace_dir.rglob("*.xplane.pb")))

    def _ready(self) -> Iterator[Any]:
        if self.ready is None:
            if not self.kept:
                raise RuntimeError("the fetch floor needs a batch from the warm-up epoch")
            self.ready = ready_batches(self.dataset, self.kept[0])
        return self.ready

    def _keras(self) -> KerasStep:
        if self.keras_step is None:
            self.keras_step = KerasStep(self.classes)
            if self.kept:
                self.keras_step.prepare(self.kept[0])
        return self.keras_step


def _shuffled(dataset: Any, task: WorkerTask) -> Any:
    """The strategy's batches through one seeded shuffle buffer of samples, batched again."""
    if not hasattr(dataset, "unbatch"):
        raise TypeError("--shuffle-buffer needs a tf.data pipeline, and this one is not")
    seed = task.source.spec.seed if task.source is not None else 0
    return dataset.unbatch().shuffle(task.shuffle_buffer, seed=seed).batch(task.batch_size)


def _cold(task: WorkerTask) -> Callable[[], None] | None:
    """What drops every file the pipeline reads from the page cache, for --cold."""
    if not task.cold or task.source is None:
        return None
    from profiler.system.page_cache import drop

    paths = [*task.source.cold_paths(), task.temp_dir]
    return lambda: drop(paths)


class NetworkNotPrivate(Exception):
    """The pipeline's servers would listen on every interface and the user has not accepted that."""


def _network_checked(service: ServiceSettings) -> bool:
    """True in a private network namespace (see profiler.system.namespace_launcher); False where
    none could be made and the user accepted the exposure; else the run of this pipeline is
    refused."""
    state = os.environ.get(
        NETWORK_ENV, "open: the worker was not started through profiler.system.namespace_launcher"
    )
    if state == PRIVATE:
        return True
    if service.on_all_interfaces:
        return False
    problem = state.removeprefix("open: ")
    raise NetworkNotPrivate(
        f"no private network namespace on this system ({problem}), so the tf.data service's "
        "servers would listen on every network interface, unauthenticated: pass "
        "--service-on-all-interfaces to accept that for this run, or --dispatcher grpc://HOST:PORT "
        "to use a cluster of your own"
    )


def _redirect_output(log_path: Path) -> None:
    # TensorFlow's C++ logging writes to fd 2 directly; keep it out of the progress display.
    handle = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)
