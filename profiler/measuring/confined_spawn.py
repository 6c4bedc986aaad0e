"""Workers started through an interpreter confined to a private network namespace."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import spawn as multiprocessing_spawn
from pathlib import Path

from profiler.system import namespace_launcher


def confining_interpreter(folder: Path) -> str:
    """An executable that starts the interpreter inside a private network namespace
    (profiler.system.namespace_launcher)."""
    python = os.fsdecode(multiprocessing_spawn.get_executable())
    path = folder / "confined-python"
    path.write_text(
        f"#!/bin/sh\nexec {shlex.quote(str(python))} {shlex.quote(namespace_launcher.__file__)} "
        f'{shlex.quote(str(python))} "$@"\n'
    )
    path.chmod(0o700)
    return str(path)


@contextmanager
def spawned_through(executable: str) -> Iterator[None]:
    # The spawn context has one executable for every process it starts: swapped for this one start
    # only, which happens here, in this thread, before anything else is spawned.
    previous = multiprocessing_spawn.get_executable()
    multiprocessing_spawn.set_executable(executable)
    try:
        yield
    finally:
        multiprocessing_spawn.set_executable(previous)
