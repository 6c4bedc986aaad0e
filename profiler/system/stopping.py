"""SIGTERM and SIGHUP end a run the way Ctrl-C does: what was measured is kept, everything started
ends.

``timeout``, a cancelled CI job and ``docker stop`` send SIGTERM; a closed terminal sends SIGHUP.
Python's default for both is to die on the spot, leaving workers, scratch folders and an
unwritten report behind. Raised as a KeyboardInterrupt, each takes the path Ctrl-C takes. The
first stop signal decides: the ones after it, while the run stops, are let go.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Hold stop signals back (a child process starting, a worker cleaned up); one that came
    meanwhile acts afterwards. Only the main thread receives them: elsewhere, nothing to hold.

    Blocked, not ignored: a sender that signals once (docker stop, a cancelled CI job) and then
    kills must still find the run stopping, with its report written.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # Blocking holds back only what is sent to this thread; a signal the kernel hands to another
    # (a sampler's, say) still runs its Python handler here at once. So the handlers only note it.
    held: list[int] = []
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        if previous[number] not in (signal.SIG_IGN, None):
            signal.signal(number, lambda number, frame: held.append(number))
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:
                signal.signal(number, handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a blocked one acts now
        if held:
            signal.raise_signal(held[0])  # and one only noted, the same way


def signals_as_a_child() -> None:
    """The first step of every process the tool spawns: Ctrl-C is left to the parent, and SIGTERM
    and SIGHUP act again.

    A spawned child inherits the signal mask of the thread that started it, which held the stop
    signals back (``stop_signals_deferred``), and so does everything the child starts. Left so,
    SIGTERM reaches none of them: a pipeline's process pool then waits forever in ``terminate()``
    for a pool process blocked on the pool's queue lock, and ending a tree waits out its grace.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ignored first: a held Ctrl-C is dropped
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


class Terminated(KeyboardInterrupt):
    """The run was asked to stop by a signal other than Ctrl-C."""

    def __init__(self, number: int) -> None:
        super().__init__(f"stopped by {signal.Signals(number).name}")
        self.number = number

    @property
    def exit_code(self) -> int:
        return 128 + self.number  # what a shell reports for a process that signal ended


_received: list[Terminated] = []
# The stop signals acted on within termination_handled: the first only. Once the run is stopping, a
# second one (a Ctrl-C pressed twice, SIGTERM after Ctrl-C) must not cut its cleanup short: workers
# ended, scratch folders removed, results and report written. SIGKILL still ends it at once.
_acted_on: list[int] = []


@contextlib.contextmanager
def termination_handled() -> Iterator[None]:
    """Within, SIGTERM and SIGHUP raise ``Terminated`` in the main thread (elsewhere: nothing
    changes), and Ctrl-C raises KeyboardInterrupt as before; after the first of them, the next ones
    are let go.

    The handlers before are put back afterwards: a program that calls the command line in-process
    (a test suite) keeps its own. A SIGINT that was ignored (a background job) stays ignored. A
    stop that a finalizer swallowed is kept for ``raise_lost_stop``, not printed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    numbers = [signal.SIGTERM, signal.SIGHUP]
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        numbers.append(signal.SIGINT)
    _acted_on.clear()
    _raised.clear()
    _lost.clear()
    previous = {number: signal.signal(number, _stop) for number in numbers}
    previous_hook = sys.unraisablehook

    def note_lost_stop(unraisable: Any) -> None:
        if _raised and unraisable.exc_value is _raised[0]:
            _lost[:] = _raised
        else:
            previous_hook(unraisable)

    sys.unraisablehook = note_lost_stop
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stop(number: int, frame: FrameType | None) -> None:
    if _acted_on:  # the run is stopping already: let it finish doing so
        return
    _acted_on.append(number)
    stop = KeyboardInterrupt() if number == signal.SIGINT else Terminated(number)
    if isinstance(stop, Terminated):
        _received.append(stop)
    _raised[:] = [stop]
    raise stop


# A stop raised while Python runs a finalizer (a weak reference's callback, a __del__) goes no
# further than "Exception ignored in ...": the run went on and ended 0. It is noted instead, and
# raised again where the run next looks (raise_lost_stop).
_raised: list[KeyboardInterrupt] = []
_lost: list[KeyboardInterrupt] = []


def raise_lost_stop() -> None:
    """Raise again, here, the stop that a finalizer swallowed; nothing when there is none."""
    if _lost:
        raise _lost.pop()


def stop_reason(stop: KeyboardInterrupt) -> str:
    """What stopped the run, for its results: "stopped by Ctrl-C" or "stopped by SIGTERM"."""
    return str(stop) if isinstance(stop, Terminated) and str(stop) else "stopped by Ctrl-C"


def stopped() -> bool:
    """Whether SIGTERM or SIGHUP stopped this process's run."""
    return bool(_received)


def exit_code_after_stop() -> int:
    """130 after Ctrl-C; 128 + the signal's number after SIGTERM (143) or SIGHUP (129)."""
    return _received[0].exit_code if _received else 130
