"""TFRecord files read without TensorFlow: where each record is, and the features of a
tf.train.Example.

The profiler's parent process never imports TensorFlow, yet it must count, index and check a
user's records; the framing (length, CRC, payload, CRC) and the three feature lists of
tf.train.Example are small enough to read directly. The checksums are checked as TensorFlow checks
them: a file with one bad record fails TFRecordDataset there.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from profiler.data.crc32c import masked_crc32c

_HEADER = 12  # uint64 length + uint32 masked CRC of the length
_FOOTER = 4  # uint32 masked CRC of the payload

# The first bytes of the encoded image formats the decoders read.
IMAGE_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG": "PNG", b"BM": "BMP", b"RIFF": "WebP"}


class DamagedRecords(ValueError):
    """A TFRecord file ends inside a record: the records before it are still readable."""


@dataclass(frozen=True)
class Feature:
    kind: str  # "bytes", "int64" or "float"
    values: tuple[object, ...]


def record_offsets(path: Path) -> Iterator[tuple[int, int]]:
    """(payload offset, payload length) of each record of one file, in order; DamagedRecords where
    the file is cut short or a checksum does not match, as TFRecordDataset would fail there."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        position = 0
        while position < size:
            header = handle.read(_HEADER)
            if len(header) < _HEADER:
                raise DamagedRecords(f"{path} ends inside a record header at byte {position:,}")
            (length,) = struct.unpack("<Q", header[:8])
            if struct.unpack("<I", header[8:])[0] != masked_crc32c(header[:8]):
                raise DamagedRecords(f"{path}: the record length at byte {position:,} is damaged")
            end = position + _HEADER + length + _FOOTER
            if end > size:
                raise DamagedRecords(
                    f"{path} ends inside a record of {length:,} bytes at byte {position:,}"
                )
            payload = handle.read(length)
            footer = handle.read(_FOOTER)
            if len(footer) < _FOOTER or struct.unpack("<I", footer)[0] != masked_crc32c(payload):
                raise DamagedRecords(
                    f"{path}: the record at byte {position:,} does not match its checksum"
                )
            yield position + _HEADER, length
            position = end


def framed_records(path: Path) -> int:
    """How many records a damaged file holds, its checksums not read: the whole ones, and one more
    where it ends inside a record. At least 1: a file that cannot be read at all is one lost."""
    try:
        size = path.stat().st_size
        count, position = 0, 0
        with open(path, "rb") as handle:
            while position < size:
                header = handle.read(_HEADER)
                count += 1
                if len(header) < _HEADER:
                    break
                # A length past the file's end (garbage read as a header) ends it inside a record.
                position += _HEADER + struct.unpack("<Q", header[:8])[0] + _FOOTER
                if position >= size:
                    break
                handle.seek(position)
        return max(count, 1)
    except OSError:
        return 1


def read_record(path: str, offset: int, length: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(buffer) or shift > 63:
            raise ValueError("a varint runs past the end of the message")
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, position  # protobuf keeps the low 64 bits
        shift += 7


def _fields(buffer: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field of a protocol buffer message."""
    position = 0
    while position < len(buffer):
        key, position = _varint(buffer, position)
        wire = key & 7
        if wire == 0:
            value, position = _varint(buffer, position)
            yield key >> 3, wire, value
        elif wire == 2:
            length, position = _varint(buffer, position)
            if position + length > len(buffer):
                raise ValueError("a field runs past the end of the message")
            yield key >> 3, wire, buffer[position : position + length]
            position += length
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
            if position > len(buffer):
                raise ValueError("a field runs past the end of the message")
            yield key >> 3, wire, b""
        else:
            raise ValueError(f"wire type {wire} is not used by tf.train.Example")


def _int64s(wire: int, value: int | bytes) -> list[int]:
    if wire == 0:
        numbers = [int(value)]  # type: ignore[arg-type]
    else:
        numbers, position = [], 0
        while position < len(value):  # type: ignore[arg-type]
            number, position = _varint(value, position)  # type: ignore[arg-type]
            numbers.append(number)
    return [n - (1 << 64) if n >= 1 << 63 else n for n in numbers]


def _message(value: int | bytes) -> bytes:
    """A field that must hold a message (wire type 2); ValueError where a number stands instead."""
    if not isinstance(value, bytes):
        raise ValueError("a number where tf.train.Example has a message")
    return value


def _feature(buffer: bytes) -> Feature:
    for number, _, field_value in _fields(buffer):
        value = _message(field_value)
        if number == 1:
            return Feature("bytes", tuple(_message(v) for n, _, v in _fields(value) if n == 1))
        if number == 2:
            return Feature("float", ())
        if number == 3:
            return Feature(
                "int64", tuple(i for n, w, v in _fields(value) if n == 1 for i in _int64s(w, v))
            )
    return Feature("bytes", ())


def parse_example(payload: bytes) -> dict[str, Feature]:
    """The features of a serialised tf.train.Example, by key; ValueError if it is not one."""
    features: dict[str, Feature] = {}
    for number, wire, value in _fields(payload):
        if number != 1 or wire != 2:
            continue
        for entry_number, _, entry in _fields(_message(value)):
            if entry_number != 1:
                continue
            key, feature = "", b""
            for part, _, part_value in _fields(_message(entry)):
                if part == 1:
                    key = _message(part_value).decode("utf-8", "replace")
                elif part == 2:
                    feature = _message(part_value)
            features[key] = _feature(feature)
    return features


def image_format(encoded: bytes) -> str | None:
    for magic, name in IMAGE_MAGIC.items():
        if encoded.startswith(magic) and (name != "WebP" or encoded[8:12] == b"WEBP"):
            return name
    return None


def feature_keys(features: dict[str, Feature], image_key: str, label_key: str) -> tuple[str, str]:
    """The image and label keys: the ones named, else the only candidates; ValueError naming the
    choice."""
    images = [
        k
        for k, f in features.items()
        if f.kind == "bytes" and f.values and image_format(bytes(f.values[0]))
    ]  # type: ignore[arg-type]
    labels = [k for k, f in features.items() if f.kind == "int64" and len(f.values) == 1]
    if len(labels) > 1 and sum("label" in k.lower() for k in labels) == 1:
        labels = [k for k in labels if "label" in k.lower()]
    for given, candidates, what, option, kind in (
        (image_key, images, "encoded image", "--image-key", "bytes"),
        (label_key, labels, "integer label", "--label-key", "int64"),
    ):
        if given and given not in features:
            raise ValueError(
                f"the records have no feature '{given}' (they have {', '.join(sorted(features))}): "
                f"pass {option} with one of those"
            )
        if given and features[given].kind != kind:
            raise ValueError(
                f"feature '{given}' holds {features[given].kind} values, not the {what}: pass "
                f"{option} with a {kind} feature"
            )
        if not given and len(candidates) != 1:
            found = ", ".join(sorted(candidates)) or "none"
            raise ValueError(
                f"cannot tell which feature holds the {what} (candidates: {found}): name it with "
                f"{option}"
            )
    return image_key or images[0], label_key or labels[0]
