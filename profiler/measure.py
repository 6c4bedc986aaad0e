"""Epoch loops that run inside the worker: flat out for throughput, paced for accelerator idle time.

Nothing here imports TensorFlow; a dataset is anything re-iterable that yields (images, labels).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psutil


def batch_length(batch: Any) -> int:
    """Real samples in a batch (a partial last batch counts what it holds)."""
    return int(batch[1].shape[0])


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


@dataclass(frozen=True)
class EpochTiming:
    seconds: float
    first_batch_s: float
    batches: int
    samples: int
    cpu_s: float


@dataclass(frozen=True)
class PacedEpoch:
    """One epoch consumed by a device step: per batch, the wait for it and the step."""

    waits_s: tuple[float, ...]
    steps_s: tuple[float, ...]
    device: str = ""  # where the step ran: "simulated", or a TensorFlow device such as "GPU:0"
    gpu_utilization: float | None = None  # mean NVML utilization %, where a GPU could be read


def flat_out_epoch(dataset: Iterable[Any], on_first_batch: Callable[[Any], None] | None = None) -> EpochTiming:
    """Consume one epoch as fast as the pipeline delivers it; ``on_first_batch`` sees its first batch."""
    cpu_before = tree_cpu_seconds()
    started = time.perf_counter()
    first_batch_s = 0.0
    batches = samples = 0
    for batch in dataset:
        if batches == 0:
            first_batch_s = time.perf_counter() - started
            if on_first_batch is not None:
                on_first_batch(batch)
        batches += 1
        samples += batch_length(batch)
    seconds = time.perf_counter() - started
    return EpochTiming(seconds, first_batch_s, batches, samples, tree_cpu_seconds() - cpu_before)


def paced_epoch(dataset: Iterable[Any], step: Callable[[Any], None]) -> PacedEpoch:
    """Consume one epoch as a training loop does: wait for a batch, run ``step`` on it, repeat.

    With the simulated step (profiler.consumer.SleepStep) the step sleeps rather than spins: a GPU
    computing leaves the host CPU free for the input pipeline, and a busy loop here would steal a
    core from it. The wait for the first batch includes creating the iterator, which a training
    loop pays at every epoch too.
    """
    waits: list[float] = []
    steps: list[float] = []
    device_free_at = time.perf_counter()
    iterator = iter(dataset)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            break
        received = time.perf_counter()
        waits.append(received - device_free_at)
        step(batch)
        device_free_at = time.perf_counter()
        steps.append(device_free_at - received)
    return PacedEpoch(tuple(waits), tuple(steps))


def percentile(values: list[float] | tuple[float, ...], fraction: float) -> float:
    """Linear-interpolated percentile; ``fraction`` in [0, 1]."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: list[float] | tuple[float, ...]) -> float:
    return statistics.median(values)
