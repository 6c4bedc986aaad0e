"""What this machine can do at most for this data, whatever the pipeline.

The work of one sample (read + decode + resize + normalize) is timed in a tight loop, on one core,
in a fresh process, with every decoder that can do it (profiler.ceiling.decoder_rates); the ceiling
is the fastest one's rate times the usable cores. Where the data is files on disk, their read rate
is measured too (from disk in a cold run), and the ceiling is the lower of the two. A pipeline's
samples/s as a fraction of the ceiling says how much of the machine it turns into batches. The same
process breaks the strategies' work down into stages (profiler.ceiling.stage_times).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from profiler.base.stats import median, median_interval
from profiler.ceiling.decoder_rates import ARRAYS, OPENCV, DecoderRate, Timing, decoder_rates, timed
from profiler.ceiling.stage_times import (
    StageBreakdown,
    breakdown,
    data_stages,
    generator_feed,
    ready_batch_fetch,
)
from profiler.data.synthetic import DataSource
from profiler.system.lifeline import PARENT_ENDING_S, Lifeline
from profiler.system.page_cache import drop
from profiler.system.scratch import SCRATCH_PREFIX, owned_folder, release
from profiler.system.stopping import signals_as_a_child, stop_signals_deferred
from profiler.system.tf_import import import_tensorflow

# Time the work for at least this long, over at least this many samples, so timer resolution and
# one slow sample do not matter.
MIN_SECONDS = 1.0
MIN_SAMPLES = 50
_TIMEOUT_S = 120.0


class CeilingError(RuntimeError):
    """The ceiling could not be measured: a run goes on without it. Errors of ``quiet`` are not
    this, and go on up."""


@dataclass(frozen=True)
class Ceiling:
    work_per_sample_s: float  # one core, tight loop
    cores: int
    measured_samples: int
    read_mb_per_s: float | None = None  # None for memory-mapped arrays
    mb_per_sample: float | None = None
    cold: bool = False  # the read rate was measured with the files dropped from the page cache
    decoder: str = OPENCV  # the decoder whose work_per_sample_s this is: the fastest one timed
    decoders: tuple[DecoderRate, ...] = ()  # every decoder timed, the strategies' OpenCV first
    stages: StageBreakdown | None = None
    # Timed again in the measuring rounds (in_turns): how many turns, the 95% interval of the
    # ceiling they give, and the ceiling as first timed alone, before the strategies.
    turns: int = 0
    turns_samples_per_s_ci: tuple[float, float] | None = None
    alone_samples_per_s: float | None = None

    @property
    def compute_samples_per_s(self) -> float:
        return self.cores / self.work_per_sample_s

    @property
    def read_samples_per_s(self) -> float | None:
        if not self.read_mb_per_s or not self.mb_per_sample:
            return None
        return self.read_mb_per_s / self.mb_per_sample

    @property
    def limiting_read_samples_per_s(self) -> float | None:
        """The read rate where it bounds apart from the work: reads from disk (``cold``). A warm
        read is a copy out of the page cache that every core makes for itself, and the work per
        sample already holds it (the timed loop opens and reads each file); one thread's warm read
        rate set against every core's work would call the machine read-bound when it is not."""
        return self.read_samples_per_s if self.cold else None

    @property
    def samples_per_s(self) -> float:
        read = self.limiting_read_samples_per_s
        return self.compute_samples_per_s if read is None else min(self.compute_samples_per_s, read)

    @property
    def bound_by(self) -> str:
        read = self.limiting_read_samples_per_s
        return "reading" if read is not None and read < self.compute_samples_per_s else "decoding"


# Fewer turns than that give no interval of a median; the first timing stands.
LEAST_TURNS = 6


def in_turns(ceiling: Ceiling, work_rates: Sequence[float]) -> Ceiling:
    """The ceiling with its decode work timed in the rounds the strategies were measured in.

    ``work_rates``: the strategies' OpenCV sample work on one core, samples/s, a turn each (the
    machine's reference times it beside its fixed workload). The first timing, alone, also gave
    every other decoder's work relative to OpenCV's; those ratios carry over. The read rate stays
    as timed. ``ceiling`` is the first timing; applied twice the scaling would compound.
    """
    opencv = next((d for d in ceiling.decoders if d.name in (OPENCV, ARRAYS)), None)
    alone_work_s = opencv.work_per_sample_s if opencv is not None else ceiling.work_per_sample_s
    if len(work_rates) < LEAST_TURNS or alone_work_s <= 0:
        return ceiling
    low, high = median_interval(work_rates)
    factor = 1.0 / (median(work_rates) * alone_work_s)
    scaled = replace(
        ceiling,
        work_per_sample_s=ceiling.work_per_sample_s * factor,
        decoders=tuple(
            replace(d, work_per_sample_s=d.work_per_sample_s * factor) for d in ceiling.decoders
        ),
        turns=len(work_rates),
        alone_samples_per_s=ceiling.samples_per_s,
    )

    def at(rate: float) -> float:  # the ceiling were OpenCV's one-core rate ``rate``
        return replace(
            scaled, work_per_sample_s=ceiling.work_per_sample_s / (rate * alone_work_s)
        ).samples_per_s

    interval = (at(low), at(high))
    # Reading from disk bounding both ends leaves nothing the turns could move: no interval, where
    # one of zero width would claim a certainty the one read timing does not have.
    return replace(scaled, turns_samples_per_s_ci=interval if interval[0] < interval[1] else None)


class ReadRate(NamedTuple):
    """Files read whole: MB/s, and the MB read."""

    mb_per_s: float
    mb: float


def time_work(work: Callable[[int], Any], count: int) -> Timing:
    """Seconds per call of ``work(index)`` in a tight loop, cycling over ``count`` indices."""
    return timed(work, count, MIN_SECONDS, MIN_SAMPLES)


def read_rate(paths: list[Path] | list[str], cold: bool = False) -> ReadRate:
    """(MB/s, MB) reading whole files: from the page cache when they were read recently, unless
    ``cold``."""
    if cold:
        drop(Path(path) for path in paths)
    total = 0
    started = time.perf_counter()
    for path in paths:
        total += len(Path(path).read_bytes())
    elapsed = max(time.perf_counter() - started, 1e-9)
    return ReadRate(total / 1e6 / elapsed, total / 1e6)


def _measure(
    source: DataSource,
    cores: int,
    work: Callable[[int], Any] | None,
    cold: bool,
    batch_size: int,
    scratch: str,
    conn: Any,
) -> None:
    # It ends, with whatever it started, when the parent dies: a parent killed outright (SIGKILL)
    # cleans nothing up.
    signals_as_a_child()
    lifeline = Lifeline.of_this_process().leaves_behind(scratch).start()
    _quiet()
    # TensorFlow's temporary files (autograph's generated modules) go where the parent removes them.
    os.environ["TMPDIR"] = tempfile.tempdir = scratch
    try:
        if work is None:
            # Imported while the workers import, before the go: it costs the run no time of its
            # own. Imported and idle, it leaves OpenCV's timing alone (µs per sample within 4%
            # with and without it, three timings each).
            with contextlib.suppress(ImportError):
                import_tensorflow()
        try:
            go = conn.recv()
        except (EOFError, OSError):  # the parent is gone or gave up: nobody to answer
            # Gone, it removes no folder: this process does, before it returns and ends.
            lifeline.end_if_orphaned(wait_s=PARENT_ENDING_S)
            return
        if go != "go":
            return
        per_sample, measured = time_work(work or source.load_sample, source.num_samples)
        read_mb_per_s = mb_per_sample = None
        if source.spec.form != "arrays" and work is None:
            read_mb_per_s, megabytes = read_rate(source.files(), cold)
            mb_per_sample = megabytes / source.stored_samples()
        ceiling = Ceiling(per_sample, cores, measured, read_mb_per_s, mb_per_sample, cold)
        if work is None:
            ceiling = _with_decoders_and_stages(ceiling, source, batch_size)
        _answer(conn, lifeline, ("ok", ceiling))
    except BaseException as error:  # noqa: BLE001 - reported to the parent as a one-line reason
        _answer(conn, lifeline, ("error", f"{type(error).__name__}: {error}"))
    finally:
        conn.close()


def _answer(conn: Any, lifeline: Lifeline, message: tuple[str, Any]) -> None:
    """Send the parent the answer; a parent gone meanwhile leaves this process to end as an
    orphan, its folder removed."""
    try:
        conn.send(message)
    except OSError:
        lifeline.end_if_orphaned(wait_s=PARENT_ENDING_S)


def _quiet() -> None:
    """TensorFlow's import writes to the terminal from C++; this process answers through its
    pipe."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)


def _with_decoders_and_stages(ceiling: Ceiling, source: DataSource, batch_size: int) -> Ceiling:
    """The ceiling set by the fastest decoder, with the strategies' work broken down into stages.

    OpenCV was timed before TensorFlow ran anything here, so TensorFlow's threads do not touch it;
    it is timed again after the other decoders, and the faster of the two stands.
    """
    arrays = source.spec.form == "arrays"
    opencv = DecoderRate(
        ARRAYS if arrays else OPENCV,
        ceiling.work_per_sample_s,
        ceiling.measured_samples,
        "reading the stored arrays"
        if arrays
        else "OpenCV's decode and area resize, as the strategies decode",
    )
    rates = (opencv,) if arrays else decoder_rates(source, opencv)
    if not arrays:
        again = timed(source.load_sample, source.num_samples, MIN_SECONDS / 2, MIN_SAMPLES)
        rates = with_steadier_opencv(rates, again)
    fastest = min(rates, key=lambda rate: rate.work_per_sample_s)
    samples = [source.load_sample(index % source.num_samples) for index in range(batch_size)]
    labels = np.asarray(source.labels[:batch_size], dtype=np.int32)
    batch = (np.stack(samples), np.resize(labels, batch_size))
    stages = breakdown(
        data_stages(source, ready_batch_fetch(batch), generator_feed(batch)),
        batch_size,
        ceiling.cores,
    )
    return replace(
        ceiling,
        work_per_sample_s=fastest.work_per_sample_s,
        measured_samples=fastest.measured_samples,
        decoder=fastest.name,
        decoders=rates,
        stages=stages,
    )


def with_steadier_opencv(rates: tuple[DecoderRate, ...], again: Timing) -> tuple[DecoderRate, ...]:
    """``rates`` with OpenCV's work, the first, as the faster of its timing before the other
    decoders and ``again``, after them.

    The turns rescale every decoder by OpenCV's ratio to its first timing, so a moment of load on
    that one timing would carry into all of them: beside another run importing TensorFlow, OpenCV
    once read 3.04 ms a sample, TensorFlow's decoders 0.24 and 0.19 ms right after, and the turns
    0.24 ms, which made a ceiling of 134,000 samples/s of a machine that decodes 10,000.
    """
    first = rates[0]
    if again.seconds_per_call >= first.work_per_sample_s:
        return rates
    steadier = replace(
        first, work_per_sample_s=again.seconds_per_call, measured_samples=again.calls
    )
    return (steadier, *rates[1:])


def measure_ceiling(
    source: DataSource,
    cores: int,
    work: Callable[[int], Any] | None = None,
    cold: bool = False,
    batch_size: int = 32,
    quiet: Callable[[], object] | None = None,
) -> Ceiling:
    """Measure in a fresh spawned process, so nothing else shares its core; TensorFlow runs there
    only after OpenCV was timed.

    ``work`` replaces the dataset's own decode; it must be importable by name (a module-level
    function), as any target of a spawned process. ``quiet`` returns once the machine is quiet: the
    process starts before it is called and imports meanwhile, and times nothing until it returns.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=True)
    scratch = owned_folder(tempfile.gettempdir(), SCRATCH_PREFIX, swept_if_killed=True)
    process = context.Process(
        target=_measure,
        args=(source, cores, work, cold, batch_size, str(scratch), sender),
        name="profiler-ceiling",
    )
    try:
        with stop_signals_deferred():  # a child half started would outlive the run
            process.start()
        sender.close()
        if quiet is not None:
            quiet()
        with contextlib.suppress(OSError):  # it died while it imported: the answer below says so
            receiver.send("go")
        if not receiver.poll(_TIMEOUT_S):
            raise CeilingError(f"measuring the ceiling took over {_TIMEOUT_S:g} s")
        status, value = receiver.recv()
    except EOFError:
        raise CeilingError("the ceiling measurement process died") from None
    finally:
        if process.is_alive():
            process.kill()
        if process.pid is not None:  # started: a stop may come before it is
            process.join(5)
        receiver.close()
        shutil.rmtree(scratch, ignore_errors=True)
        release(scratch)
    if status != "ok":
        raise CeilingError(f"measuring the ceiling failed: {value}")
    return value
