"""Cold reads: drop a dataset's files from the page cache, and check that they left it.

posix_fadvise(POSIX_FADV_DONTNEED) asks the kernel to forget a file's cached pages; it needs no
root and touches no other file. Dirty pages cannot be dropped, so each file is flushed first
(files written by a pipeline's build, such as a cache file, are dirty at first). Filesystems kept
in memory (tmpfs) ignore the request: ``resident_fraction`` tells when that happened.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
from collections.abc import Iterable
from pathlib import Path


def _all_files(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_dir():
            yield from (Path(base, name) for base, _, names in os.walk(path) for name in names)
        else:
            yield path


def drop(paths: Iterable[Path]) -> int:
    """Drop every file under ``paths`` from the page cache; the number of files dropped."""
    dropped = 0
    for path in _all_files(paths):
        try:
            handle = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # gone, or unreadable: nothing of it is cached for this run either
        try:
            with contextlib.suppress(OSError):
                os.fdatasync(handle)
            os.posix_fadvise(handle, 0, 0, os.POSIX_FADV_DONTNEED)
            dropped += 1
        finally:
            os.close(handle)
    return dropped


def resident_fraction(paths: Iterable[Path]) -> float | None:
    """The share of the files' pages now in the page cache (mincore); None where it cannot be
    read."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    resident = total = 0
    for path in _all_files(paths):
        size = path.stat().st_size
        if size == 0:
            continue
        pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        vector = (ctypes.c_ubyte * pages)()
        with open(path, "rb") as handle:
            address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, handle.fileno(), 0)
            if address in (None, ctypes.c_void_p(-1).value):
                return None
            try:
                if libc.mincore(address, size, vector) != 0:
                    return None
            finally:
                libc.munmap(address, size)
        resident += sum(byte & 1 for byte in vector)
        total += pages
    return resident / total if total else None
