"""Spent tf.data iterators let go of on a thread of their own, and waited for there.

Releasing a spent tf.data iterator whose pipeline autotunes waits, with no CPU spent, for its
autotuning thread's next wake: that thread sleeps 10, 20, 40 ms and so on, doubling up to 60 s,
and the release ends at its first wake (measured: an epoch of 2.63 s, then a release of 2.48 s,
ending 5.11 s after the iterator was made, the wake after 10 + 20 + ... + 2,560 ms). Released on
the thread that consumes the stream, that wait fell in the timing; released here, it is left out
(docs/measurement.md, "Epoch ends"). It is still waited for before the next iterator is made, as a
training loop that drops its iterator does: made at once instead, beside the spent one, the next
raised cache_file's peak RSS from 62 to 105 MiB, and some pipelines allow one iterator at a time.

A release that is still waiting after ``SLOW_RELEASE_S`` hands the machine over (``Handover``):
interleaved, the worker holds a turn while every other worker is frozen, and that wait, with no CPU
spent, held them all (a generator's three paced turns took 6.6 s instead of about 1.5).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# A release still going after this is waiting (for an autotune wake), not working: it lets the
# machine go. Shorter ones are waited for in place.
SLOW_RELEASE_S = 0.05


class Handover:
    """How a worker lets the machine go while a release waits: ``aside`` tells the parent, which
    freezes it and gives the turn on; ``back`` waits until the parent says its turn has come again
    and it is thawed, so that nothing it times afterwards shares the machine or spans a freeze."""

    def __init__(self, send: Callable[[Any], None], receive: Callable[[], Any]) -> None:
        self.send, self.receive = send, receive

    def aside(self) -> None:
        self.send(("aside",))

    def back(self) -> bool:
        """True: thawed at its next turn; False: the parent kept the turn (nobody else measures),
        and the release is waited for in place."""
        answer = self.receive()[0]
        if answer not in ("on", "hold"):
            raise ValueError("a release handed over must be answered 'on' or 'hold'")
        return answer == "on"


class Releaser:
    """Drops the last reference to a spent iterator on a daemon thread, and waits for it: the next
    iterator is made only once the spent one is gone, as some pipelines require and as memory
    figures assume."""

    def __init__(self) -> None:
        self._spent: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.handover: Handover | None = None  # None: every release is waited for in place

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
        if self.handover is None:
            done.wait()
            return
        # Its wake can be seconds past the thaw as well (they double, up to 60 s apart): handed
        # over again for as long as it waits.
        while not done.wait(SLOW_RELEASE_S):
            self.handover.aside()
            if not self.handover.back():  # kept the turn: waited for in place, once
                done.wait()
                break

    def _drop(self) -> None:
        while True:
            spent, done = self._spent.get()
            del spent  # the release, and its wait, happen here
            done.set()


class _Held:
    """Holds an iterator's only reference, for a Releaser to take."""

    def __init__(self, iterator: Iterator[Any]) -> None:
        self.iterator: Iterator[Any] | None = iterator


def each_batch(
    dataset: Iterable[Any], releaser: Releaser, at_end: Callable[[], None] | None = None
) -> Iterator[Any]:
    """One epoch's batches, on an iterator of its own that ``releaser`` lets go of at its end;
    ``at_end`` is called once the last batch is delivered, before that release."""
    held = _Held(iter(dataset))
    while True:
        try:
            batch = next(held.iterator)
        except StopIteration:
            break
        yield batch
    # Out of the except block: its traceback holds the iterator, which would go on this thread.
    if at_end is not None:
        at_end()
    releaser.release(held, "iterator")
