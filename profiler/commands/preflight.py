"""Checks made before a run starts: what it would need that this machine cannot give, refused in one
line."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil

from profiler.base.errors import ProfilerError
from profiler.base.settings import Target
from profiler.base.units import MIB
from profiler.data.dataset_cache import NotEnoughDisk, check_room
from profiler.data.synthetic import DataSpec
from profiler.strategy.pipeline_adapter import accepts_keyword


def check_dispatcher(address: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds on a dispatcher nobody answers at, rather than after the whole --timeout."""
    host, separator, port = address.removeprefix("grpc://").rpartition(":")
    if (
        not address.startswith("grpc://")
        or not separator
        or not host
        or not (port.isascii() and port.isdigit())
        or not 0 < int(port) < 65536
    ):
        raise ProfilerError(
            f"--dispatcher '{address}' is not a tf.data service address: write it as "
            "grpc://HOST:PORT"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as error:  # UnicodeError (a malformed host name) is a ValueError
        reason = (
            error.strerror
            if isinstance(error, OSError) and error.strerror
            else str(error) or type(error).__name__
        )
        raise ProfilerError(
            f"nothing answers at --dispatcher {address} ({reason}): start the dispatcher, check "
            "the address, or leave --dispatcher out to start a local cluster"
        ) from None


def check_disk(specs: list[DataSpec], cache_root: Path) -> None:
    """Every size a sweep will generate, checked against the free disk before the first is
    measured."""
    try:
        check_room(cache_root, *specs)
    except NotEnoughDisk as error:
        raise ProfilerError(
            f"cannot write the datasets in '{cache_root}' ({error}): use fewer or smaller "
            "--samples, or pass --data-dir on a disk with room"
        ) from None


def check_batch_memory(spec: DataSpec, batch_size: int) -> None:
    """One decoded batch, with the few copies a pipeline makes of it, must fit in the memory free
    now."""
    batch_mib = spec.sample_bytes * batch_size / MIB
    available_mib = psutil.virtual_memory().available / MIB
    if 4 * batch_mib > available_mib:
        raise ProfilerError(
            f"one batch of {batch_size} decoded samples takes {batch_mib:,.0f} MiB, and a pipeline "
            f"holds a few of them; {available_mib:,.0f} MiB are available: pass a smaller "
            "--batch-size or --image-size"
        )


def check_sizes_pipelines(targets: tuple[Target, ...]) -> None:
    """A sweep passes each size to a user's pipeline as ``samples=N``: refuse one that cannot take
    it."""
    for target in targets:
        if not target.is_pipeline:
            continue
        if "samples" in target.arguments:
            raise ProfilerError(
                "--pipeline-arg samples is set by sweep, one size at a time: leave it out of "
                f"{target.reference}'s arguments"
            )
        if accepts_keyword(target.reference, "samples") is False:
            function = target.reference.partition(":")[2]
            raise ProfilerError(
                f"{target.reference} takes no 'samples' keyword, through which sweep passes each "
                f"size: add one (def {function}(..., samples=1000)) and build that many samples"
            )
