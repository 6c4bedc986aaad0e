"""What a pipeline delivered, summarised so that two pipelines can be shown to deliver the same
data.

The checksum is order-independent (a sum of per-sample hashes modulo 2**64), so a pipeline that
shuffles or interleaves still matches, while one that drops, duplicates or alters a sample does not.
Where a decoder may round pixels apart from the dataset's, the checksum cannot tell such a pipeline
from one that delivers other pixels: each channel's sum and sum of squares can, within a tolerance
of the pixels' spread.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from profiler.base.codec import decode, encode
from profiler.data.synthetic import DataSource

_MOD = 1 << 64
# Pixels count as close when every channel's mean and spread agree within this share of the spread:
# a rounding apart moves them by far less, zeros, another scale or swapped channels by far more.
CLOSE_SHARE_OF_SD = 0.05


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
    # Each channel's sum of pixel values and of their squares: whether pixels that differ are
    # still close. Summed in any order, they differ in their last digits: left out of ==.
    channel_sums: tuple[float, ...] = field(default=(), compare=False)
    channel_squares: tuple[float, ...] = field(default=(), compare=False)
    pixels_finite: bool = field(default=True, compare=False)  # False: NaN or inf, never close

    @property
    def sample_kind(self) -> str:
        """What one sample is: "64x64x3 float32"."""
        return f"{'x'.join(str(n) for n in self.image_shape)} {self.image_dtype}"

    @property
    def short(self) -> str:
        return self.checksum[:8]

    def same_samples(self, other: Fingerprint) -> bool:
        """Same count, shapes, dtypes and labels, and pixels close where both kept their sums;
        single pixels may still differ."""
        return (
            bool(self.labels_checksum)
            and _samples_kind(self) == _samples_kind(other)
            and self.pixels_close(other) is not False
        )

    def pixels_close(self, other: Fingerprint) -> bool | None:
        """Every channel's mean and spread within CLOSE_SHARE_OF_SD of the larger spread of the
        two; False where either held a NaN or an infinity; None where either kept no sums (a file
        from before they were kept) or their shapes differ."""
        if not (self.pixels_finite and other.pixels_finite):
            return False
        values = _values_per_channel(self)
        if not values or values != _values_per_channel(other):
            return None
        if len(self.channel_sums) != len(other.channel_sums):
            return None
        for channel in range(len(self.channel_sums)):
            (mine_mean, mine_sd), (their_mean, their_sd) = (
                _moments(fingerprint, channel, values) for fingerprint in (self, other)
            )
            scale = max(mine_sd, their_sd, 1e-9 * max(abs(mine_mean), 1.0))
            limit = CLOSE_SHARE_OF_SD * scale
            if abs(mine_mean - their_mean) > limit or abs(mine_sd - their_sd) > limit:
                return False
        return True


def _samples_kind(fingerprint: Fingerprint) -> tuple[Any, ...]:
    f = fingerprint
    return (f.samples, f.batches, f.image_shape, f.image_dtype, f.label_dtype, f.labels_checksum)


def _values_per_channel(fingerprint: Fingerprint) -> int:
    """How many pixel values each channel's sums hold; 0 where they cannot be compared."""
    channels = len(fingerprint.channel_sums)
    shape = fingerprint.image_shape
    if not channels or len(fingerprint.channel_squares) != channels or not shape:
        return 0
    if not all(isinstance(n, int) for n in shape):  # ("mixed",): batches disagreed
        return 0
    total = fingerprint.samples * math.prod(shape)
    return total // channels if total % channels == 0 else 0


def _moments(fingerprint: Fingerprint, channel: int, values: int) -> tuple[float, float]:
    mean = fingerprint.channel_sums[channel] / values
    variance = fingerprint.channel_squares[channel] / values - mean * mean
    return mean, math.sqrt(max(variance, 0.0))


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
        self._sums: np.ndarray | None = None
        self._squares: np.ndarray | None = None
        self._summable = True

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
        self._add_sums(images)
        self._samples += int(images.shape[0])
        self._batches += 1

    def _add_sums(self, images: np.ndarray) -> None:
        """Each channel's (the last axis of a 4-d batch; one otherwise) sums, while every batch
        has numbers of one layout."""
        if not self._summable or images.dtype.kind not in "fiu" or images.shape[0] == 0:
            self._summable = self._summable and images.shape[0] == 0
            return
        channels = images.shape[-1] if images.ndim == 4 else 1
        values = images.reshape(-1, channels)
        # Summed in float64 without a float64 copy of the batch: a big batch stays one batch.
        sums = values.sum(axis=0, dtype=np.float64)
        squares = np.einsum("ij,ij->j", values, values, dtype=np.float64)
        if self._sums is None or self._squares is None:
            self._sums, self._squares = sums, squares
        elif self._sums.shape == sums.shape:
            self._sums, self._squares = self._sums + sums, self._squares + squares
        else:
            self._summable = False

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
            **self._kept_sums(),
        )

    def _kept_sums(self) -> dict[str, Any]:
        if not self._summable or self._sums is None or self._squares is None:
            return {}
        if not (np.isfinite(self._sums).all() and np.isfinite(self._squares).all()):
            return {"pixels_finite": False}
        return {
            "channel_sums": tuple(float(v) for v in self._sums),
            "channel_squares": tuple(float(v) for v in self._squares),
        }


# The version of the fingerprint files kept beside the data: a change of fields makes a new one.
_VERSION = 3


def dataset_fingerprint(source: DataSource, batch_size: int) -> Fingerprint:
    """What every scenario must deliver: the dataset decoded directly, cached beside the data."""
    shape = "x".join(str(n) for n in source.spec.sample_shape)
    augmented = "-augmented" if source.spec.augment else ""
    cached = source.work_root / f"fingerprint-v{_VERSION}-{shape}-b{batch_size}{augmented}.json"
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
        for older in range(1, _VERSION):  # an older tool's, read by nothing now
            for stale in source.work_root.glob(f"fingerprint-v{older}-*.json"):
                stale.unlink(missing_ok=True)
    return fingerprint


def _digest(fields: Any) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
