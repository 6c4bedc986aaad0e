"""Folders held by the process that made them, so a later run can remove them once it is gone.

Every exit the tool controls removes its own folders. SIGKILL, a power cut or the kernel's
out-of-memory killer leave no chance to; the next run then finds folders whose owner no longer
holds them and removes them, and leaves those of a run still going. The owner holds an flock on
the folder itself, which the kernel drops when the process ends, whatever ends it; unlike a
process id, it tells right across containers that share a temporary directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The temporary folders of runs (a runner's, the ceiling's): a run removes those a killed one left.
SCRATCH_PREFIX = "tf-pipeline-profiler-"
_HELD: dict[
    str, int
] = {}  # folder -> descriptor holding its lock, for as long as this process lives


def owned_folder(parent: Path | str, prefix: str, *, swept_if_killed: bool = False) -> Path:
    """A new private folder ``<prefix><pid>-<random>`` in ``parent``, locked by this process.

    ``swept_if_killed``: a janitor process removes it if this process is killed outright before
    ``release``, and removes what ``release`` finds left (see ``_JANITOR``). Not for a folder a
    measured worker makes: the janitor would count in its process tree's memory.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _HELD[str(folder)] = descriptor
    if swept_if_killed:
        _JANITORS[str(folder)] = _start_janitor(folder)
    return folder


def release(folder: Path | str) -> None:
    """Let go of a folder this process made (after removing or publishing it)."""
    descriptor = _HELD.pop(str(folder), None)
    if descriptor is not None:
        os.close(descriptor)
    janitor = _JANITORS.pop(str(folder), None)
    if janitor is not None:
        process, write_end = janitor
        os.close(write_end)  # it finds the folder gone and ends
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)


# A run killed outright (SIGKILL, the out-of-memory killer) removes nothing. Its workers' lifelines
# remove its scratch folder, but at moments no worker is alive (between two sizes of a sweep,
# before a group's workers have started), and the folder then waited for the next run. The
# janitor is a Python with no imports beyond these, blocked on a pipe that only its owner holds
# open: the read returns at the owner's end, however it ends; once no process holds the folder's
# lock (a worker's lifeline may be removing it), it removes what is left. In a session of its own,
# a Ctrl-C in the terminal does not reach it.
_JANITOR = """
import fcntl, os, shutil, sys, time
os.read(0, 1)
try:
    descriptor = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
except OSError:
    sys.exit()
deadline = time.monotonic() + 4.0
while time.monotonic() < deadline:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        time.sleep(0.05)
        continue
    shutil.rmtree(sys.argv[1], ignore_errors=True)
    if not os.path.lexists(sys.argv[1]):
        break
"""
_JANITORS: dict[str, tuple[subprocess.Popen[bytes], int]] = {}


def _start_janitor(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    read_end, write_end = os.pipe()  # neither end is inherited by what this process spawns
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _JANITOR, str(folder)],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return process, write_end


def remove_abandoned(parent: Path | str, prefix: str) -> list[Path]:
    """Remove the folders of ``owned_folder(parent, prefix)`` that no process holds; return them.

    A ``prefix`` of "." alone stands for every hidden one: the staging folders of all that is
    published in ``parent`` (``.<name>-<pid>-<random>``).
    """
    stem = r"[^/]+-" if prefix == "." else ""
    pattern = re.compile(re.escape(prefix) + stem + r"\d+-[^/]+$")
    removed = []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if pattern.match(entry.name) is None or str(entry) in _HELD:
            continue
        if remove_if_abandoned(entry):
            removed.append(entry)
    return removed


def remove_if_abandoned(folder: Path | str, wait_s: float = 0.0) -> bool:
    """Remove one folder of ``owned_folder`` if no process holds it; whether it was removed.

    A symlink, a file, another user's folder and a folder still held are left alone. ``wait_s``:
    how long a held folder is waited for, where its holder can only be another process removing
    it (the processes of a run whose parent is gone, each ending as an orphan): one that gave up
    at once left the folder behind when the other's removal met a file made meanwhile.
    """
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False  # gone, a symlink, or not a folder
    try:
        if os.fstat(descriptor).st_uid != os.getuid():
            return False  # another user's: not ours to remove
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False  # its run goes on
                time.sleep(0.02)
        for _ in range(3):  # a file made while it was emptied leaves it: once more
            shutil.rmtree(folder, ignore_errors=True)
            if not os.path.lexists(folder):
                break
            time.sleep(0.02)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.close(descriptor)


def is_run_folder(folder: Path | str, owner_pid: int) -> bool:
    """Whether ``folder`` is a scratch folder ``owner_pid`` made (``owned_folder(...,
    SCRATCH_PREFIX)``): what a spawned process may remove for a parent that died without doing so.
    """
    name = Path(folder).name
    return re.fullmatch(re.escape(f"{SCRATCH_PREFIX}{owner_pid}-") + r"[^/]+", name) is not None
