"""Spent tf.data iterators let go of on a thread of their own.

An autotuned tf.data iterator's release joins its thread pool. Released on the thread that
consumes the stream, that wait fell in the timing: 0.4-35 ms (now and then 300) in a process never
stopped, and 190-600 ms, once 1,280, in one frozen and resumed during the epoch, as a worker is
between its turns. Released on a thread of its own, the same release took 0-3 ms
(docs/measurement.md, "Epoch ends"); whatever it takes is left out of the timing.
"""

from __future__ import annotations

import queue
import threading
from typing import Any


class Releaser:
    """Drops the last reference to a spent iterator on a daemon thread, and waits for it: the next
    iterator is made only once the spent one is gone, as some pipelines require and as memory
    figures assume."""

    def __init__(self) -> None:
        self._spent: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def release(self, owner: Any, attribute: str) -> None:
        """Let go of ``owner.attribute`` (None: nothing), which must hold its last reference."""
        spent = getattr(owner, attribute)
        if spent is None:
            return
        setattr(owner, attribute, None)
        if self._thread is None:
            self._thread = threading.Thread(target=self._drop, name="profiler-release", daemon=True)
            self._thread.start()
        done = threading.Event()
        self._spent.put((spent, done))
        del spent
        done.wait()

    def _drop(self) -> None:
        while True:
            spent, done = self._spent.get()
            del spent  # the release, and its wait, happen here
            done.set()
