"""Freezing a process tree between its turns, so that a pipeline not being measured does no work.

tf.data's own threads go on filling a pipeline's buffers while nobody consumes it; a pipeline left
running between its turns starts its next turn with full buffers, and reads faster than it is.
SIGSTOP stops every thread of a process at once, whatever it is doing, and SIGCONT resumes it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable


def freeze(pids: Iterable[int]) -> None:
    """SIGSTOP each process; the first is the tree's root, stopped first so it starts no more."""
    _signal_each(pids, signal.SIGSTOP)


def thaw(pids: Iterable[int]) -> None:
    """SIGCONT each process: gone ones are passed over."""
    _signal_each(pids, signal.SIGCONT)


def _signal_each(pids: Iterable[int], number: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, number)
