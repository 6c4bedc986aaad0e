"""Batches that arrive in bursts: reads in flight that end at once (sleeps, a tf.data service's
workers thawed together) hand their batches over together, and a window that starts or ends inside
a burst is off by up to a burst less one batch: profiler.measuring.procedure sizes windows by it.
"""

from __future__ import annotations


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
