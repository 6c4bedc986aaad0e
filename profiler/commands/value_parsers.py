"""Argument types: each turns one option's text into a value, or a one-line error with the fix."""

from __future__ import annotations

import argparse
import ast
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Past every count the tool could use (samples, epochs, processes), and far inside what a float
# holds: the estimates of time, memory and disk multiply them as floats.
MAX_WHOLE = 10**12


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a whole number: pass a positive integer"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"got {value}: pass a positive integer (1 or more)")
    if value > MAX_WHOLE:
        raise argparse.ArgumentTypeError(
            f"got {_shown(text, value)}: pass a positive integer of at most {MAX_WHOLE:,}"
        )
    return value


def _shown(text: str, value: int) -> str:
    """A whole number in an error, one too long to read by its length."""
    length = len(text.strip())
    return f"{value:,}" if length <= 20 else f"a number of {length:,} characters"


def bounded_int(low: int, high: int, why: str) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``; ``why`` says where the upper bound comes from."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a whole number: pass one from {low} to {high:,}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"got {_shown(text, value)}: pass a whole number from {low} to {high:,} ({why})"
            )
        return value

    return parse


def path_argument(text: str) -> Path:
    """A path that names something: an empty one would silently mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "the path is empty: pass a folder or file name, or leave the option out"
        )
    if "\0" in text:
        raise argparse.ArgumentTypeError("the path contains a NUL character: pass a plain path")
    try:  # as --data does: the shell leaves a "~" after "--output=" as it is
        return Path(text).expanduser()
    except RuntimeError:  # "~nobody": no such user, or no home
        raise argparse.ArgumentTypeError(
            f"cannot find the home folder that '{text[:60]}' starts from: pass a full path"
        ) from None


def utf8_path_argument(text: str) -> Path:
    """A path that TensorFlow opens: its file functions take UTF-8 only, so a byte that is not
    (kept by Python as a lone surrogate) would fail strategies half-way through the run."""
    path = path_argument(text)
    refuse_non_utf8(text)
    return path


def refuse_non_utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(
            "the path holds bytes that are not UTF-8, which TensorFlow cannot open: rename it, or "
            "pass another"
        ) from None


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a number: pass a number such as 20"
        ) from None
    if not math.isfinite(value) or value < 0:  # inf and nan pass a comparison with 0
        raise argparse.ArgumentTypeError(f"got {text}: pass a finite number of 0 or more")
    return value


MAX_STEP_MS = 60_000.0  # a training step of a minute: longer ones wait minutes for each figure


def step_ms(text: str) -> float:
    value = non_negative_float(text)
    if value > MAX_STEP_MS:
        raise argparse.ArgumentTypeError(
            f"got {text}: pass a step of at most {MAX_STEP_MS:,.0f} ms"
        )
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("got 0: pass a number greater than 0")
    return value


def percentage(text: str) -> float:
    """A percentage greater than 0 and at most 100."""
    value = positive_float(text)
    if value > 100:
        raise argparse.ArgumentTypeError(
            f"got {text}: pass a percentage greater than 0 and at most 100"
        )
    return value


def sample_sizes(text: str) -> tuple[int, ...]:
    """'1000,2000,4000': distinct positive sizes, ascending."""
    sizes = []
    for part in text.split(","):
        try:
            sizes.append(positive_int(part.strip()))
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(
                f"in '{text}': {error}; write sizes as 1000,2000,4000"
            ) from None
    return tuple(sorted(set(sizes)))


_MEMORY_UNITS = {
    "kib": 1 / 1024,
    "mib": 1.0,
    "gib": 1024.0,
    "tib": 1024.0**2,
    "k": 1 / 1024,
    "m": 1.0,
    "g": 1024.0,
    "t": 1024.0**2,
    "kb": 1e3 / 2**20,
    "mb": 1e6 / 2**20,
    "gb": 1e9 / 2**20,
    "tb": 1e12 / 2**20,
}


def memory_size(text: str) -> float:
    """'16GiB', '16G' (binary), '16GB' (decimal) or '512MiB', in MiB."""
    cleaned = text.strip().lower().replace(" ", "")
    digits = cleaned.rstrip("kmgtib")
    unit = cleaned[len(digits) :]
    try:
        value = float(digits)
    except ValueError:
        value = -1.0
    mib = value * _MEMORY_UNITS.get(unit, math.nan)
    if not value > 0 or not math.isfinite(mib):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a memory size: write a positive number with a unit, such as 16GiB or "
            "512MiB"
        )
    if mib < 1.0:  # 1e-300MiB: a typo, and a sweep of many minutes
        raise argparse.ArgumentTypeError(
            f"'{text}' is less than 1 MiB, which no pipeline fits in: pass a budget such as 16GiB"
        )
    return mib


# A --pipeline-arg value longer than this is refused: it is a keyword argument, not a data file.
MAX_PIPELINE_ARGUMENT_CHARS = 10_000


def pipeline_argument(text: str) -> tuple[str, Any]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(
            f"'{text}' is not KEY=VALUE: pass it as --pipeline-arg batch_size=64"
        )
    if len(value) > MAX_PIPELINE_ARGUMENT_CHARS:
        raise argparse.ArgumentTypeError(
            f"the value of {key.strip()} is {len(value):,} characters long: pass at most "
            f"{MAX_PIPELINE_ARGUMENT_CHARS:,}, or let the pipeline read a file"
        )
    try:
        parsed: Any = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError):
        parsed = value
    except (RecursionError, MemoryError):  # the parser's own stack, long before the length limit
        raise argparse.ArgumentTypeError(
            f"the value of {key.strip()} is nested too deeply to read: pass a flatter value"
        ) from None
    try:
        repr(parsed)  # how it is named in the results and reports
    except (ValueError, RecursionError):  # a whole number past the 4,300 digits Python writes
        raise argparse.ArgumentTypeError(
            f"the value of {key.strip()} holds a number too long to write out: pass a shorter one"
        ) from None
    unkept = _not_json(parsed)  # the results file keeps it, with the run's other settings
    if unkept is not None:
        raise argparse.ArgumentTypeError(
            f"the value of {key.strip()} holds a value of type {unkept}, which a results file "
            f"cannot keep: pass numbers, strings, lists or dicts, or quote it as "
            f"{key.strip()}='\"...\"' to pass it as a string"
        )
    return key.strip(), parsed


def _not_json(value: Any) -> str | None:
    """The name of the first type in ``value`` that JSON cannot hold (a complex, bytes, a set)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return None
    if isinstance(value, (list, tuple)):
        return next((name for name in map(_not_json, value) if name is not None), None)
    if isinstance(value, dict):
        keys = (k for k in value if not (k is None or isinstance(k, (str, int, float, bool))))
        return next((type(k).__name__ for k in keys), None) or next(
            (name for name in map(_not_json, value.values()) if name is not None), None
        )
    return type(value).__name__
