"""The loops that run inside the worker: flat out for throughput, paced for accelerator idle time.

A pipeline is consumed as one stream of batches, epoch after epoch, with no gap at the epoch
boundaries: flat-out windows and paced steps continue it, so the cost of starting each epoch
(iterator creation, empty prefetch buffers) stays in the rates in proportion; the paced steps
mark which step began an epoch, whose wait idle reports apart. Nothing here imports TensorFlow; a
dataset is anything re-iterable that yields (images, labels).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import psutil

from profiler.base.moved import left_behind
from profiler.results.records import AutotuneValue
from profiler.worker.batches import batch_length
from profiler.worker.bursts import bursts, lead_in
from profiler.worker.release import Releaser, each_batch


def tree_cpu_seconds() -> float:
    """User + system CPU seconds of this process, its live descendants and its reaped children."""
    me = psutil.Process()
    times = me.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in me.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.Error:
            continue
        total += child_times.user + child_times.system
    return total


# Epoch ends kept per window: enough for every epoch that lasts a few ms, bounded for smaller ones.
MAX_EPOCH_ENDS = 256


class EmptyPipeline(RuntimeError):
    """The pipeline delivered no batch in an epoch."""


@dataclass(frozen=True)
class EpochTiming:
    seconds: float
    first_batch_s: float
    batches: int
    samples: int
    cpu_s: float


@dataclass(frozen=True)
class WindowTiming:
    """A stretch of the flat-out stream: a fixed number of batches, timed in the worker."""

    started: (
        float  # perf_counter in the worker, less the untimed work before it (BatchStream.clock)
    )
    seconds: float
    batches: int
    samples: int
    epoch_ends: tuple[float, ...] = ()  # perf_counter stamps of the epochs that ended within it...
    epochs_ended: int = 0  # ...of which there were this many: tiny epochs end by the thousand
    began_epoch: bool = False  # its first batch was the first of an epoch
    # Of the ``steady`` batches that began no epoch, those the consumer waited for (over a quarter
    # of their mean wait); the rest came at once behind them. 0: not counted.
    waited: int = 0
    steady: int = 0

    @property
    def burst(self) -> float:
        """Batches that arrive together, on average: reads in flight that end at once (sleeps, a
        tf.data service's workers thawed together) hand them over in bursts."""
        return self.steady / self.waited if self.waited else 1.0

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class PacedSteps:
    """Steps of a training loop: per batch, the wait for it, the step, and whether it began an
    epoch."""

    waits_s: tuple[float, ...]
    steps_s: tuple[float, ...]
    epoch_starts: tuple[bool, ...]
    device: str = ""  # where the step ran: "simulated", or a TensorFlow device such as "GPU:0"
    gpu_utilization_percent: float | None = None  # mean NVML utilization, where a GPU could be read


class BatchStream:
    """A dataset's batches, epoch after epoch; ``finish_epoch`` makes the next batch begin an epoch.

    An iterator is never dropped halfway: some pipelines cannot start the next one while one is
    unfinished (Keras's PyDataset adapter waits for it), and a training loop does not drop them.
    """

    def __init__(
        self, dataset: Iterable[Any], before_epoch: Callable[[], None] | None = None
    ) -> None:
        self.dataset = dataset
        self._iterator: Iterator[Any] | None = None
        self.epoch_ends: list[float] = []
        # Runs before each epoch's iterator is made (a cold run's page-cache drop), untimed.
        self.before_epoch = before_epoch
        self.untimed_s = 0.0
        self._paused_at: float | None = None
        self._untimed_at_pause = 0.0
        self.batch_s: float | None = None  # the last window's seconds per batch
        self.last_iterator: Iterator[Any] | None = None  # kept after its epoch, for autotune_values
        self.releaser = Releaser()  # the worker's other epochs use it too

    def pause(self) -> None:
        """Nobody consumes the stream from now until ``resume``: the worker waits for a request,
        or is frozen while others take their turns. That time is in no epoch."""
        self._paused_at, self._untimed_at_pause = time.perf_counter(), self.untimed_s

    def resume(self, at: float | None = None) -> None:
        """Timing goes on from ``at`` (a perf_counter reading; default: now). Untimed work done
        in the pause (an iterator made and one let go, as a turn's first batches cross an epoch)
        is in the pause already: counted twice, it stamped later epoch ends before earlier ones."""
        if self._paused_at is not None:
            paused = (time.perf_counter() if at is None else at) - self._paused_at
            self.untimed_s += max(paused - (self.untimed_s - self._untimed_at_pause), 0.0)
            self._paused_at = None

    def clock(self) -> float:
        """perf_counter without the untimed work: what windows and epoch ends are stamped with."""
        return time.perf_counter() - self.untimed_s

    def _new_iterator(self) -> Iterator[Any]:
        if self.before_epoch is not None:
            started = time.perf_counter()
            self.before_epoch()
            self.untimed_s += time.perf_counter() - started
        # Let go of the spent one first, on a thread of its own (profiler.worker.release).
        released = time.perf_counter()
        self.releaser.release(self, "last_iterator")
        self.untimed_s += time.perf_counter() - released
        self.last_iterator = iter(self.dataset)
        return self.last_iterator

    def finish_epoch(self) -> None:
        """Consume, untimed, what is left of the current epoch."""
        while self._iterator is not None:
            try:
                next(self._iterator)
            except StopIteration:
                self._iterator = None

    def next(self) -> tuple[Any, bool]:
        """The next batch, and whether it is the first of an epoch."""
        first = self._iterator is None
        if self._iterator is None:
            self._iterator = self._new_iterator()
        try:
            return next(self._iterator), first
        except StopIteration:
            if first:
                raise EmptyPipeline("the pipeline delivered no batch in an epoch") from None
        self.epoch_ends.append(self.clock())
        # Let go of the spent iterator before making the next (some pipelines allow one at a time).
        self._iterator = None
        self._iterator = self._new_iterator()
        try:
            return next(self._iterator), True
        except StopIteration:
            raise EmptyPipeline("the pipeline delivered no batch in an epoch") from None


def flat_out_epoch(
    dataset: Iterable[Any], releaser: Releaser, on_first_batch: Callable[[Any], None] | None = None
) -> EpochTiming:
    """Consume one epoch as fast as the pipeline delivers it; ``on_first_batch`` sees its first
    batch. It ends with its last batch: its iterator's release, waited for, is left out."""
    cpu_before = tree_cpu_seconds()
    started = time.perf_counter()
    first_batch_s = 0.0
    batches = samples = 0
    ended: list[float] = []
    for batch in each_batch(dataset, releaser, lambda: ended.append(time.perf_counter())):
        if batches == 0:
            first_batch_s = time.perf_counter() - started
            if on_first_batch is not None:
                on_first_batch(batch)
        batches += 1
        samples += batch_length(batch)
    seconds = (ended[0] if ended else time.perf_counter()) - started
    if batches == 0:
        raise EmptyPipeline("the pipeline delivered no batch in an epoch")
    return EpochTiming(seconds, first_batch_s, batches, samples, tree_cpu_seconds() - cpu_before)


def flat_out_window(
    stream: BatchStream, batches: int, restart: bool = False, lead: int = 0
) -> WindowTiming:
    """Consume ``batches`` batches of the stream as fast as they come.

    Nothing else happens between two windows but the request for the next: whatever ran there
    (reading CPU times walks every process) would let prefetch buffers fill, untimed.

    ``restart``: the rest of the epoch is consumed untimed first, and then the first batch of the
    next, so that windows of whole epochs hold each epoch's start in their middle. A window that
    began with one would make its iterator right after the worker was thawed (interleaved turns),
    and tf.data, whose timers ran on while the process was frozen, then took 170 ms instead of 10
    to make one.

    ``lead``: of the ``batches``, at most how many are consumed untimed first, in a window that
    continues the stream: those that come in under a quarter of the last window's time per batch;
    the first one waited for is timed from when it was asked for (profiler.worker.bursts.lead_in).
    0: the worker is never frozen, and nothing is untimed (a window that restarts the stream is
    timed from its epoch's start, as before interleaving).
    """
    waited = None
    if restart:
        stream.finish_epoch()
        if lead:
            stream.next()
    else:
        # A turn's first batches after a freeze: what was in flight then (a read, a sleep) went on
        # finishing while the process was stopped, and is ready at once. Measured with a fake
        # whose producer sleeps 20 ms a batch: 248 samples/s for 200 without this, 200 with it.
        # They count among the window's batches, so that a window of whole epochs still moves the
        # stream on by whole epochs. As many as came at once (at most ``lead``): a pool or a
        # tf.data service has one in flight per worker.
        led, waited = lead_in(stream, min(lead, batches - 1), time.perf_counter)
        batches -= led
    stream.resume(waited.asked if waited else None)
    stream.epoch_ends.clear()
    samples = 0
    began = False
    handed = [0.0] * batches
    firsts = [False] * batches
    started = stream.clock() if waited is None else waited.asked - stream.untimed_s
    for number in range(batches):
        if number == 0 and waited is not None:
            batch, handed[0] = waited.batch, waited.arrived - stream.untimed_s
        else:
            batch, firsts[number] = stream.next()
            handed[number] = stream.clock()
        began = began or (firsts[number] and number == 0)
        samples += batch_length(batch)
    seconds = handed[-1] - started if batches else 0.0
    stream.batch_s = seconds / max(batches, 1)
    stream.pause()  # until the next window: waiting, or frozen while others take their turns
    ends = stream.epoch_ends
    kept_ends = tuple(ends[:MAX_EPOCH_ENDS])
    timing = WindowTiming(started, seconds, batches, samples, kept_ends, len(ends), began)
    return replace(timing, **bursts(started, handed, firsts))


def paced_steps(
    stream: BatchStream | Iterator[Any], step: Callable[[Any], None], count: int
) -> PacedSteps:
    """Consume ``count`` batches as a training loop does: wait for a batch, run ``step`` on it,
    repeat.

    With the simulated step (profiler.worker.consumer.SleepStep) the step sleeps rather than spins:
    a GPU computing leaves the host CPU free for the input pipeline, and a busy loop here would
    steal a core from it. The wait for the first batch of an epoch includes creating its iterator,
    which a training loop pays at every epoch too. A plain iterator (the always-ready source of the
    fetch floor) never starts an epoch.
    """
    waits: list[float] = []
    steps: list[float] = []
    starts: list[bool] = []
    device_free_at = time.perf_counter()
    for _ in range(count):
        untimed = stream.untimed_s if isinstance(stream, BatchStream) else 0.0
        if isinstance(stream, BatchStream):
            batch, first = stream.next()
            untimed = stream.untimed_s - untimed
        else:
            batch, first = next(stream), False
        received = time.perf_counter()
        waits.append(received - device_free_at - untimed)
        starts.append(first)
        step(batch)
        device_free_at = time.perf_counter()
        steps.append(device_free_at - received)
    return PacedSteps(tuple(waits), tuple(steps), tuple(starts))


def ready_batches(dataset: Any, batch: Any) -> Iterator[Any]:
    """An always-ready source of ``batch``, served the way ``dataset`` serves its own.

    For a tf.data pipeline, a tf.data pipeline repeating the batch, so that fetching it costs what
    fetching any ready batch from an eager iterator costs; for any other iterable, the batch itself.
    """
    element_spec = getattr(dataset, "element_spec", None)
    if element_spec is not None:
        import tensorflow as tf

        return iter(tf.data.Dataset.from_tensors(batch).repeat())
    return iter(lambda: batch, None)


def autotune_values(iterator: Any) -> tuple[AutotuneValue, ...]:
    """The tunable values tf.data's autotuning model holds for a tf.data iterator; () for any other.

    TensorFlow exposes the model as a raw op (IteratorGetModelProto); ``state_value`` is what the
    running ops use, ``value`` what the model last proposed.
    """
    resource = getattr(iterator, "_iterator_resource", None)
    if resource is None:
        return ()
    try:
        import tensorflow as tf
        from tensorflow.core.framework import model_pb2

        model = model_pb2.ModelProto()
        model.ParseFromString(tf.raw_ops.IteratorGetModelProto(iterator=resource).numpy())
    # Autotuning off, or a TensorFlow without the op: nothing to report.
    except Exception:  # noqa: BLE001
        return ()
    return tuple(
        AutotuneValue(node.name, parameter.name, float(parameter.state_value))
        for _, node in sorted(model.nodes.items())
        for parameter in node.parameters
        if parameter.tunable
    )


# Names that lived here in 0.2 and moved since, still found (with a DeprecationWarning).
__getattr__ = left_behind(__name__)
