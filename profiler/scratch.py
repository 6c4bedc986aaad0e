"""Folders that carry the id of the process that made them, so a later run can remove them once it is gone.

Every exit the tool controls removes its own folders. SIGKILL, a power cut or the kernel's
out-of-memory killer leave no chance to; the next run then finds folders whose owner no longer
exists and removes them, and leaves those of a run still going.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import psutil


def owned_folder(parent: Path | str, prefix: str) -> Path:
    """A new private folder ``<prefix><pid>-<random>`` in ``parent``."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def remove_abandoned(parent: Path | str, prefix: str) -> list[Path]:
    """Remove the folders of ``owned_folder(parent, prefix)`` whose process has ended; return them."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)-[^/]+$")
    removed = []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or entry.is_symlink() or not entry.is_dir():
            continue
        if psutil.pid_exists(int(match.group(1))):
            continue  # its run goes on (or the id was reused: keeping a folder is the safe mistake)
        try:
            if entry.stat().st_uid != os.getuid():
                continue  # another user's: not ours to remove
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed
