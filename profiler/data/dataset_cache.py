"""The dataset cache: room on the disk before generating, and a cheap check before every reuse.

A cached dataset is reused for months, and anything may happen to it in between: a disk that
filled, a file truncated or deleted by hand. Reused unchecked, a damaged file makes some scenarios
fail with TensorFlow's errors and others, reading shards written before, look right. Each reuse
compares every file's size with the record written at generation (guarded by a checksum);
a damaged image or label file is written again (generation is deterministic), and everything
derived from the data (the fingerprint, TFRecord shards) is removed to be made again.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from profiler.data.published import SIZES_FILE, changed_files, stamps
from profiler.data.synthetic import (
    DataSource,
    DataSpec,
    encoded_image,
    image_name,
    is_complete,
    labels_for,
)

# Left free on the disk after the dataset is written: the system and the run's scratch need room
# too.
DISK_MARGIN_BYTES = 1 << 30
# Files and folders made from the data by the scenarios or the runner, rebuilt after a repair.
DERIVED_PREFIXES = ("fingerprint-", "tfrecord-")


class NotEnoughDisk(OSError):
    """The dataset would not fit on its disk; the message gives both sizes."""


class DamagedCache(OSError):
    """The cached dataset cannot be trusted and must be generated again."""


def estimated_bytes(spec: DataSpec) -> int:
    """What a dataset takes on disk: exact for arrays; for images, the first one encoded, times N,
    plus 10%."""
    labels = spec.samples * 4
    if spec.is_user_data:  # read where it is: only its index is written
        return labels * 4
    if spec.kind != "images":
        return spec.samples * spec.sample_bytes + labels
    return int(spec.samples * len(encoded_image(spec, 0)) * 1.1) + labels


def check_room(cache_root: Path, *specs: DataSpec) -> None:
    """Refuse, before writing anything, datasets (those not cached yet) that would fill their
    disk."""
    needed = sum(
        estimated_bytes(spec)
        for spec in specs
        if not is_complete(cache_root / spec.cache_key(), spec)
    )
    if needed == 0:
        return
    probe = Path(cache_root)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    # No room to speak of where nothing can be written, or on no disk at all (/proc).
    if not os.access(probe, os.W_OK | os.X_OK) or usage.total == 0:
        raise PermissionError(errno.EACCES, f"'{probe}' is no folder on a disk it may write", "")
    free = usage.free
    if needed + DISK_MARGIN_BYTES > free:
        raise NotEnoughDisk(
            f"the data needs about {needed / 2**30:,.1f} GiB and {free / 2**30:,.1f} GiB are free "
            f"there, {DISK_MARGIN_BYTES / 2**30:g} GiB of which must stay free"
        )


def damaged_files(source: DataSource) -> list[str]:
    """The files of a cached dataset that are gone, or changed size or were written since they
    were generated.

    Raises DamagedCache where the record itself is missing or altered: nothing can be trusted then.
    """
    try:
        return changed_files(source.root)
    except ValueError as error:
        raise DamagedCache(str(error)) from None


def repair(source: DataSource, damaged: list[str]) -> None:
    """Write the damaged files again, each atomically, and remove what was derived from the data."""
    spec = source.spec
    images = (
        {image_name(index, spec): index for index in range(spec.samples)}
        if spec.kind == "images"
        else {}
    )
    for name in damaged:
        if name in images:
            _replace(source.root / name, encoded_image(spec, images[name]))
        elif name == "labels.npy":
            import io

            import numpy as np

            buffer = io.BytesIO()
            np.save(buffer, labels_for(spec))
            _replace(source.root / name, buffer.getvalue())
        else:  # the arrays file, or one this version does not know how to write alone
            raise DamagedCache(f"'{name}' in '{source.root}' is damaged")
    for entry in source.root.iterdir():
        if entry.name.startswith(DERIVED_PREFIXES):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    # Another OpenCV may encode the same picture to other bytes: record the files as written now.
    record = json.loads((source.root / SIZES_FILE).read_text())
    if "changed" not in record:  # written before change times were kept: every file's, now
        damaged = list(record["sizes"])
    _replace(source.root / SIZES_FILE, json.dumps(stamps(damaged, source.root, record)).encode())


def _replace(path: Path, content: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
        handle.write(content)
    os.chmod(handle.name, 0o644)  # as generated files are: a shared cache stays readable
    os.replace(handle.name, path)
