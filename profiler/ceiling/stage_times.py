"""Where one sample's time goes: each stage of the work timed alone and cumulatively, on one core.

As DS-Analyzer does it: read the stored bytes only; decode them; resize and normalize the decoded
pixels; stack samples into a batch; hand a batch made in Python to tf.data (``from_generator``,
as the Python strategies do); and the consumer's own floor, the cost of taking a batch that is
already made from a tf.data iterator. Each stage is timed alone on the output of the
stage before it (made beforehand), and the chain up to each stage is timed too, so the two can
be checked against each other. The stages before the consumer can run on every core; the
consumer takes batches in one thread, whatever the cores. Runs in the ceiling's fresh process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from profiler.ceiling.decoder_rates import timed
from profiler.data.sample_work import decode_pixels, normalized
from profiler.data.synthetic import DataSource

READ = "read"
DECODE = "decode"
RESIZE = "resize+normalize"
BATCH = "batch"
FEED = "feed"
CONSUMER = "consumer"
_CYCLE = 64  # samples made beforehand for the stages timed alone


@dataclass(frozen=True)
class StageTiming:
    name: str
    alone_s: float  # seconds per sample of this stage alone, one core
    cumulative_s: float  # seconds per sample of the chain up to and including this stage, one core
    parallel: bool = True  # False: one thread does it whatever the cores (the consumer)


@dataclass(frozen=True)
class StageBreakdown:
    stages: tuple[StageTiming, ...]
    cores: int
    batch_size: int
    decoder: str = "opencv"  # whose work the decode stage is

    def samples_per_s(self, stage: StageTiming) -> float:
        """What this stage alone allows: on every core, or in one thread for the consumer."""
        return (self.cores if stage.parallel else 1) / stage.alone_s

    def share(self, stage: StageTiming) -> float:
        """This stage's part of one sample's cost, all stages summed."""
        return stage.alone_s / sum(each.alone_s for each in self.stages)

    @property
    def work_s(self) -> float:
        """One sample's work in the stages every core can share (all but the feed and the
        consumer)."""
        return sum(stage.alone_s for stage in self.stages if stage.parallel)

    @property
    def work_samples_per_s(self) -> float:
        """The stages before the consumer, together, on every core."""
        return self.cores / self.work_s

    @property
    def bounding(self) -> StageTiming:
        """The consumer where its one thread is slower than all the work on every core; else the
        costliest stage."""
        serial = [stage for stage in self.stages if not stage.parallel]
        if serial and min(self.samples_per_s(stage) for stage in serial) < self.work_samples_per_s:
            return min(serial, key=self.samples_per_s)
        return max(
            (stage for stage in self.stages if stage.parallel), key=lambda stage: stage.alone_s
        )


@dataclass(frozen=True)
class StageWork:
    """The work of one sample as stages: ``read(index)``, then each step in turn, then ``batch``."""

    count: int
    read: Callable[[int], Any]
    steps: tuple[tuple[str, Callable[[Any, int], Any]], ...]
    batch: Callable[[list[Any]], Any]
    consume: Callable[[], Any] | None = None  # takes one ready batch; None: not timed
    feed: Callable[[], Any] | None = (
        None  # hands one batch made in Python to tf.data; None: not timed
    )


def breakdown(
    work: StageWork, batch_size: int, cores: int, min_s: float = 0.25, decoder: str = "opencv"
) -> StageBreakdown:
    """Time every stage of ``work`` alone and cumulatively (see the module's docstring)."""
    # Every stage and every chain over the same samples: samples of other sizes (a user's photos)
    # would let a chain seem cheaper than the chain before it.
    indices = list(range(min(work.count, _CYCLE)))
    made = [work.read(index) for index in indices]
    alone, _ = timed(work.read, len(indices), min_s)
    stages = [StageTiming(READ, alone, alone)]
    for number, (name, step) in enumerate(work.steps):
        inputs = made
        alone, _ = timed(
            lambda i, inputs=inputs, step=step: step(inputs[i], i), len(indices), min_s
        )
        chain, _ = timed(lambda i, upto=number + 1: _chain(work, upto, i), len(indices), min_s)
        # A chain holds the one before it: timed a little faster by chance, it is no cheaper.
        stages.append(StageTiming(name, alone, max(chain, stages[-1].cumulative_s)))
        made = [step(value, index) for value, index in zip(made, indices, strict=True)]
    samples = [made[i % len(made)] for i in range(batch_size)]
    per_batch, _ = timed(lambda i: work.batch(samples), 1, min_s)
    stages.append(
        StageTiming(BATCH, per_batch / batch_size, stages[-1].cumulative_s + per_batch / batch_size)
    )
    # One thread each, whatever the cores: a pipeline has one generator and one consumer.
    for name, serial in ((FEED, work.feed), (CONSUMER, work.consume)):
        if serial is not None:
            per_batch, _ = timed(lambda i, serial=serial: serial(), 1, min_s)
            stages.append(
                StageTiming(
                    name,
                    per_batch / batch_size,
                    stages[-1].cumulative_s + per_batch / batch_size,
                    parallel=False,
                )
            )
    return StageBreakdown(tuple(stages), cores, batch_size, decoder)


def _chain(work: StageWork, upto: int, index: int) -> Any:
    value = work.read(index)
    for _, step in work.steps[:upto]:
        value = step(value, index)
    return value


def data_stages(
    source: DataSource, consume: Callable[[], Any] | None, feed: Callable[[], Any] | None = None
) -> StageWork:
    """The strategies' own OpenCV work on ``source`` as stages (the arrays of a .npy have no
    decode)."""
    spec = source.spec
    if spec.form == "arrays":  # nothing to decode: the read and any resize are one stage
        return StageWork(source.num_samples, source.load_sample, (), _stack, consume, feed)
    steps: tuple[tuple[str, Callable[[Any, int], Any]], ...] = (
        (DECODE, lambda encoded, index: decode_pixels(encoded, spec)),
        (RESIZE, lambda image, index: normalized(image, spec, index)),
    )
    return StageWork(source.num_samples, source.encoded, steps, _stack, consume, feed)


def _stack(samples: Sequence[np.ndarray]) -> np.ndarray:
    return np.stack(samples)


def ready_batch_fetch(batch: Any) -> Callable[[], Any]:
    """Taking one ready batch from a tf.data iterator that repeats it: the consumer's own floor."""
    import tensorflow as tf

    batches = iter(tf.data.Dataset.from_tensors(batch).repeat())
    next(batches)
    return lambda: next(batches)


def generator_feed(batch: tuple[Any, Any]) -> Callable[[], Any]:
    """Handing one numpy batch to tf.data through ``from_generator``, as the Python strategies
    do."""
    import tensorflow as tf

    images, labels = batch
    signature = (
        tf.TensorSpec((None, *images.shape[1:]), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    )

    def repeat() -> Any:
        while True:
            yield images, labels

    batches = iter(tf.data.Dataset.from_generator(repeat, output_signature=signature))
    next(batches)
    return lambda: next(batches)
