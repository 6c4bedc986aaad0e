"""Which samples of a user's data a run uses: a seeded subset of those that decode, in stored order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from profiler.data import DataSpec
from profiler.decode import decoded_shape
from profiler.errors import ProfilerError
from profiler.records import feature_keys, image_format, parse_example, read_record


class BadFile(ProfilerError):
    """--on-bad-file fail met a sample that does not decode."""


@dataclass(frozen=True)
class Choice:
    chosen: list[int]  # positions in the listing, ascending
    bad: list[str]  # "path: why", in the order met
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
    raise ProfilerError(f"no readable tf.train.Example in {spec.path}: pass TFRecord files of tf.train.Example "
                        "records, each with an encoded image and an integer label")


def choose(spec: DataSpec, listing: Any, on_bad_file: str,
           on_progress: Callable[[int, int], None] | None) -> Choice:
    """Walk the listing (in a seeded order where a subset is asked) until enough samples decode."""
    settled: dict[str, Any] = {}
    if spec.kind == "tfrecord":
        spec = record_keys(spec, listing)
        settled.update(image_key=spec.image_key, label_key=spec.label_key)
    total = len(listing.entries)
    wanted = spec.samples or total
    order = np.random.default_rng([spec.seed, 4]).permutation(total) if spec.samples else np.arange(total)
    chosen, bad, shapes, sizes, formats, labels = [], [], [], [], [], []
    for done, position in enumerate(order.tolist(), start=1):
        if len(chosen) == wanted:
            break
        try:
            shape, size, kind, label = check_sample(spec, listing.entries[position], listing.lengths[position])
        except (OSError, ValueError) as problem:
            where = listing.entries[position][0]
            text = f"{where}: {problem}" if str(problem).find(where) < 0 else str(problem)
            if on_bad_file == "fail":
                raise BadFile(f"{text}: pass --on-bad-file skip to leave bad files out, or remove or replace "
                              "the file") from None
            bad.append(text)
            continue
        finally:
            if on_progress is not None and (done % 256 == 0 or done == total):
                on_progress(done, total)
        chosen.append(position)
        shapes.append(shape)
        sizes.append(size)
        formats.append(kind)
        labels.append(label)
    if spec.samples and len(chosen) < wanted:
        raise ProfilerError(f"only {len(chosen):,} of the {total:,} samples in {spec.path} decode: pass --samples "
                            f"{len(chosen):,} or fewer")
    if not chosen:
        raise ProfilerError(f"no sample of {spec.path} decodes: check the files, or pass other data")
    order_back = np.argsort(chosen, kind="stable")
    if spec.kind == "npy":
        stored = np.load(spec.path.split(",")[1], mmap_mode="r")
        labels = [int(stored[listing.entries[chosen[i]][2]]) for i in range(len(chosen))]
        settled.update(channels=int(shapes[0][2]) if len(shapes[0]) > 2 else 1)
    return Choice(
        chosen=[chosen[i] for i in order_back], bad=bad, shapes=[shapes[i] for i in order_back],
        sizes=[sizes[i] for i in order_back], formats=[formats[i] for i in order_back],
        labels=np.array([labels[i] for i in order_back], dtype=np.int32), settled=settled,
    )


def check_sample(spec: DataSpec, listing_entry: tuple[str, int, int],
                 length: int) -> tuple[tuple[int, ...], int, str, int]:
    """(source shape, bytes, format, label) of one sample; OSError or ValueError naming why it is bad."""
    path, number, offset = listing_entry
    if spec.kind == "npy":
        sample = np.load(path, mmap_mode="r")[offset]  # an array always "decodes"
        return tuple(np.shape(sample)) + ((1,) if np.ndim(sample) == 2 else ()), sample.nbytes, "array", 0
    if spec.kind == "folder":
        encoded, label = Path(path).read_bytes(), number
    else:
        if length < 0:
            raise ValueError(f"{path} ends inside a record: tf.data cannot read it to the end")
        features = parse_example(read_record(path, offset, length))
        image_key, label_key = feature_keys(features, spec.image_key, spec.label_key)
        encoded, label = bytes(features[image_key].values[0]), int(features[label_key].values[0])  # type: ignore[arg-type]
    return decoded_shape(encoded, spec.channels), len(encoded), image_format(encoded) or "?", label
