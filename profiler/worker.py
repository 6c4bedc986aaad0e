"""The measuring process: one fresh spawned interpreter per scenario.

It reports over a pipe: ("phase", name, unix time) as it goes, ("baseline", rss, pss, unix time)
once TensorFlow is imported, then exactly one of ("result", WorkerReport) or
("error", one-line summary, traceback).
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from profiler.data import DataSource
from profiler.fingerprint import FingerprintBuilder
from profiler.measure import EpochTiming, PacedEpoch, flat_out_epoch, paced_epoch

PHASE_IMPORT = "importing TensorFlow"
PHASE_BUILD = "building pipeline"
PHASE_WARMUP = "warm-up epoch"
PHASE_VERIFY = "checking delivered data"


@dataclass(frozen=True)
class WorkerTask:
    scenario: str
    source: DataSource
    batch_size: int
    workers: int
    epochs: int
    idle_epochs: int
    step_s: float
    temp_dir: Path
    log_path: Path


@dataclass(frozen=True)
class WorkerReport:
    baseline_rss_mib: float
    baseline_pss_mib: float
    build_s: float
    first_batch_s: float
    warmup_epoch_s: float
    epochs: tuple[EpochTiming, ...]
    paced: tuple[PacedEpoch, ...]
    fingerprint: dict[str, Any]
    ru_maxrss_mib: float
    tf_data_options: dict[str, Any] = field(default_factory=dict)


def worker_main(task: WorkerTask, conn: Connection) -> None:
    """Entry point of the spawned worker."""
    # Ctrl-C reaches the whole foreground process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_output(task.log_path)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        report = _measure(task, conn)
        conn.send(("result", report))
    except BaseException as error:  # noqa: BLE001 - every failure must reach the parent
        summary = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        conn.send(("error", summary, traceback.format_exc()))
    finally:
        conn.close()


def _measure(task: WorkerTask, conn: Connection) -> WorkerReport:
    from profiler.memory import own_memory_mib
    from scenarios import PipelineContext, resolve

    def phase(name: str) -> None:
        conn.send(("phase", name, time.time()))

    scenario = resolve(task.scenario)
    if scenario.requires_tensorflow:
        phase(PHASE_IMPORT)
        import tensorflow  # noqa: F401 - the baseline is taken with TensorFlow loaded
    baseline_rss, baseline_pss = own_memory_mib()
    conn.send(("baseline", baseline_rss, baseline_pss, time.time()))

    context = PipelineContext(
        source=task.source, batch_size=task.batch_size, workers=task.workers, temp_dir=task.temp_dir
    )
    phase(PHASE_BUILD)
    build_started = time.perf_counter()
    with scenario.open(context) as dataset:
        build_s = time.perf_counter() - build_started
        phase(PHASE_WARMUP)
        warmup = flat_out_epoch(dataset)
        epochs = []
        for number in range(1, task.epochs + 1):
            phase(f"epoch {number}/{task.epochs} flat out")
            epochs.append(flat_out_epoch(dataset))
        paced = []
        for number in range(1, task.idle_epochs + 1):
            phase(f"epoch {number}/{task.idle_epochs} at {task.step_s * 1000:g} ms/step")
            paced.append(paced_epoch(dataset, task.step_s))
        phase(PHASE_VERIFY)
        builder = FingerprintBuilder()
        for images, labels in dataset:
            builder.add_batch(images, labels)
        options = _tf_data_options(dataset)
    return WorkerReport(
        baseline_rss_mib=baseline_rss,
        baseline_pss_mib=baseline_pss,
        build_s=build_s,
        first_batch_s=build_s + warmup.first_batch_s,
        warmup_epoch_s=build_s + warmup.seconds,
        epochs=tuple(epochs),
        paced=tuple(paced),
        fingerprint=builder.build().to_dict(),
        ru_maxrss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,  # KiB on Linux
        tf_data_options=options,
    )


# tf.data's documented defaults for options left unset (reported as None by TensorFlow).
_TF_DATA_DEFAULTS = {"inject_prefetch": True, "autotune": True, "deterministic": True}


def _tf_data_options(dataset: Any) -> dict[str, Any]:
    """The tf.data options in effect on the final dataset, and which of them were set explicitly."""
    read = getattr(dataset, "options", None)
    if read is None:
        return {}
    options = read()
    explicit = {
        "inject_prefetch": options.experimental_optimization.inject_prefetch,
        "autotune": options.autotune.enabled,
        "deterministic": options.deterministic,
    }
    effective: dict[str, Any] = {
        name: _TF_DATA_DEFAULTS[name] if value is None else bool(value)
        for name, value in explicit.items()
    }
    effective["explicit"] = sorted(name for name, value in explicit.items() if value is not None)
    return effective


def _redirect_output(log_path: Path) -> None:
    # TensorFlow's C++ logging writes to fd 2 directly; keep it out of the progress display.
    handle = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)
