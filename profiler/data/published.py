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
    """Record every file's size and the time of its last change, and a checksum of the record, for
    a cheap check before each reuse. The change time moves whenever a file is written, even in
    place and at the same size, and nobody can set it back."""
    files = [path for path in sorted(folder.iterdir()) if path.is_file()]
    record = stamps([path.name for path in files], folder)
    (folder / SIZES_FILE).write_text(json.dumps(record))


def stamps(names: list[str], folder: Path, record: dict | None = None) -> dict:
    """The record of ``names`` in ``folder`` (added to ``record``, where given), checksum
    included."""
    sizes = dict(record["sizes"]) if record else {}
    changed = dict(record.get("changed", {})) if record else {}
    for name in names:
        status = (folder / name).stat()
        sizes[name], changed[name] = status.st_size, status.st_ctime_ns
    return {"sizes": sizes, "changed": changed, "sha256": sizes_checksum(sizes, changed)}


def sizes_checksum(sizes: dict[str, int], changed: dict[str, int] | None = None) -> str:
    # A record written before change times were kept checks its sizes alone.
    kept = sizes if changed is None else {"sizes": sizes, "changed": changed}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def changed_files(folder: Path) -> list[str]:
    """The files ``write_sizes`` recorded that are gone, or changed size or were written since.

    Raises ValueError where the record itself is missing or altered: nothing can be trusted then.
    """
    try:
        record = json.loads((folder / SIZES_FILE).read_text())
        sizes, changed = record["sizes"], record.get("changed")
        if not isinstance(sizes, dict) or not isinstance(changed, (dict, type(None))):
            raise ValueError
        if record.get("sha256") != sizes_checksum(sizes, changed):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(f"the record of the files in '{folder}' is missing or altered") from None
    damaged = []
    for name, size in sizes.items():
        try:
            status = (folder / name).stat()
        except OSError:
            damaged.append(name)
            continue
        if status.st_size != size or (changed and changed.get(name) != status.st_ctime_ns):
            damaged.append(name)
    return damaged


def sizes_unchanged(folder: Path) -> bool:
    """Every file ``write_sizes`` recorded is there, as it was written, and the record is intact."""
    try:
        return not changed_files(folder)
    except ValueError:
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
    # A generation killed half-way, or a folder set aside as damaged: this one's, and any other
    # dataset's left in the same cache (a killed run of another size), held by no process.
    remove_abandoned(final.parent, ".")
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
