"""What a pipeline delivered, summarised so that two pipelines can be shown to deliver the same
data.

The checksum is order-independent (a sum of per-sample hashes modulo 2**64), so a pipeline that
shuffles or interleaves still matches, while one that drops, duplicates or alters a sample does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from profiler.base.codec import decode, encode
from profiler.data.synthetic import DataSource

_MOD = 1 << 64


@dataclass(frozen=True)
class Fingerprint:
    samples: int
    batches: int
    image_shape: tuple[int, ...]
    image_dtype: str
    label_dtype: str
    checksum: str
    # Order-independent checksum of the labels alone: equal when the same samples arrive, even if
    # a decoder rounds some pixels differently.
    labels_checksum: str = ""

    @property
    def sample_kind(self) -> str:
        """What one sample is: "64x64x3 float32"."""
        return f"{'x'.join(str(n) for n in self.image_shape)} {self.image_dtype}"

    @property
    def short(self) -> str:
        return self.checksum[:8]

    def same_samples(self, other: Fingerprint) -> bool:
        """Same count, shapes, dtypes and labels; the pixels may still differ."""
        return bool(self.labels_checksum) and (
            self.samples,
            self.batches,
            self.image_shape,
            self.image_dtype,
            self.label_dtype,
            self.labels_checksum,
        ) == (
            other.samples,
            other.batches,
            other.image_shape,
            other.image_dtype,
            other.label_dtype,
            other.labels_checksum,
        )


class FingerprintBuilder:
    """Accumulates batches of (images, labels); feed it numpy arrays or eager tensors."""

    def __init__(self) -> None:
        self._total = 0
        self._labels_total = 0
        self._samples = 0
        self._batches = 0
        self._image_shape: tuple[int, ...] | None = None
        self._image_dtype: str | None = None
        self._label_dtype: str | None = None

    def add_batch(self, images: Any, labels: Any) -> None:
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"batch has {images.shape[0]} images but {labels.shape[0]} labels")
        self._note("_image_shape", tuple(images.shape[1:]))
        self._note("_image_dtype", str(images.dtype))
        self._note("_label_dtype", str(labels.dtype))
        for image, label in zip(images, labels, strict=False):
            digest = hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=8)
            digest.update(np.asarray(label).tobytes())
            self._total = (self._total + int.from_bytes(digest.digest(), "little")) % _MOD
            label_digest = hashlib.blake2b(np.asarray(label).tobytes(), digest_size=8).digest()
            self._labels_total = (
                self._labels_total + int.from_bytes(label_digest, "little")
            ) % _MOD
        self._samples += int(images.shape[0])
        self._batches += 1

    def _note(self, attribute: str, value: Any) -> None:
        # A pipeline whose batches disagree on shape or dtype is recorded as mixed.
        current = getattr(self, attribute)
        if current is None:
            setattr(self, attribute, value)
        elif current != value:
            setattr(self, attribute, ("mixed",) if isinstance(value, tuple) else "mixed")

    def build(self) -> Fingerprint:
        return Fingerprint(
            samples=self._samples,
            batches=self._batches,
            image_shape=tuple(self._image_shape or ()),
            image_dtype=self._image_dtype or "none",
            label_dtype=self._label_dtype or "none",
            checksum=f"{self._total:016x}",
            labels_checksum=f"{self._labels_total:016x}",
        )


def dataset_fingerprint(source: DataSource, batch_size: int) -> Fingerprint:
    """What every scenario must deliver: the dataset decoded directly, cached beside the data."""
    shape = "x".join(str(n) for n in source.spec.sample_shape)
    augmented = "-augmented" if source.spec.augment else ""
    cached = source.work_root / f"fingerprint-v2-{shape}-b{batch_size}{augmented}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        # Kept with a checksum of itself: one edited in place would call every row DIFFERS.
        stored = json.loads(cached.read_text())
        if stored["sha256"] == _digest(stored["fingerprint"]):
            return decode(Fingerprint, stored["fingerprint"])
    builder = FingerprintBuilder()
    for start, stop in source.batch_bounds(batch_size):
        builder.add_batch(*source.load_range(start, stop))
    fingerprint = builder.build()
    with contextlib.suppress(OSError):  # a read-only cache still works, only slower next time
        fields = encode(fingerprint)
        cached.write_text(json.dumps({"fingerprint": fields, "sha256": _digest(fields)}))
    return fingerprint


def _digest(fields: Any) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
