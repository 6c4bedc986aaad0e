"""Folders made whole or not at all, and checked before each reuse: the generated datasets, the
index of a user's data, TFRecord shards derived from either.

A folder is filled under a temporary name and renamed when complete, so a run killed half-way
leaves nothing that looks finished; the size of every file it holds is recorded, so a file cut
short or deleted by hand since is noticed before it is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from profiler.system.scratch import owned_folder, release, remove_abandoned

SIZES_FILE = "sizes.json"


def write_sizes(folder: Path) -> None:
    """Record every file's size, and a checksum of the record, for a cheap check before each
    reuse."""
    sizes = {path.name: path.stat().st_size for path in sorted(folder.iterdir()) if path.is_file()}
    (folder / SIZES_FILE).write_text(json.dumps({"sizes": sizes, "sha256": sizes_checksum(sizes)}))


def sizes_checksum(sizes: dict[str, int]) -> str:
    return hashlib.sha256(json.dumps(sizes, sort_keys=True).encode()).hexdigest()


def sizes_unchanged(folder: Path) -> bool:
    """Every file ``write_sizes`` recorded is there with its size, and the record is intact."""
    try:
        record = json.loads((folder / SIZES_FILE).read_text())
        sizes = record["sizes"]
        if not isinstance(sizes, dict) or record.get("sha256") != sizes_checksum(sizes):
            return False
        return all((folder / name).stat().st_size == size for name, size in sizes.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def publish_folder(final: Path, fill: Callable[[Path], None]) -> Path:
    """Create ``final`` complete or not at all: filled under a temporary name, then renamed.

    If another process published it first, its folder is kept and this one discarded. The size of
    every file is recorded, and a folder whose files are gone or changed size since (a shard cut
    short or deleted by hand) is set aside and made again.
    """
    if final.exists():
        if sizes_unchanged(final):
            return final
        with contextlib.suppress(OSError):  # another process may have set it aside first
            os.rename(final, final.parent / f".{final.name}-{os.getpid()}-damaged")
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned(final.parent, f".{final.name}-")  # a generation killed half-way, or damaged
    staging = owned_folder(final.parent, f".{final.name}-")
    try:
        fill(staging)
        if not (staging / SIZES_FILE).exists():
            write_sizes(staging)
        try:
            os.rename(staging, final)
        except OSError:
            if not final.exists():
                raise
            shutil.rmtree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        release(staging)
    return final
