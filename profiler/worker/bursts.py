"""Batches that arrive in bursts: reads in flight that end at once (sleeps, a tf.data service's
workers thawed together) hand their batches over together, and a window that starts or ends inside
a burst is off by up to a burst less one batch: profiler.measuring.procedure sizes windows by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


def bursts(started: float, handed: list[float], firsts: list[bool]) -> dict[str, int]:
    """The batches that began no epoch, and those of them the consumer waited for: longer than a
    quarter of their mean wait. An epoch's first batch (a new iterator filling its buffers) is
    left out, or its one long wait would make every other batch look as if it came at once."""
    gaps = [
        after - before
        for before, after, first in zip([started, *handed], handed, firsts, strict=False)
        if not first
    ]
    if not gaps:
        return {}
    quick = sum(gaps) / len(gaps) / 4
    return {"steady": len(gaps), "waited": max(1, sum(1 for gap in gaps if gap > quick))}


class Stream(Protocol):
    batch_s: float | None

    def next(self) -> tuple[Any, bool]: ...


@dataclass(frozen=True)
class Waited:
    """The first batch of a turn that was waited for: made in this turn, with its burst-mates."""

    batch: Any
    asked: float  # when it was asked for: where the window's timing starts
    arrived: float


def lead_in(stream: Stream, most: int, clock: Callable[[], float]) -> tuple[int, Waited | None]:
    """Consume, untimed, the batches that are ready at a turn's start (finished while the process
    was frozen), at most ``most``; the count, and the first batch that was waited for, if any.

    That batch is not consumed untimed: it opens a burst (a tf.data service's workers, thawed
    together, finish their next batches together), and a window timed from its arrival would count
    its burst-mates in no time, off by a burst less one in every window, always upwards (measured:
    481 samples/s for 400 from two workers sleeping 40 ms a batch). Timed from when it was asked
    for, the window holds whole bursts. One that begins an epoch is consumed untimed, as its
    iterator's making must be.
    """
    led = 0
    while led < most:
        asked = clock()
        batch, first = stream.next()
        arrived = clock()
        if stream.batch_s is not None and arrived - asked <= stream.batch_s / 4:
            led += 1
            continue
        if first or stream.batch_s is None:  # no pace to tell a wait by yet: untimed, as before
            return led + 1, None
        return led, Waited(batch, asked, arrived)
    return led, None
