"""Advice to act on beside the pick: the disk its cache needs, and the code that builds it on a
user's own files."""

from __future__ import annotations

from profiler.reporters.common import Note
from profiler.results.records import RunResult, ScenarioResult

SNIPPET_HEADER = '''import os
import pathlib

import cv2
import numpy as np
import tensorflow as tf

HEIGHT, WIDTH, CHANNELS, BATCH = {height}, {width}, {channels}, {batch}
AUTOTUNE = tf.data.AUTOTUNE
DATA = pathlib.Path({folder})  # one subfolder of images per class
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


def load(path):
    """One image: decoded by OpenCV, resized by area, scaled to [0, 1]."""
    colour = cv2.IMREAD_GRAYSCALE if CHANNELS == 1 else cv2.IMREAD_COLOR
    image = cv2.imread(path, colour | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ValueError(f"{{path}}: OpenCV cannot decode it: remove it")
    if CHANNELS == 3:
        image = image[:, :, ::-1]  # BGR to RGB
    image = cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    image = (image / 255.0).astype(np.float32)
    return image.reshape(HEIGHT, WIDTH, CHANNELS)


'''
SNIPPET_FOOTER = """

if __name__ == "__main__":
    dataset = make_dataset()
    # model.fit(dataset, epochs=...)
"""
# What the main says of shuffling: measured with a shuffle buffer, the same buffer follows
# make_dataset(), as it followed every strategy in the run; measured without one, the file order
# was what was timed, and the line says how to time a shuffled pipeline.
_UNSHUFFLED = """    # Measured in file order. Training wants shuffled samples: run the
    # profiler with --shuffle-buffer N to time a buffer of N and print it here.
"""
_SHUFFLED = """    # Shuffled as measured: a seeded buffer of {buffer} samples.
    if isinstance(dataset, tf.data.Dataset):
        dataset = dataset.unbatch().shuffle({buffer}, seed={seed}).batch(BATCH)
"""
PLACEHOLDER_FOLDER = "path/to/your/images"


def picked(run: RunResult) -> ScenarioResult | None:
    pick = run.recommendation
    if pick is None or pick.name is None:
        return None
    return next((r for r in run.scenarios if r.name == pick.name), None)


def snippet_script(run: RunResult) -> str | None:
    """A whole script that builds the picked strategy on a folder of images, one subfolder per
    class."""
    result = picked(run)
    if result is None or not result.snippet:
        return None
    spec = run.data.spec if run.data is not None else None
    folder = spec.path if spec is not None and spec.kind == "folder" else PLACEHOLDER_FOLDER
    return script_for(
        result.snippet,
        spec.height if spec else 64,
        spec.width if spec else 64,
        spec.channels if spec else 3,
        run.settings.batch_size,
        folder,
        run.data.skipped_paths if run.data is not None and folder != PLACEHOLDER_FOLDER else (),
        run.settings.shuffle_buffer,
        spec.seed if spec else 0,
    )


def script_caveat(kind: str) -> str:
    """What the script leaves to the user whose data is not a folder of images."""
    if kind == "tfrecord":
        return (
            "This run read TFRecords, and the script reads image files: keep its `make_dataset()` "
            "and build `samples` from your records as the `tfrecord` strategy's script does "
            "(`TFRecordDataset`, `parse_single_example`, then the same decode), with `SHARDS` set "
            "to your files."
        )
    return (
        "This run read a pair of .npy arrays, and the script reads image files: load the arrays "
        "with `np.load(..., mmap_mode='r')` and replace `load(paths[i])` with the array's row `i`."
    )


def script_for(
    snippet: str,
    height: int,
    width: int,
    channels: int,
    batch: int,
    folder: str,
    skip: tuple[str, ...] = (),
    shuffle_buffer: int = 0,
    seed: int = 0,
) -> str:
    """The whole script: the header for these sizes and this folder (quoted as Python), the files
    to leave out, the snippet, a main that shuffles as the run did."""
    listed = "set()" if not skip else "{\n" + "".join(f"    {path!r},\n" for path in skip) + "}"
    header = SNIPPET_HEADER.format(
        height=height, width=width, channels=channels, batch=batch, folder=repr(folder), skip=listed
    )
    shuffled = _SHUFFLED.format(buffer=shuffle_buffer, seed=seed) if shuffle_buffer else _UNSHUFFLED
    main = SNIPPET_FOOTER.replace("    # model.fit", shuffled + "    # model.fit")
    return header + snippet + main


def disk_note(run: RunResult) -> Note | None:
    """How much disk the pick's decoded cache takes, measured in this run, at its size and per
    million."""
    result = picked(run)
    if result is None or not result.disk_grows_with_data or not run.samples:
        return None
    samples = run.samples
    if result.disk_written_mib is not None and result.disk_written_mib > 0:
        per_sample_mib = result.disk_written_mib / samples
        measured = (
            f"wrote {result.disk_written_mib:,.1f} MiB for the {samples:,} samples of this run"
        )
    # results without the measured figure: the decoded size, with an int32 label
    elif run.data is not None:
        per_sample_mib = (run.data.spec.sample_bytes + 4) / 2**20
        measured = (
            f"writes about {per_sample_mib * samples:,.1f} MiB of decoded samples for this run's "
            f"{samples:,}"
        )
    else:
        return None
    kind = (
        run.expected_fingerprint.sample_kind
        if run.expected_fingerprint is not None
        else "samples of this size"
    )
    return Note(
        f"Disk: {result.name} {measured}, about {per_sample_mib * 2**20 / 1024:,.1f} KiB a sample "
        f"({kind}): {per_sample_mib * 1e6 / 1024:,.1f} GiB per million samples at this image size, "
        "on the disk that holds its cache file.",
        "warning",
    )
