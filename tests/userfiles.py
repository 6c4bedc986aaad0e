"""Small datasets shaped like a user's: class subfolders, mixed sizes and formats, broken files.

TFRecords are written here without TensorFlow (framing with CRC-32C, tf.train.Example encoded by
hand), so the unit tests can build them; TensorFlow reads them in the integration tests.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

CLASSES = ("birds", "cats", "dogs")
# (class, name, height, width): every format, sizes that differ and do not divide the target evenly.
GOOD = (
    ("birds", "b1.jpg", 120, 90),
    ("birds", "b2.png", 64, 64),
    ("birds", "deep/b3.jpeg", 200, 150),
    ("cats", "c1.bmp", 70, 110),
    ("cats", "c2.webp", 96, 128),
    ("cats", "c3.JPG", 150, 100),
    ("dogs", "d1.jpg", 80, 80),
    ("dogs", "d2.png", 130, 97),
    ("dogs", "d3.jpg", 90, 160),
    ("dogs", "d4.webp", 100, 75),
)
# The broken ones: a JPEG cut in half, text named .jpg, an empty file.
BAD = (("cats", "truncated.jpg"), ("dogs", "notes.jpg"), ("birds", "empty.png"))


def photo(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth, noisy colour picture (BGR uint8), like a photograph in how it compresses."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(5, 5, 3), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    return np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)


def encode(image: np.ndarray, suffix: str) -> bytes:
    ok, data = cv2.imencode(suffix.lower().replace(".jpeg", ".jpg"), image)
    assert ok
    return data.tobytes()


def bad_bytes(name: str) -> bytes:
    if name == "truncated.jpg":
        whole = encode(photo(100, 100, 99), ".jpg")
        return whole[: len(whole) // 2]
    if name == "notes.jpg":
        return b"these are not pixels\n"
    return b""


def image_folder(root: Path, with_bad: bool = True) -> Path:
    """GOOD (and BAD) under root/<class>/...; a stray file at the top, which labels leave out."""
    for number, (label, name, height, width) in enumerate(GOOD):
        path = root / label / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(photo(height, width, number), Path(name).suffix))
    if with_bad:
        for label, name in BAD:
            (root / label / name).write_bytes(bad_bytes(name))
    (root / "README.txt").write_text("not an image")
    return root


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> bytes:
    crc = _crc32c(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def example(features: dict[str, bytes | int]) -> bytes:
    """A serialised tf.train.Example of bytes and int64 features."""
    entries = b""
    for key, value in features.items():
        feature = (
            _field(3, _field(1, _varint(value)))
            if isinstance(value, int)
            else _field(1, _field(1, value))
        )
        entries += _field(1, _field(1, key.encode()) + _field(2, feature))
    return _field(1, entries)


def write_records(path: Path, payloads: list[bytes]) -> None:
    with open(path, "wb") as handle:
        for payload in payloads:
            length = struct.pack("<Q", len(payload))
            handle.write(length + _masked(length) + payload + _masked(payload))


def record_shards(
    root: Path,
    shards: int = 2,
    image_key: str = "image/encoded",
    label_key: str = "image/class/label",
) -> Path:
    """The image folder's samples, bad ones included, as TFRecord shards of tf.train.Example."""
    root.mkdir(parents=True, exist_ok=True)
    samples = [
        (encode(photo(h, w, n), Path(name).suffix), CLASSES.index(label))
        for n, (label, name, h, w) in enumerate(GOOD)
    ]
    samples += [(bad_bytes(name), CLASSES.index(label)) for label, name in BAD]
    payloads = [
        example({image_key: data, label_key: label, "image/height": 1}) for data, label in samples
    ]
    for shard in range(shards):
        write_records(root / f"train-{shard:02d}.tfrecord", payloads[shard::shards])
    return root


def npy_pair(root: Path, count: int = 40, size: int = 24) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    images, labels = root / "images.npy", root / "labels.npy"
    np.save(images, rng.integers(0, 256, size=(count, size, size, 3), dtype=np.uint8))
    np.save(labels, rng.integers(0, 5, size=count).astype(np.int64))
    return images, labels
