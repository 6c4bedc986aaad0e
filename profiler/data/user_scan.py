"""Where a user's data is and what it holds: --data PATH told apart, folders listed, sizes
summarised."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from profiler.base.errors import ProfilerError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
RECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrec")


class DataNotFound(ProfilerError):
    """--data names nothing the profiler can read."""


def locate(text: str) -> tuple[str, str]:
    """(kind, absolute path or glob) of --data PATH: 'folder', 'tfrecord' or 'npy'."""
    try:
        return _locate(text)
    # A name too long for the file system, ~user for no such user: no path to look at.
    except (OSError, RuntimeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise DataNotFound(
            f"'{text}' cannot be looked up ({reason}): pass an image folder, a glob of TFRecord "
            "files or images.npy,labels.npy"
        ) from None


def _locate(text: str) -> tuple[str, str]:
    if text.endswith(".npy") or ".npy," in text:
        return "npy", ",".join(npy_pair(text))
    path = Path(text).expanduser()
    if path.is_dir():  # before globs: a folder may be named "photos [2020]"
        if not any(
            Path(root, name).suffix.lower() in IMAGE_SUFFIXES
            for root, _, names in os.walk(path)
            for name in names
        ):
            if tfrecord_files(str(path), missing_ok=True):
                return "tfrecord", str(path.resolve())
            raise DataNotFound(
                f"'{text}' holds no image files ({', '.join(IMAGE_SUFFIXES)}): pass a folder of "
                "images, a glob of TFRecord files such as 'data/*.tfrecord', or "
                "images.npy,labels.npy"
            )
        return "folder", str(path.resolve())
    if glob.has_magic(text) or path.suffix.lower() in RECORD_SUFFIXES:
        tfrecord_files(text)
        return "tfrecord", os.path.abspath(os.path.expanduser(text))
    if not path.exists():
        raise DataNotFound(
            f"'{text}' does not exist: pass an image folder, a glob of TFRecord files or "
            "images.npy,labels.npy (or 'images' or 'arrays' for generated data)"
        )
    raise DataNotFound(
        f"'{text}' is neither a folder, TFRecord files nor .npy files: pass an image folder, a "
        "glob such as 'data/*.tfrecord', or images.npy,labels.npy"
    )


def tfrecord_files(pattern: str, missing_ok: bool = False) -> list[str]:
    """The files a TFRecord glob matches, sorted; for a folder, the files in it named like
    TFRecords."""
    expanded = os.path.expanduser(pattern)
    if os.path.isdir(expanded):
        try:
            files = sorted(
                str(path)
                for path in Path(expanded).iterdir()
                if path.is_file() and path.suffix.lower() in RECORD_SUFFIXES
            )
        except OSError as error:
            raise DataNotFound(
                f"cannot read '{pattern}' ({error.strerror}): check that you may read it"
            ) from None
    else:
        files = sorted(path for path in glob.glob(expanded) if os.path.isfile(path))
    if not files and not missing_ok:
        raise DataNotFound(
            f"no file matches '{pattern}': pass a glob of TFRecord files such as 'data/*.tfrecord' "
            "(quoted, so the shell leaves it to the profiler)"
        )
    return [os.path.abspath(path) for path in files]


def npy_pair(text: str) -> tuple[str, str]:
    """(images, labels): 'images.npy,labels.npy', or 'images.npy' with labels.npy beside it."""
    parts = [os.path.abspath(os.path.expanduser(part)) for part in text.split(",")]
    if len(parts) == 1:
        parts.append(os.path.join(os.path.dirname(parts[0]), "labels.npy"))
    if len(parts) != 2 or parts[0] == parts[1]:
        raise DataNotFound(f"'{text}' is not a pair of .npy files: pass images.npy,labels.npy")
    for part in parts:
        if not os.path.isfile(part):
            raise DataNotFound(
                f"'{part}' does not exist: pass images.npy,labels.npy (labels: one integer per "
                "image)"
            )
    return parts[0], parts[1]


def list_folder(root: Path) -> tuple[list[str], list[int], int]:
    """Image files under ``root`` in a stable order, their labels, and the number of classes.

    Each subfolder of ``root`` is a class (sorted by name, numbered from 0), its images searched
    recursively; files directly in ``root`` are left out then. Without subfolders of images, every
    image is of class 0.
    """

    def images_under(folder: Path) -> list[str]:
        found = [
            os.path.join(base, name)
            for base, dirs, names in os.walk(folder, followlinks=False)
            for name in names
            if Path(name).suffix.lower() in IMAGE_SUFFIXES
        ]
        return sorted(found)

    # As Keras does, every subfolder is a class once one holds images (an empty one keeps its
    # number).
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    found = [images_under(folder) for folder in folders]  # each folder walked once
    if not any(found):
        paths = images_under(root)
        return paths, [0] * len(paths), 1
    paths, labels = [], []
    for label, images in enumerate(found):
        paths.extend(images)
        labels.extend([label] * len(images))
    return paths, labels, len(folders)


# Arrays OpenCV resizes and numpy scales: the dtypes a .npy of images holds in practice.
ARRAY_DTYPES = ("uint8", "float32", "float64")


def check_arrays(images: str, labels: str) -> int:
    """Rows of a .npy pair that can be served: N x H x W [x 1|3] images, N integer labels >= 0."""

    def refuse(problem: str) -> DataNotFound:
        return DataNotFound(
            f"{problem}: pass images.npy as N x H x W or N x H x W x C ({', '.join(ARRAY_DTYPES)}) "
            "and labels.npy as N integers from 0"
        )

    loaded = []
    for path in (images, labels):
        try:
            array = np.load(path, mmap_mode="r")
        except (ValueError, EOFError, OSError) as error:  # pickled objects, empty, not a .npy
            raise refuse(f"cannot read '{path}' ({error or type(error).__name__})") from None
        if not isinstance(array, np.ndarray):  # an .npz archive under a .npy name
            raise refuse(f"'{path}' is an .npz archive of arrays, not one array")
        loaded.append(array)
    pixels, classes = loaded
    if pixels.ndim not in (3, 4) or (pixels.ndim == 4 and pixels.shape[3] not in (1, 3)):
        raise refuse(f"'{images}' has shape {pixels.shape}")
    if pixels.shape[0] == 0 or 0 in pixels.shape[1:3]:
        raise refuse(f"'{images}' has shape {pixels.shape}: no image, or images of no pixels")
    if str(pixels.dtype) not in ARRAY_DTYPES:
        raise refuse(f"'{images}' holds {pixels.dtype}")
    if classes.shape != (pixels.shape[0],) or classes.dtype.kind not in "iu":
        raise refuse(
            f"'{labels}' has shape {classes.shape} and dtype {classes.dtype} for {pixels.shape[0]} "
            "images"
        )
    if classes.size and (int(classes.min()) < 0 or int(classes.max()) >= 2**31):
        raise refuse(f"'{labels}' holds labels from {int(classes.min())} to {int(classes.max())}")
    return int(pixels.shape[0])


def describe_sizes(shapes: list[tuple[int, ...]]) -> str:
    """The median source size as 'HxW', with the range where sizes vary."""
    if not shapes:
        return "-"
    heights = sorted(shape[0] for shape in shapes)
    widths = sorted(shape[1] for shape in shapes)
    median = f"{heights[len(heights) // 2]}x{widths[len(widths) // 2]}"
    if heights[0] == heights[-1] and widths[0] == widths[-1]:
        return median
    return f"{median} (median; {min(heights)}-{max(heights)} x {min(widths)}-{max(widths)})"
