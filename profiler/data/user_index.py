"""Which samples of a user's data a run uses: a seeded subset of those that decode, in stored
order."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from profiler.base.errors import ProfilerError
from profiler.data.sample_work import decoded_shape
from profiler.data.synthetic import DataSpec
from profiler.data.tfrecord_reader import feature_keys, image_format, parse_example, read_record


class BadFile(ProfilerError):
    """--on-bad-file fail met a sample that does not decode."""


@dataclass(frozen=True)
class Choice:
    chosen: list[int]  # positions in the listing, ascending
    bad: list[str]  # "path: why", in the order met
    bad_paths: list[str]  # the files of ``bad``, for a script to leave out as the tool did
    shapes: list[tuple[int, ...]]
    sizes: list[int]
    formats: list[str]
    labels: np.ndarray
    settled: dict[str, Any]  # what the data fixed in the spec: feature keys, channels of arrays


def record_keys(spec: DataSpec, listing: Any) -> DataSpec:
    """``spec`` with the TFRecord feature keys named, found in the first readable record."""
    for (path, _, offset), length in zip(listing.entries, listing.lengths, strict=True):
        if length < 0:
            continue
        try:
            features = parse_example(read_record(path, offset, length))
        except ValueError:
            continue
        try:
            image_key, label_key = feature_keys(features, spec.image_key, spec.label_key)
        except ValueError as problem:
            raise ProfilerError(f"{spec.path}: {problem}") from None
        return replace(spec, image_key=image_key, label_key=label_key)
    raise ProfilerError(
        f"no readable tf.train.Example in {spec.path}: pass TFRecord files of tf.train.Example "
        "records, each with an encoded image and an integer label"
    )


def choose(
    spec: DataSpec, listing: Any, on_bad_file: str, on_progress: Callable[[int, int], None] | None
) -> Choice:
    """Walk the listing (in a seeded order where a subset is asked) until enough samples decode."""
    if spec.kind == "npy":
        return choose_arrays(spec, len(listing.entries))
    settled: dict[str, Any] = {}
    if spec.kind == "tfrecord":
        spec = record_keys(spec, listing)
        settled.update(image_key=spec.image_key, label_key=spec.label_key)
    total = len(listing.entries)
    wanted = spec.samples or total
    seeded = np.random.default_rng([spec.seed, 4])
    order = seeded.permutation(total) if spec.samples else np.arange(total)
    chosen, bad, shapes, sizes, formats, labels = [], [], [], [], [], []
    bad_paths: list[str] = []
    for done, position in enumerate(order.tolist(), start=1):
        if len(chosen) == wanted:
            break
        try:
            shape, size, kind, label = check_sample(
                spec, listing.entries[position], listing.lengths[position]
            )
        except (OSError, ValueError) as problem:
            text = _bad_text(spec, listing.entries[position], problem)
            if on_bad_file == "fail":
                raise BadFile(
                    f"{text}: pass --on-bad-file skip to leave bad files out, or remove or replace "
                    "the file"
                ) from None
            bad.append(text)
            bad_paths.append(_bad_place(spec, listing.entries[position]))
            continue
        finally:
            if on_progress is not None and (done % 256 == 0 or done == total):
                on_progress(done, total)
        chosen.append(position)
        shapes.append(shape)
        sizes.append(size)
        formats.append(kind)
        labels.append(label)
    if not chosen:  # before the count: "--samples 0 or fewer" is no fix
        raise ProfilerError(
            f"no sample of {spec.path} decodes: check the files, or pass other data"
        )
    if spec.samples and len(chosen) < wanted:
        raise ProfilerError(
            f"only {len(chosen):,} of the {total:,} samples in {spec.path} decode: pass --samples "
            f"{len(chosen):,} or fewer"
        )
    order_back = np.argsort(chosen, kind="stable")
    return Choice(
        chosen=[chosen[i] for i in order_back],
        bad=bad,
        bad_paths=bad_paths,
        shapes=[shapes[i] for i in order_back],
        sizes=[sizes[i] for i in order_back],
        formats=[formats[i] for i in order_back],
        labels=np.array([labels[i] for i in order_back], dtype=np.int32),
        settled=settled,
    )


def _bad_text(spec: DataSpec, entry: tuple[str, int, int], problem: Exception) -> str:
    """ "path: why" of a bad sample; a TFRecord's record named by its byte offset."""
    where, number, offset = entry
    text = f"{where}: {problem}" if str(problem).find(where) < 0 else str(problem)
    if spec.kind == "tfrecord" and number >= 0:  # one record of a file that reads
        text = f"{where}, the record at byte {offset:,}: {problem}"
    return os.fsencode(text).decode("utf-8", "backslashreplace")  # a name not UTF-8, shown


# Separates a TFRecord file from a bad record's byte offset in it: no path holds this character.
RECORD_AT = "\0"


def _bad_place(spec: DataSpec, entry: tuple[str, int, int]) -> str:
    """Where a bad sample is, for the printed script to leave out: a folder's file; a TFRecord file
    no reader can read to its end; or a record, as its file, RECORD_AT, and its offset."""
    path, number, offset = entry
    if spec.kind != "tfrecord" or number < 0:
        return path
    return f"{path}{RECORD_AT}{offset}"


def check_sample(
    spec: DataSpec, listing_entry: tuple[str, int, int], length: int
) -> tuple[tuple[int, ...], int, str, int]:
    """(source shape, bytes, format, label) of one image; OSError or ValueError naming why it is
    bad."""
    path, number, offset = listing_entry
    if spec.kind == "folder":
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                "its name is not UTF-8, which TensorFlow's file operations need"
            ) from None
        if not stat.S_ISREG(os.stat(path).st_mode):  # reading a FIFO would wait for ever
            raise ValueError("not a regular file (a FIFO, socket or device): there is no image")
        encoded, label = Path(path).read_bytes(), number
    else:
        if length < 0:
            raise ValueError(
                f"{path} cannot be read to its end (cut short inside a record, a checksum that "
                "does not match, or unreadable), so TFRecordDataset would fail on it"
            )
        features = parse_example(read_record(path, offset, length))
        image, label_feature = features.get(spec.image_key), features.get(spec.label_key)
        # What tf.io.FixedLenFeature([], tf.string / tf.int64) accepts, or TensorFlow's strategies
        # would fail.
        if image is None or image.kind != "bytes" or len(image.values) != 1:
            raise ValueError(f"a record without one encoded image under '{spec.image_key}'")
        if label_feature is None or label_feature.kind != "int64" or len(label_feature.values) != 1:
            raise ValueError(f"a record without one integer label under '{spec.label_key}'")
        encoded = bytes(image.values[0])  # type: ignore[arg-type]
        label = int(label_feature.values[0])  # type: ignore[arg-type]
    if not 0 <= label < 2**31:
        raise ValueError(f"label {label} is outside 0 to 2**31 - 1")
    return decoded_shape(encoded, spec.channels), len(encoded), image_format(encoded) or "?", label


def choose_arrays(spec: DataSpec, total: int) -> Choice:
    """The rows of a .npy pair (checked whole by user_scan.check_arrays): every one of them
    serves."""
    images, labels = (np.load(path, mmap_mode="r") for path in spec.path.split(","))
    wanted = min(spec.samples or total, total)
    if spec.samples > total:
        raise ProfilerError(
            f"{spec.path} holds {total:,} samples: pass --samples {total:,} or fewer"
        )
    rows = (
        np.arange(total)
        if not spec.samples
        else np.random.default_rng([spec.seed, 4]).permutation(total)
    )
    rows = np.sort(rows[:wanted])
    shape = tuple(images.shape[1:]) + ((1,) if images.ndim == 3 else ())
    return Choice(
        chosen=rows.tolist(),
        bad=[],
        bad_paths=[],
        shapes=[shape] * wanted,
        sizes=[int(images[0].nbytes)] * wanted,
        formats=[f"{images.dtype} array"] * wanted,  # the advice on disk and memory reads it
        labels=np.asarray(labels[rows], dtype=np.int32),
        settled={"channels": int(shape[2])},
    )
