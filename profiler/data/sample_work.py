"""One sample's work as every OpenCV-decoding strategy does it: decode, resize, scale, augment.

The light augmentation (a shift of up to an eighth of a side, zero-filled, then a horizontal flip
with even odds) is seeded by the sample's index, so that every strategy, in any order and in any
process, delivers the same pixels; ``augment_parameters`` gives the same choices to strategies that
augment with TensorFlow's ops. ``spec`` is a profiler.data.synthetic.DataSpec (read by attribute).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


@functools.cache
def _cv2() -> Any:
    """OpenCV, its log silenced once per process."""
    import cv2

    # A file that does not decode is reported by the profiler, once; OpenCV's own log would repeat
    # it.
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    return cv2


def _flags(cv2: Any, channels: int) -> int:
    # TensorFlow's decoders ignore EXIF orientation; OpenCV's must too, or their pixels differ.
    colour = cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR
    return int(colour | cv2.IMREAD_IGNORE_ORIENTATION)


def decode_image(path: str, spec: Any, index: int | None = None) -> np.ndarray:
    """OpenCV decode, RGB order, area resize to the target size, float32 in [0, 1], augmented."""
    with open(path, "rb") as handle:
        return decode_encoded(handle.read(), spec, index, what=path)


def decode_encoded(
    encoded: bytes, spec: Any, index: int | None = None, what: str = "an encoded image"
) -> np.ndarray:
    """The same as decode_image, from the bytes of an encoded file (as stored in a TFRecord)."""
    return normalized(decode_pixels(encoded, spec, what), spec, index)


def _imdecode(encoded: bytes, channels: int) -> np.ndarray | None:
    """OpenCV's decode; None where it does not decode. A header that claims more pixels than
    OpenCV allows (or none) raises cv2.error rather than returning None: the same damage."""
    cv2 = _cv2()
    if not encoded:
        return None
    try:
        return cv2.imdecode(np.frombuffer(encoded, dtype=np.uint8), _flags(cv2, channels))
    except cv2.error:
        return None


def decode_pixels(encoded: bytes, spec: Any, what: str = "an encoded image") -> np.ndarray:
    """The decode alone: uint8 pixels at the stored size, RGB order (or one channel)."""
    cv2 = _cv2()
    image = _imdecode(encoded, spec.channels)
    if image is None:
        raise OSError(f"OpenCV could not decode {what}")
    if spec.channels == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def normalized(image: np.ndarray, spec: Any, index: int | None = None) -> np.ndarray:
    """What follows the decode: area resize to the target size, float32 in [0, 1], augmented."""
    return augmented(resized(image, spec).astype(np.float32) * np.float32(1.0 / 255.0), spec, index)


def decoded_shape(encoded: bytes, channels: int) -> tuple[int, ...]:
    """The shape of an encoded image as the strategies decode it; OSError where it does not
    decode."""
    image = _imdecode(encoded, channels)
    if image is None:
        raise OSError("OpenCV could not decode it")
    return tuple(image.shape)


def from_array(sample: np.ndarray, spec: Any, index: int | None = None) -> np.ndarray:
    """A stored array sample as delivered: resized where its size differs, uint8 scaled to [0,
    1]."""
    image = np.asarray(sample)
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    scale = np.float32(1.0 / 255.0) if image.dtype == np.uint8 else np.float32(1.0)
    return augmented(resized(image, spec).astype(np.float32) * scale, spec, index)


def resized(image: np.ndarray, spec: Any) -> np.ndarray:
    if image.shape[:2] != (spec.height, spec.width):
        cv2 = _cv2()
        image = cv2.resize(image, (spec.width, spec.height), interpolation=cv2.INTER_AREA)
    if image.ndim == 2:  # OpenCV drops a single channel's axis
        image = image[:, :, np.newaxis]
    return image


def max_shift(spec: Any) -> tuple[int, int]:
    return max(1, spec.height // 8), max(1, spec.width // 8)


def augment_table(spec: Any, count: int, first: int = 0) -> np.ndarray:
    """(rows down, columns right, flip) of samples first..first+count-1 as an int32 array [count,
    3]: a hash of the seed and the index (splitmix64), so one sample's choice needs no other's."""
    with np.errstate(over="ignore"):
        indices = np.arange(first, first + count, dtype=np.uint64)
        mixed = indices + np.uint64(spec.seed) * np.uint64(0x9E3779B97F4A7C15)
        for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            mixed = (mixed ^ (mixed >> np.uint64(shift))) * np.uint64(factor)
        mixed ^= mixed >> np.uint64(31)
    rows, columns = max_shift(spec)
    table = np.empty((count, 3), dtype=np.int32)
    table[:, 0] = (mixed % np.uint64(2 * rows + 1)).astype(np.int64) - rows
    table[:, 1] = ((mixed >> np.uint64(16)) % np.uint64(2 * columns + 1)).astype(np.int64) - columns
    table[:, 2] = ((mixed >> np.uint64(40)) & np.uint64(1)).astype(np.int32)
    return table


def augment_parameters(spec: Any, index: int) -> tuple[int, int, bool]:
    """(rows down, columns right, flip) of sample ``index``: the same in every process."""
    shift_y, shift_x, flip = augment_table(spec, 1, index)[0]
    return int(shift_y), int(shift_x), bool(flip)


def augmented(image: np.ndarray, spec: Any, index: int | None) -> np.ndarray:
    """``image`` shifted (zero-filled) and flipped as ``augment_parameters`` says, where augmenting
    is on."""
    if not getattr(spec, "augment", False) or index is None:
        return image
    shift_y, shift_x, flip = augment_parameters(spec, index)
    rows, columns = max_shift(spec)
    padded = np.pad(image, ((rows, rows), (columns, columns), (0, 0)))
    top, left = rows - shift_y, columns - shift_x
    out = padded[top : top + spec.height, left : left + spec.width]
    return np.ascontiguousarray(out[:, ::-1] if flip else out)
