"""Spent tf.data iterators let go of on a thread of their own, without waiting.

Releasing a spent tf.data iterator whose pipeline autotunes waits, with no CPU spent, for its
autotuning thread's next wake: that thread sleeps 10, 20, 40 ms and so on, doubling up to 60 s,
and the release ends at the first wake after it (measured: an epoch of 2.63 s, then a release of
2.48 s, ending 5.11 s after the iterator was made, the wake after 10+20+...+2560 ms). Timers run on
while a worker is frozen between turns, so the older the iterator, the longer the wait: up to 41 s
at 8,000 samples. Released on the thread that consumes the stream, that wait fell in the timing;
waited for on that thread, untimed, it still held the worker's turn. An iterator that has ended
its epoch holds no batch any more, so the next is made at once, and the spent one goes while it
runs; one spent iterator at most is let go of at a time (docs/measurement.md, "Epoch ends").
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any


class Releaser:
    """Drops the last reference to a spent iterator on a daemon thread."""

    def __init__(self) -> None:
        self._spent: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pending: threading.Event | None = None

    def release(self, owner: Any, attribute: str) -> None:
        """Let go of ``owner.attribute`` (None: nothing), which must hold its last reference;
        returns once the one let go of before is gone, without waiting for this one."""
        spent = getattr(owner, attribute)
        if spent is None:
            return
        setattr(owner, attribute, None)
        self.wait()  # one at a time: spent iterators never pile up
        if self._thread is None:
            self._thread = threading.Thread(target=self._drop, name="profiler-release", daemon=True)
            self._thread.start()
        self._pending = threading.Event()
        self._spent.put((spent, self._pending))
        del spent

    def wait(self) -> None:
        """Return once every iterator let go of is gone."""
        if self._pending is not None:
            self._pending.wait()
            self._pending = None

    def _drop(self) -> None:
        while True:
            spent, done = self._spent.get()
            del spent  # the release, and its wait, happen here
            done.set()


class _Held:
    """Holds an iterator's only reference, for a Releaser to take."""

    def __init__(self, iterator: Iterator[Any]) -> None:
        self.iterator: Iterator[Any] | None = iterator


def each_batch(dataset: Iterable[Any], releaser: Releaser) -> Iterator[Any]:
    """One epoch's batches, on an iterator of its own that ``releaser`` lets go of at its end."""
    held = _Held(iter(dataset))
    while held.iterator is not None:
        try:
            batch = next(held.iterator)
        except StopIteration:
            releaser.release(held, "iterator")
            return
        yield batch
