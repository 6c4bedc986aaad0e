"""The data options that run, sweep, tune and scale share, and arguments -> the DataSpec they
describe."""

from __future__ import annotations

import argparse
from typing import Any

from profiler.base.errors import ProfilerError
from profiler.commands.value_parsers import (
    bounded_int,
    positive_int,
    refuse_non_utf8,
    utf8_path_argument,
)
from profiler.data.synthetic import DATA_KINDS, IMAGE_FORMATS, DataSpec, default_cache_root
from profiler.data.user_scan import locate

# The largest side of an image, delivered or stored: 8192 x 8192 x 3 float32 is 768 MiB a sample.
MAX_IMAGE_SIDE = 8192
DEFAULT_SIZE = (64, 64)
BAD_FILE_CHOICES = ("skip", "fail")


def image_size(text: str) -> tuple[int, int]:
    """'64' for 64x64, or 'HxW'."""
    parts = text.lower().split("x")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a size: pass 64 or HEIGHTxWIDTH such as 64x48"
        ) from None
    if len(numbers) not in (1, 2) or min(numbers) <= 0:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a size: pass 64 or HEIGHTxWIDTH with positive numbers"
        )
    if max(numbers) > MAX_IMAGE_SIDE:
        raise argparse.ArgumentTypeError(
            f"'{text}' is too large: pass sides of at most {MAX_IMAGE_SIDE}"
        )
    return (numbers[0], numbers[-1])


def data_argument(text: str) -> str:
    if not text.strip() or "\0" in text:
        raise argparse.ArgumentTypeError(
            "pass 'images', 'arrays', an image folder, a TFRecord glob or images.npy,labels.npy"
        )
    refuse_non_utf8(text)
    return text


def add_data_arguments(
    parser: argparse.ArgumentParser, samples_help: str | None = None, **samples: Any
) -> None:
    """The data's options, shared by run, sweep (which takes a list of sizes), tune and scale."""
    defaults = DataSpec()
    data = parser.add_argument_group("data (generated once and cached, or your own)")
    data.add_argument(
        "--data",
        type=data_argument,
        default=defaults.kind,
        metavar="images|arrays|PATH",
        help="generated encoded image files or memory-mapped float32 arrays; or your own data: a "
        "folder of images (class subfolders give the labels), a quoted glob of TFRecord files, "
        "or images.npy,labels.npy (default: %(default)s)",
    )
    data.add_argument(
        "--samples",
        **(samples or {"type": positive_int, "default": None}),
        help=samples_help
        or f"number of samples: generated, or a seeded subset of your data "
        f"(default: {defaults.samples} generated, all of yours)",
    )
    _add_generated_arguments(data, defaults)
    data.add_argument(
        "--augment",
        action="store_true",
        help="a light augmentation (a shift of up to 1/8 of a side and a horizontal flip), seeded "
        "per sample, applied by every strategy where it decodes",
    )
    _add_user_data_arguments(data)
    data.add_argument(
        "--data-dir",
        type=utf8_path_argument,
        default=None,
        help=(
            f"cache of generated datasets and of indexes of yours (default: {default_cache_root()})"
        ),
    )


def _add_generated_arguments(data: argparse._ArgumentGroup, defaults: DataSpec) -> None:
    """The shape of generated data: sizes, channels, format, classes and seed."""
    data.add_argument(
        "--image-size",
        type=image_size,
        default=None,
        metavar="SIZE",
        help="delivered size, 64 or HxW (default: 64; a .npy pair: its own size)",
    )
    data.add_argument(
        "--source-size",
        type=bounded_int(1, MAX_IMAGE_SIDE, "pixels per side"),
        default=defaults.source_size,
        help=(
            "generated data: side of the stored image files before resizing (default: %(default)s)"
        ),
    )
    data.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        default=defaults.channels,
        help="colour channels delivered (default: %(default)s)",
    )
    data.add_argument(
        "--format",
        dest="image_format",
        choices=IMAGE_FORMATS,
        default=defaults.image_format,
        help="generated data: file format of --data images (default: %(default)s)",
    )
    data.add_argument(
        "--classes",
        type=bounded_int(1, 2**31 - 1, "labels are int32"),
        default=defaults.classes,
        help="generated data: number of label values (default: %(default)s)",
    )
    data.add_argument(
        "--seed",
        type=bounded_int(0, 2**32 - 1, "numpy's seeds are unsigned"),
        default=defaults.seed,
        help="seed of the generated data, of the subset of yours, of shuffling and augmenting "
        "(default: 0)",
    )


def _add_user_data_arguments(data: argparse._ArgumentGroup) -> None:
    """How a user's own data is read: bad files, and the TFRecord feature keys."""
    data.add_argument(
        "--on-bad-file",
        choices=BAD_FILE_CHOICES,
        default="skip",
        help="your data: a sample that does not decode is left out by every strategy and counted "
        "(skip), or stops the run before measuring (fail) (default: %(default)s)",
    )
    data.add_argument(
        "--image-key",
        default="",
        metavar="KEY",
        help="TFRecords: the feature holding the encoded image (default: found on its own)",
    )
    data.add_argument(
        "--label-key",
        default="",
        metavar="KEY",
        help="TFRecords: the feature holding the integer label (default: found on its own)",
    )


def data_kind(args: argparse.Namespace) -> tuple[str, str]:
    """(kind, path) of --data: a generated kind with no path, or a user's data found on disk
    (once)."""
    located = getattr(args, "located_data", None)
    if located is None:
        located = (args.data, "") if args.data in DATA_KINDS else locate(args.data)
        args.located_data = located
        for option, value in (("--image-key", args.image_key), ("--label-key", args.label_key)):
            if value and located[0] != "tfrecord":
                raise ProfilerError(
                    f"{option} is for TFRecord data: leave it out, or pass a glob of TFRecord files"
                )
    return located


def spec_from(args: argparse.Namespace, samples: int | None) -> DataSpec:
    """The data's spec; ``samples`` None: the default, 1000 generated or all of a user's data
    (0)."""
    kind, path = data_kind(args)
    user = bool(path)
    size = args.image_size or ((0, 0) if kind == "npy" else DEFAULT_SIZE)
    return DataSpec(
        kind=kind,
        samples=samples if samples is not None else (0 if user else DataSpec().samples),
        height=size[0],
        width=size[1],
        channels=args.channels,
        source_size=args.source_size,
        image_format=args.image_format,
        classes=args.classes,
        seed=args.seed,
        augment=args.augment,
        path=path,
        image_key=args.image_key,
        label_key=args.label_key,
    )
