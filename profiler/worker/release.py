"""Spent tf.data iterators let go of on a thread of their own.

An autotuned tf.data iterator's release joins its thread pool. Released on the thread that
consumes the stream, that wait fell in the timing: 0.4-35 ms (now and then 300) in a process never
stopped, and 190-600 ms, once 1,280, in one frozen and resumed during the epoch, as a worker is
between its turns. Released on this thread, the same release took 0-3 ms, and the next epoch's
iterator and batches came as fast as without it (docs/measurement.md, "Epoch ends").
"""

from __future__ import annotations

import queue
import threading
from typing import Any


class Releaser:
    """Takes the last reference to a spent iterator and drops it on a daemon thread."""

    def __init__(self) -> None:
        self._spent: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def release(self, spent: Any) -> None:
        """Hand over ``spent`` (None: nothing); the caller must hold no other reference to it."""
        if spent is None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._drop, name="profiler-release", daemon=True)
            self._thread.start()
        self._spent.put(spent)

    def _drop(self) -> None:
        while True:
            spent = self._spent.get()
            del spent  # the release, and its wait, happen here
