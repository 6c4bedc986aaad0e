"""Typed records to JSON values and back, checked field by field against their annotations.

One generic mapping for every frozen dataclass of the results, so a field added to a record is
saved and read without a line of serialising code. Decoding refuses what does not fit the
annotation (a string where a number belongs, a missing field without a default, a non-finite
number, a number outside the range its name implies: see ``_limits``) with the path of the
offending value, such as ``scenarios[2].peak_rss_mib``. A key that is no field is refused too: a
field renamed without an upgrade step must not vanish silently.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


class DecodeError(ValueError):
    """A JSON value that does not fit the record it should become."""


def encode(value: Any) -> Any:
    """A dataclass, tuple, dict or scalar as plain JSON values (dicts, lists, numbers, strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: encode(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    return value


def decode(kind: type[T], data: Any, where: str = "") -> T:
    """``data`` (parsed JSON) as an instance of ``kind``, a dataclass or any annotation it uses."""
    return _decode(kind, data, where or kind.__name__)


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _decode(hint: Any, data: Any, where: str) -> Any:
    if hint is Any:
        return data
    if dataclasses.is_dataclass(hint):
        return _decode_record(hint, data, where)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _decode_union(typing.get_args(hint), data, where)
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if not any(type(data) is type(choice) and data == choice for choice in allowed):
            raise DecodeError(f"{where}: {data!r} is not one of {', '.join(map(repr, allowed))}")
        return data
    if origin is tuple:
        return _decode_tuple(typing.get_args(hint), data, where)
    if origin is list:
        return list(_decode_tuple((*typing.get_args(hint), Ellipsis), data, where))
    if origin is dict or hint is dict:
        value_hint = typing.get_args(hint)[1] if typing.get_args(hint) else Any
        if not isinstance(data, dict):
            raise DecodeError(f"{where}: expected an object, got {_kind_of(data)}")
        return {str(key): _decode(value_hint, item, f"{where}.{key}") for key, item in data.items()}
    return _decode_scalar(hint, data, where)


def _decode_record(kind: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise DecodeError(f"{where}: expected an object, got {_kind_of(data)}")
    hints = _hints(kind)
    names = {item.name for item in dataclasses.fields(kind)}
    unknown = sorted(key for key in data if key not in names)
    if unknown:
        raise DecodeError(f"{where}: '{unknown[0]}' is not a field of {kind.__name__}")
    values = {}
    for item in dataclasses.fields(kind):
        if item.name in data:
            values[item.name] = _decode(hints[item.name], data[item.name], f"{where}.{item.name}")
            _check_range(item.name, values[item.name], f"{where}.{item.name}")
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise DecodeError(f"{where}: the field '{item.name}' is missing")
    return kind(**values)


# Names say their unit, and the unit says the range: durations, rates, quantities per something,
# cores and memory are never negative (save a peak, counted from a baseline it may fall below); an
# idle fraction lies in [0, 1], a percentage in [0, 100]; an interval's low end is not above its
# high end. A whole number counts something, so it is never negative either (see _decode_scalar),
# and the counts below are at least 1. A precision is a share of its figure, above 0 and at most 1;
# a time per call that was measured is above 0.
_NON_NEGATIVE_SUFFIXES = ("_s", "_ms", "_fraction", "_cores", "_mib")
_AT_LEAST_ONE = frozenset(
    {
        "batch_size",
        "epochs",
        "idle_epochs",
        "processes",
        "workers",
        "cores",
        "window_batches",
        "measured_samples",
        "height",
        "width",
        "channels",
        "source_size",
        "classes",
    }
)
_ABOVE_ZERO = frozenset(
    {
        "timeout_s",
        "time_cap_s",
        "idle_time_cap_s",
        "window_s",
        "work_per_sample_s",
        "alone_s",
        "cumulative_s",
        "rate",  # the machine's reference: every rate is divided by it
        "rates",
        "work_rates",
        # A window holds a batch at least, and a rate over the reference is one rate over another.
        "window_samples_per_s",
        "reference_ratio",
        "reference_ratio_ci",
    }
)
_NOT_EMPTY = frozenset({"stages"})  # a stage breakdown times at least the read
_SHARES = frozenset({"precision", "idle_precision"})
_SEED_HIGH = 2**32 - 1  # numpy's seeds are unsigned 32-bit numbers


def _limits(name: str) -> tuple[float | None, float | None, bool]:
    """The lowest and highest value a field of this name may hold, and whether the lowest is
    excluded."""
    if name in _SHARES:
        return 0.0, 1.0, True
    if name in _ABOVE_ZERO:
        return 0.0, None, True
    if name.startswith("idle_fraction"):
        return 0.0, 1.0, False
    if name.endswith("_percent"):
        return 0.0, 100.0, False
    if name in _AT_LEAST_ONE:
        return 1, None, False
    if name == "seed":
        return 0, _SEED_HIGH, False
    if "_per_" in name or (name.endswith(_NON_NEGATIVE_SUFFIXES) and not name.startswith("peak_")):
        return 0.0, None, False
    return None, None, False


def _check_range(name: str, value: Any, where: str) -> None:
    if name in _NOT_EMPTY and value == ():
        raise DecodeError(f"{where}: expected at least one item, got an empty list")
    numbers = [
        v
        for v in (value if isinstance(value, tuple) else (value,))
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    low_limit, high_limit, open_low = _limits(name)
    for number in numbers:
        if isinstance(number, int) and abs(number) > sys.float_info.max:
            raise DecodeError(f"{where}: a whole number of {_digits(number)} is out of range")
        too_low = low_limit is not None and (
            number <= low_limit if open_low else number < low_limit
        )
        if too_low or (high_limit is not None and number > high_limit):
            raise DecodeError(
                f"{where}: {number:g} is out of range, expected a number "
                f"{_span(low_limit, high_limit, open_low)}"
            )
    if name.endswith("_ci") and len(numbers) == 2 and numbers[0] > numbers[1]:
        raise DecodeError(
            f"{where}: the interval's low end {numbers[0]:g} is above its high end {numbers[1]:g}"
        )


def _digits(number: int) -> str:
    """How long a whole number too large for a float is, without writing it out (Python refuses
    to write out over 4,300 digits)."""
    return f"about {int(abs(number).bit_length() * 0.30103) + 1:,} digits"


def _span(low: float | None, high: float | None, open_low: bool) -> str:
    def shown(limit: float | None) -> str:
        return f"{limit:,}" if isinstance(limit, int) else f"{limit:g}"

    if high is None:
        return f"above {shown(low)}" if open_low else f"of {shown(low)} or more"
    return (
        f"above {shown(low)} and at most {shown(high)}"
        if open_low
        else f"from {shown(low)} to {shown(high)}"
    )


def _decode_union(options: tuple[Any, ...], data: Any, where: str) -> Any:
    if data is None and type(None) in options:
        return None
    errors = []
    for option in (option for option in options if option is not type(None)):
        try:
            return _decode(option, data, where)
        except DecodeError as error:
            errors.append(error)
    raise (
        errors[0]
        if len(errors) == 1
        else DecodeError(f"{where}: {_kind_of(data)} fits none of its types")
    )


def _decode_tuple(arguments: tuple[Any, ...], data: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(data, list):
        raise DecodeError(f"{where}: expected a list, got {_kind_of(data)}")
    if len(arguments) == 2 and arguments[1] is Ellipsis:
        return tuple(
            _decode(arguments[0], item, f"{where}[{index}]") for index, item in enumerate(data)
        )
    if len(data) != len(arguments):
        raise DecodeError(f"{where}: expected {len(arguments)} items, got {len(data)}")
    pairs = enumerate(zip(arguments, data, strict=True))
    return tuple(_decode(hint, item, f"{where}[{index}]") for index, (hint, item) in pairs)


def _decode_scalar(hint: Any, data: Any, where: str) -> Any:
    if hint is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise DecodeError(f"{where}: expected a number, got {_kind_of(data)}")
        try:
            value = float(data)
        except OverflowError:  # an integer beyond any float
            value = math.inf
        if not math.isfinite(value):
            raise DecodeError(f"{where}: expected a finite number, got {str(data)[:40]}")
        return value
    if hint is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise DecodeError(f"{where}: expected a whole number, got {_kind_of(data)}")
        if data < 0:  # a whole number in the results counts something
            raise DecodeError(
                f"{where}: {data} is out of range, expected a whole number of 0 or more"
            )
        return data
    if hint in (str, bool):
        if not isinstance(data, hint):
            raise DecodeError(
                f"{where}: expected {'text' if hint is str else 'true or false'}, got "
                f"{_kind_of(data)}"
            )
        return data
    raise TypeError(f"{where}: no JSON form for {hint!r}")


def _kind_of(data: Any) -> str:
    if data is None:
        return "null"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: f"text {data!r:.40}",
        list: "a list",
        dict: "an object",
    }.get(type(data), type(data).__name__)
