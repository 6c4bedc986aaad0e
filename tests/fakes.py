"""Deliberately simple or broken scenarios with known behaviour, for testing the measurements.

They need no TensorFlow: a dataset is any re-iterable of (images, labels) batches.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from profiler.data.synthetic import DataSource
from profiler.strategy.scenario import Knob, PipelineContext, Scenario
from scenarios._shared import numpy_batches
from scenarios.data_service import DataServiceScenario

MIB = 1 << 20


class VirtualTime:
    """A clock that moves only when slept on: the worker's loops read it in place of time, so a
    batch that came at once took no time at all, whatever else the machine was doing."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def perf_counter(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.now_s += seconds


class _Fake(Scenario):
    requires_tensorflow = False
    summary = "test fake"
    description = "test fake"


def _tiny_batch(size: int = 4) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((size, 2, 2, 1), np.float32), np.zeros(size, np.int32)


# Where SlowBatches writes, one JSON line per batch, when each batch was asked for and handed over:
# the consumer's waits as they really were, a sleep that a busy host stretched included.
BATCH_LOG_ENV = "FAKE_BATCH_LOG"


class SlowBatches:
    """Batches that each take ``delay_s`` to produce, in the consumer's thread or a producer
    thread."""

    def __init__(self, delay_s: float, batches: int, read_ahead: bool) -> None:
        self.delay_s, self.batches, self.read_ahead = delay_s, batches, read_ahead

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        batches = self._read_ahead() if self.read_ahead else self._in_turn()
        log = os.environ.get(BATCH_LOG_ENV)
        return batches if log is None else _logged(batches, log)

    def _in_turn(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for _ in range(self.batches):
            time.sleep(self.delay_s)
            yield _tiny_batch()

    def _read_ahead(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return _produced(self.delay_s, self.batches, buffer=4)


def _produced(
    delay_s: float, batches: int, buffer: int, producers: int = 1
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``batches`` batches made by ``producers`` threads, each one per ``delay_s``, into a queue of
    ``buffer``."""
    made: queue.Queue = queue.Queue(maxsize=buffer)
    tickets = iter(range(batches))
    lock = threading.Lock()

    def produce() -> None:
        while True:
            with lock:
                ticket = next(tickets, None)
            if ticket is None:
                made.put(None)
                return
            time.sleep(delay_s)
            made.put(_tiny_batch())

    for _ in range(producers):
        threading.Thread(target=produce, daemon=True).start()
    done = 0
    while done < producers:
        batch = made.get()
        if batch is None:
            done += 1
        else:
            yield batch


def _logged(batches: Iterator[Any], path: str) -> Iterator[Any]:
    """``batches``, stamping with perf_counter (CLOCK_MONOTONIC: one clock for every process) when
    each was asked for and when it was handed over; each batch's stamps are appended to ``path`` as
    a line of its own as it is handed over, so that an epoch left unfinished (the worker closes
    in its middle) is recorded too."""
    with open(path, "a", buffering=1) as log:
        first = True
        while True:
            asked = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                return
            handed = time.perf_counter()
            record = {"pid": os.getpid(), "first": first, "asked": asked, "handed": handed}
            log.write(json.dumps(record) + "\n")
            first = False
            yield batch


@dataclass(frozen=True)
class RecordedPaced:
    """The paced phase as SlowBatches recorded it: the wait of each steady batch and of each epoch's
    first, in milliseconds, in the order the consumer took them."""

    steady_ms: tuple[float, ...]
    epoch_start_ms: tuple[float, ...]
    misfit_ms: float  # the largest gap between a wait the tool reported and the recorded one


def recorded_paced(
    path: Path, reported_ms: tuple[float, ...] | list[float], block: int, step_ms: float = 0.0
) -> RecordedPaced:
    """The stretch of the recorded batches that the paced phase consumed, matched to the waits the
    tool reported (``wait_ms``, the steady ones in order).

    The paced phase goes on where the windows left the stream (an epoch's start or its middle),
    takes whole blocks of ``block`` steps, and between two batches runs a step of ``step_ms`` at
    least (a sleep never ends early); among the stretches of that shape with as many steady
    batches as ``reported_ms``, the one whose recorded waits lie closest to the reported ones.
    """
    taken = [
        (batch["first"], batch["asked"] * 1000.0, batch["handed"] * 1000.0)
        for line in Path(path).read_text().splitlines()
        for batch in [json.loads(line)]
    ]
    best: RecordedPaced | None = None
    for start in range(len(taken)):
        end = start
        steady: list[float] = []
        while len(steady) < len(reported_ms) and end < len(taken):
            if not taken[end][0]:
                steady.append(taken[end][2] - taken[end][1])
            end += 1
        # the rest of the last block: epoch starts only
        stop = start + -(-(end - start) // block) * block
        stretch = taken[start:stop]
        whole = stop <= len(taken) and all(first for first, _, _ in taken[end:stop])
        shaped = whole and len(steady) == len(reported_ms)
        paced = all(
            later[1] - earlier[2] >= step_ms for earlier, later in itertools.pairwise(stretch)
        )
        if not (shaped and paced):
            continue
        misfit = max(abs(wait - truth) for wait, truth in zip(reported_ms, steady, strict=True))
        if best is None or misfit < best.misfit_ms:
            starts = tuple(handed - asked for first, asked, handed in stretch if first)
            best = RecordedPaced(tuple(steady), starts, misfit)
    assert best is not None, (
        f"no stretch of the {len(taken)} recorded batches holds {len(reported_ms)} steady ones"
    )
    return best


class SlowScenario(_Fake):
    def __init__(
        self,
        name: str,
        delay_s: float,
        batches: int = 12,
        read_ahead: bool = False,
        build_s: float = 0.0,
    ) -> None:
        self.name, self.delay_s, self.batches = name, delay_s, batches
        self.read_ahead, self.build_s = read_ahead, build_s

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        time.sleep(self.build_s)
        yield SlowBatches(self.delay_s, self.batches, self.read_ahead)


class _SlowToLetGo:
    """One epoch of batches ``delay_s`` apart, whose iterator takes ``release_s`` to be let go of,
    as a tf.data iterator waits for its autotuning thread's next wake."""

    def __init__(self, delay_s: float, batches: int, release_s: float) -> None:
        self.delay_s, self.left, self.release_s = delay_s, batches, release_s

    def __iter__(self) -> _SlowToLetGo:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        if self.left == 0:
            raise StopIteration
        self.left -= 1
        time.sleep(self.delay_s)
        return _tiny_batch()

    def __del__(self) -> None:
        time.sleep(self.release_s)


@dataclass(frozen=True)
class SlowReleaseBatches:
    delay_s: float
    batches: int
    release_s: float

    def __iter__(self) -> _SlowToLetGo:
        return _SlowToLetGo(self.delay_s, self.batches, self.release_s)


class SlowReleaseScenario(_Fake):
    def __init__(self, name: str, delay_s: float, batches: int, release_s: float) -> None:
        self.name, self.batches = name, SlowReleaseBatches(delay_s, batches, release_s)

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        yield self.batches


class AllocateScenario(_Fake):
    """Holds a block of known size, every page touched, while the pipeline runs."""

    def __init__(self, name: str, mib: int) -> None:
        self.name, self.mib = name, mib

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        block = np.ones(self.mib * MIB, dtype=np.uint8)
        time.sleep(0.3)  # many 10 ms samples see it
        yield [_tiny_batch()]
        del block


class PerSampleAllocateScenario(_Fake):
    """Holds ``base_mib`` plus ``per_sample_kib`` for every sample of the dataset: a known
    growth."""

    def __init__(self, name: str, per_sample_kib: float, base_mib: int = 0) -> None:
        self.name, self.per_sample_kib, self.base_mib = name, per_sample_kib, base_mib
        self.memory_grows_with_data = per_sample_kib > 0

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        assert ctx.source is not None
        size = int(self.base_mib * MIB + self.per_sample_kib * 1024 * ctx.source.num_samples)
        block = np.ones(size, dtype=np.uint8)
        time.sleep(0.2)  # many 10 ms samples see it
        yield [_tiny_batch()] * max(1, ctx.source.num_samples // 64)
        del block


class SpikeScenario(_Fake):
    """Holds a block of known size for ``hold_s`` while the pipeline is built, then lets it go."""

    def __init__(self, name: str, mib: int, hold_s: float) -> None:
        self.name, self.mib, self.hold_s = name, mib, hold_s

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        block = np.ones(self.mib * MIB, dtype=np.uint8)
        time.sleep(self.hold_s)
        del block
        yield SlowBatches(0.002, 8, read_ahead=False)


def _hold_memory(mib: int, seconds: float) -> None:
    block = np.ones(mib * MIB, dtype=np.uint8)
    time.sleep(seconds)
    del block


class ChildAllocateScenario(_Fake):
    """A child process of the worker holds the memory: only a whole-tree sampler sees it."""

    def __init__(self, name: str, mib: int) -> None:
        self.name, self.mib = name, mib

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        child = multiprocessing.get_context("spawn").Process(
            target=_hold_memory, args=(self.mib, 1.5)
        )
        child.start()
        try:
            yield SlowBatches(0.1, 12, read_ahead=False)
        finally:
            child.join()


class RealDataScenario(_Fake):
    """The synthetic data decoded in the consumer's thread, without TensorFlow."""

    name = "real_data"

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        class Epochs:
            def __iter__(self) -> Iterator[Any]:
                return numpy_batches(ctx.source, ctx.batch_size)

        yield Epochs()


class PeakedScenario(_Fake):
    """The dataset's own batches, each after a wait that depends on its ``threads`` knob as a pool's
    would: shorter up to 3 threads, longer past them (contention), so the rate peaks at 3 whatever
    the CPU."""

    name = "peaked"
    WAIT_S: ClassVar[dict[int, float]] = {1: 0.040, 2: 0.024, 3: 0.016, 4: 0.022, 5: 0.028}
    knobs = (
        Knob("threads", 1, (2, 3, 4, 5), code="threads = {value}"),
        Knob("flavour", "plain", ("salted",)),
    )

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        wait_s = self.WAIT_S[ctx.setting(self.knobs[0])]

        class Epochs:
            def __iter__(self) -> Iterator[Any]:
                for batch in numpy_batches(ctx.source, ctx.batch_size):
                    time.sleep(wait_s)
                    yield batch

        yield Epochs()


class SleepyService(DataServiceScenario):
    """tf.data service workers whose every batch costs a sleep of ``BATCH_S`` and next to no CPU: a
    worker delivers batch_size / BATCH_S samples/s, n workers n times that, whatever the cores."""

    name = "sleepy_service"
    summary = description = "test fake"
    data_kinds = ("arrays",)
    pixels_may_differ = False
    BATCH_S = 0.040

    def worker_batches(self, tf: Any, ctx: PipelineContext) -> tuple[Any, int]:
        from tensorflow.python.data.experimental.ops import testing

        assert ctx.source is not None
        count, size = ctx.source.num_samples, ctx.batch_size
        images, labels = (tf.constant(part) for part in ctx.source.load_range(0, count))
        chunks = -(-count // size)

        def batch(chunk: Any) -> tuple[Any, Any, Any]:
            low = chunk * size
            return images[low : low + size], labels[low : low + size], chunk

        endless = (
            tf.data.Dataset.range(chunks)
            .repeat()
            .map(batch)
            .apply(testing.sleep(int(self.BATCH_S * 1e6)))
        )
        return endless, chunks


class CrashScenario(_Fake):
    name = "crash"

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        os.kill(os.getpid(), signal.SIGKILL)
        yield []


class RaiseScenario(_Fake):
    name = "raise"

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        raise RuntimeError("the pipeline could not be built")
        yield []


def _start_sleeping_grandchild() -> None:
    child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(3600,))
    child.start()
    pid_file = os.environ.get("FAKE_HANG_PID_FILE")
    if pid_file:  # lets a test check that the grandchild is gone afterwards
        with open(pid_file, "w") as handle:
            handle.write(str(child.pid))


# Detaches itself as a daemon does: forks, leaves its session, forks again, and the first two exit.
_DAEMON = """
import os, sys, time
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
with open(sys.argv[1], "w") as handle:
    handle.write(str(os.getpid()))
time.sleep(3600)
"""


class DaemonizingScenario(_Fake):
    """Starts a program that daemonizes itself, then delivers batches as QUICK does: the daemon,
    orphaned at once, must still end with the run."""

    name = "daemonizing"

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        pid_file = os.environ.get("FAKE_DAEMON_PID_FILE") or str(ctx.temp_dir / "daemon.pid")
        subprocess.run([sys.executable, "-c", _DAEMON, pid_file], check=True, timeout=30)
        while not os.path.exists(pid_file) or not Path(pid_file).read_text():
            time.sleep(0.01)
        yield SlowBatches(0.001, 5, False)


# Where SignalsScenario writes what it found: the worker's blocked signals and how its child ended.
SIGNALS_FILE_ENV = "FAKE_SIGNALS_FILE"


class SignalsScenario(_Fake):
    """Starts a child process as a pipeline's process pool would, asks it to end with SIGTERM (as
    ``Pool.terminate`` does) and notes how it ended; delivers batches as QUICK does."""

    name = "signals"

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(60,))
        child.start()
        child.terminate()
        child.join(10)
        ended_by = child.exitcode
        if ended_by is None:  # SIGTERM did not reach it
            child.kill()
            child.join()
        found = {
            "blocked": sorted(int(n) for n in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
            "sigint_ignored": signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
            "child_exitcode": ended_by,
        }
        Path(os.environ[SIGNALS_FILE_ENV]).write_text(json.dumps(found))
        yield SlowBatches(0.001, 5, False)


class HangScenario(_Fake):
    """Hangs while a child process it started is alive: both must be gone after the timeout."""

    name = "hang"

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        _start_sleeping_grandchild()
        (ctx.temp_dir / "scratch.bin").write_bytes(b"x" * 1024)
        time.sleep(3600)
        yield []


class SpinScenario(_Fake):
    """Like HangScenario, but busy: the worker's own thread spins in Python and never waits."""

    name = "spin"

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        _start_sleeping_grandchild()
        while True:
            pass
        yield []


class FillingBatches:
    """An epoch of ``batches`` batches made by a producer thread, one per ``delay_s``, into a
    buffer of ``buffer`` batches, as tf.data's prefetch fills its own: a consumer that pauses
    finds the buffer full, unless the whole process paused with it."""

    def __init__(self, delay_s: float, batches: int, buffer: int) -> None:
        self.delay_s, self.batches, self.buffer = delay_s, batches, buffer

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return _produced(self.delay_s, self.batches, self.buffer)


class FillingScenario(_Fake):
    def __init__(self, name: str, delay_s: float, batches: int, buffer: int) -> None:
        self.name, self.delay_s, self.batches, self.buffer = name, delay_s, batches, buffer

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        yield FillingBatches(self.delay_s, self.batches, self.buffer)


class BurstyScenario(_Fake):
    """``producers`` threads each make a batch per ``delay_s``: they start together and sleep
    alike, so batches arrive in bursts of ``producers``, as reads in flight do when they end at
    once (after a freeze, say)."""

    def __init__(self, name: str, delay_s: float, producers: int, batches: int) -> None:
        self.name, self.delay_s, self.producers, self.batches = name, delay_s, producers, batches

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        class Epochs:
            def __iter__(inner) -> Iterator[tuple[np.ndarray, np.ndarray]]:
                return _produced(self.delay_s, self.batches, 2 * self.producers, self.producers)

        yield Epochs()


# Where the stepping fakes share when the first of them served a batch: their "machine" is slower
# by STEP_FACTOR from STEP_AFTER_S later, for all of them at once.
STEP_FILE_ENV = "FAKE_STEP_FILE"
STEP_FACTOR = 1.5
STEP_AFTER_S = 3.0


class SteppingBatches:
    """``batches`` batches of ``delay_s`` each, every delay STEP_FACTOR longer once STEP_AFTER_S
    have passed since the first batch any stepping fake served: a machine that slowed down."""

    def __init__(self, delay_s: float, batches: int) -> None:
        self.delay_s, self.batches = delay_s, batches

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        path = os.environ[STEP_FILE_ENV]
        for _ in range(self.batches):
            with open(path, "a+") as shared:  # the first writer's stamp stays first
                shared.seek(0)
                first = shared.readline().strip()
                if not first:
                    shared.write(f"{time.time()}\n")
                    first = str(time.time())
            slower = time.time() - float(first) > STEP_AFTER_S
            time.sleep(self.delay_s * (STEP_FACTOR if slower else 1.0))
            yield _tiny_batch()


class SteppingScenario(_Fake):
    def __init__(self, name: str, delay_s: float, batches: int = 5) -> None:
        self.name, self.delay_s, self.batches = name, delay_s, batches

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        yield SteppingBatches(self.delay_s, self.batches)


class NoOpKnobScenario(SlowScenario):
    """A steady fake with a setting that changes nothing: tuning must never keep it."""

    knobs = (Knob("noop", 1, values=(2,), what="changes nothing"),)

    def __init__(self) -> None:
        super().__init__("noop_knob", delay_s=0.020, batches=5)


class SleepingSource(DataSource):
    """A dataset whose sample work costs a known time, asleep: ``load_sample`` takes SAMPLE_S, so
    one core works through 1 / SAMPLE_S samples a second, however loaded the machine."""

    SAMPLE_S = 0.002

    def load_sample(self, index: int) -> np.ndarray:
        time.sleep(self.SAMPLE_S)
        return np.zeros(self.spec.sample_shape, np.float32)


QUICK = SlowScenario("quick", delay_s=0.001, batches=5)
QUICK_TOO = SlowScenario("quick_too", delay_s=0.001, batches=5)
SLOW_30MS = SlowScenario("slow_30ms", delay_s=0.030)
SLOW_30MS_READ_AHEAD = SlowScenario("slow_30ms_read_ahead", delay_s=0.030, read_ahead=True)
SLOW_BUILD = SlowScenario("slow_build", delay_s=0.050, batches=4, build_s=0.4)
ALLOCATE_300MB = AllocateScenario("allocate_300mb", 300)
SPIKE_300MB_HALF_SECOND = SpikeScenario("spike_300mb", 300, hold_s=0.5)
# Batches of a known cost for the regression gate: 20 ms each, and the same made 25% slower.
STEADY_20MS = SlowScenario("steady_20ms", delay_s=0.020, batches=5)
STEADY_25MS = SlowScenario("steady_25ms", delay_s=0.025, batches=5)
# 4 samples per 20 ms, and half a second to let go of each epoch's iterator.
SLOW_RELEASE_20MS = SlowReleaseScenario("slow_release_20ms", 0.020, batches=5, release_s=0.5)
# 512 KiB per sample: 32 MiB at 64 samples, 128 MiB at 256.
GROW_512KIB_PER_SAMPLE = PerSampleAllocateScenario("grow_512kib_per_sample", per_sample_kib=512)
CONSTANT_80MB = PerSampleAllocateScenario("constant_80mb", per_sample_kib=0, base_mib=80)
CHILD_ALLOCATE_200MB = ChildAllocateScenario("child_allocate_200mb", 200)
REAL_DATA = RealDataScenario()
PEAKED = PeakedScenario()
SLEEPY_SERVICE = SleepyService()
CRASH = CrashScenario()
RAISE = RaiseScenario()
HANG = HangScenario()
DAEMONIZING = DaemonizingScenario()
SIGNALS = SignalsScenario()
SPIN = SpinScenario()
# Three reads of 60 ms in flight: 50 batches of 4 a second, 200 samples/s.
BURSTY_60MS = BurstyScenario("bursty_60ms", delay_s=0.060, producers=3, batches=150)
FILLING_20MS = FillingScenario("filling_20ms", delay_s=0.020, batches=400, buffer=64)
STEPPING_20MS = SteppingScenario("stepping_20ms", delay_s=0.020)
STEPPING_25MS = SteppingScenario("stepping_25ms", delay_s=0.025)
NOOP_KNOB = NoOpKnobScenario()
