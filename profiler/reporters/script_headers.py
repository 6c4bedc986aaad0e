"""The top of a printed script: the user's data read as the run read it.

Every strategy's snippet (scenarios._snippets) runs after one of these headers, which all define
the same names: ``paths`` (one entry a sample: a file's path, a TFRecord's record, an array's
row), ``labels``, ``load(entry)`` (the sample decoded by OpenCV, resized, scaled to [0, 1]),
``stored_bytes(entry)`` and ``decode_bytes(data)`` (the sample as a TFRecord shard keeps it, and
TensorFlow's decode of that), ``stored_samples()`` and ``decode_item(item)`` (the samples for
TensorFlow to read and decode, where the strategy reads them natively), and ``DATA_FILES``, what
a cache made from the data is keyed to.
"""

from __future__ import annotations

from dataclasses import dataclass

RECORD_AT = "\0"  # profiler.data.user_index.RECORD_AT: a bad record's file, then its offset

TOP = '''{imports}import os
import pathlib

import cv2
import numpy as np
import tensorflow as tf

HEIGHT, WIDTH, CHANNELS, BATCH = {height}, {width}, {channels}, {batch}
AUTOTUNE = tf.data.AUTOTUNE
COLOUR = cv2.IMREAD_GRAYSCALE if CHANNELS == 1 else cv2.IMREAD_COLOR


def pixels(image):
    """OpenCV's decoded pixels as a sample: RGB, resized by area, in [0, 1]."""
    if CHANNELS == 3:
        image = image[:, :, ::-1]  # BGR to RGB
    image = cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    image = (image / 255.0).astype(np.float32)
    return image.reshape(HEIGHT, WIDTH, CHANNELS)


'''

_ENCODED = '''def decode_bytes(data):
    """TensorFlow's decode of an encoded image, resized by area, in [0, 1]."""
    image = tf.io.decode_image(data, channels=CHANNELS,
                               expand_animations=False)
    image = tf.image.resize(image, (HEIGHT, WIDTH), method="area")
    return image / 255.0


'''

FOLDER = (
    '''DATA = pathlib.Path({folder})  # one subfolder of images per class
SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# Files OpenCV could not decode when the profiler read this folder.
SKIP = {skip}


def images_under(folder):
    """Image files under folder, sorted, the undecodable ones left out."""
    found = [os.path.join(base, name)
             for base, _, names in os.walk(folder) for name in names
             if pathlib.Path(name).suffix.lower() in SUFFIXES]
    return sorted(f for f in found if f not in SKIP and readable(f))


def readable(path):
    """Not empty, and its first bytes are a format OpenCV reads."""
    return os.path.getsize(path) > 0 and cv2.haveImageReader(path)


classes = sorted(p.name for p in DATA.iterdir()
                 if p.is_dir() and not p.name.startswith("."))
found = [images_under(DATA / c) for c in classes]
if not any(found):  # no class folders: every image is of class 0
    found = [images_under(DATA)]
paths = [path for files in found for path in files]
labels = np.array([c for c, files in enumerate(found) for _ in files],
                  np.int32)
DATA_FILES = paths


def load(path):
    """One image: decoded by OpenCV, resized by area, scaled to [0, 1]."""
    image = cv2.imread(path, COLOUR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ValueError(f"{{path}}: OpenCV cannot decode it: remove it")
    return pixels(image)


def stored_bytes(path):
    return pathlib.Path(path).read_bytes()


'''
    + _ENCODED
    + '''def stored_samples():
    """(path, label) of each image, for TensorFlow to read and decode."""
    return tf.data.Dataset.from_tensor_slices((paths, labels))


def decode_item(path):
    return decode_bytes(tf.io.read_file(path))


'''
)

TFRECORDS = (
    '''DATA = {pattern}  # a glob of TFRecord files, or their folder
IMAGE_KEY, LABEL_KEY = {image_key}, {label_key}
RECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrec")
# What the profiler could not read: files cut short or failing a checksum
# (TFRecordDataset stops at them), and records whose image OpenCV could not
# decode, as (file, byte offset).
BAD_FILES = {bad_files}
BAD_RECORDS = {bad_records}


def record_files(pattern):
    """The TFRecord files, sorted; in a folder, those named like TFRecords."""
    if os.path.isdir(pattern):
        found = [os.path.join(pattern, name) for name in os.listdir(pattern)
                 if name.lower().endswith(RECORD_SUFFIXES)]
    else:
        found = glob.glob(pattern)
    found = sorted(os.path.abspath(f) for f in found if os.path.isfile(f))
    return [f for f in found if f not in BAD_FILES]


def records_in(file):
    """(offset, length) of each record: an 8-byte length and its checksum
    come before it, its own checksum after it."""
    with open(file, "rb") as handle:
        while header := handle.read(12):
            length = int.from_bytes(header[:8], "little")
            yield handle.tell(), length
            handle.seek(length + 4, os.SEEK_CUR)


def features_of(entry):
    file, offset, length = entry
    with open(file, "rb") as handle:
        handle.seek(offset)
        record = handle.read(length)
    return tf.train.Example.FromString(record).features.feature


FILES = record_files(DATA)
every = [(file, offset, length) for file in FILES
         for offset, length in records_in(file)]
KEPT = np.array([(file, offset) not in BAD_RECORDS
                 for file, offset, _ in every])
paths = [entry for entry, kept in zip(every, KEPT) if kept]
labels = np.array([features_of(e)[LABEL_KEY].int64_list.value[0]
                   for e in paths], np.int32)
DATA_FILES = FILES


def stored_bytes(entry):
    return features_of(entry)[IMAGE_KEY].bytes_list.value[0]


def load(entry):
    """One record's image: decoded by OpenCV, resized, scaled to [0, 1]."""
    data = np.frombuffer(stored_bytes(entry), np.uint8)
    image = cv2.imdecode(data, COLOUR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ValueError(f"{{entry}}: OpenCV cannot decode it")
    return pixels(image)


'''
    + _ENCODED
    + '''def stored_samples():
    """(encoded image, label) of each kept record, read by TFRecordDataset."""
    features = {{IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
                LABEL_KEY: tf.io.FixedLenFeature([], tf.int64)}}

    def parse(number, record):
        parsed = tf.io.parse_single_example(record, features)
        return parsed[IMAGE_KEY], tf.cast(parsed[LABEL_KEY], tf.int32)

    records = tf.data.TFRecordDataset(FILES).enumerate()
    kept = records.filter(lambda number, _: tf.gather(KEPT, number))
    return kept.map(parse)


def decode_item(data):
    return decode_bytes(data)


'''
)

ARRAYS = '''# A sample a row, read from the disk as needed (a memory map).
IMAGES = np.load({images}, mmap_mode="r")
labels = np.load({labels}).astype(np.int32)
paths = list(range(len(IMAGES)))  # a row number where a file's path would be
DATA_FILES = [{images}, {labels}]


def load(row):
    """One row: resized by area where its size differs, uint8 to [0, 1]."""
    image = np.asarray(IMAGES[row])
    if image.shape[:2] != (HEIGHT, WIDTH):
        size = (WIDTH, HEIGHT)
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    scale = np.float32(1 / 255) if image.dtype == np.uint8 else np.float32(1)
    return (image.astype(np.float32) * scale).reshape(HEIGHT, WIDTH, CHANNELS)


def stored_bytes(row):
    """The sample as TFRecord shards keep arrays: decoded float32 pixels."""
    return load(row).tobytes()


def decode_bytes(data):
    image = tf.io.decode_raw(data, tf.float32)
    return tf.reshape(image, (HEIGHT, WIDTH, CHANNELS))


'''


@dataclass(frozen=True)
class ScriptData:
    """The data a script reads: ``kind`` "folder", "tfrecord" or "npy", as the run's --data."""

    kind: str
    path: str
    skipped: tuple[str, ...] = ()  # bad files, or bad records as file RECORD_AT offset
    image_key: str = ""
    label_key: str = ""


def _python_set(items: list[object]) -> str:
    return "set()" if not items else "{\n" + "".join(f"    {item!r},\n" for item in items) + "}"


def header(data: ScriptData, height: int, width: int, channels: int, batch: int) -> str:
    """The whole header: imports, sizes, and the part that finds and reads ``data``."""
    top = TOP.format(
        imports="import glob\n" if data.kind == "tfrecord" else "",
        height=height,
        width=width,
        channels=channels,
        batch=batch,
    )
    return top + _data_part(data)


def _data_part(data: ScriptData) -> str:
    if data.kind == "npy":
        images, labels = data.path.split(",")
        return ARRAYS.format(images=repr(images), labels=repr(labels))
    if data.kind == "tfrecord":
        records = [tuple(s.split(RECORD_AT)) for s in data.skipped if RECORD_AT in s]
        return TFRECORDS.format(
            pattern=repr(data.path),
            image_key=repr(data.image_key),
            label_key=repr(data.label_key),
            bad_files=_python_set([s for s in data.skipped if RECORD_AT not in s]),
            bad_records=_python_set([(file, int(offset)) for file, offset in records]),
        )
    return FOLDER.format(folder=repr(data.path), skip=_python_set(list(data.skipped)))
