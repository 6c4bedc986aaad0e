"""Text from results is data, not markup: escaped for the terminal and for markdown before it is
shown.

Names, errors and descriptions come from the user's modules and from results files anyone may have
edited. Raw, a name could move the terminal's cursor or retitle its window (escape sequences), or
inject links, images and HTML into a report or a pull-request comment. Every string of a record is
mapped once, at the reporter's door; well-formed names come through unchanged.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# Control characters; the marks that reorder or break the lines a terminal shows (bidirectional
# overrides and isolates, line and paragraph separators); and lone surrogates, which no file or
# terminal can encode: a byte of a path or argument that was not UTF-8 arrives as one.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_MARKDOWN = str.maketrans(
    {"\\": "\\\\", "&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "`": "'"}
)


def terminal_text(text: str) -> str:
    """Control characters (escape sequences, bells, carriage returns) shown as ``\\xNN``, the byte
    a lone surrogate stands for as the same, other marks as ``\\uNNNN``; line breaks as spaces."""
    return _CONTROL.sub(lambda found: _shown(found.group()), text)


# A word longer than this (an argument pasted whole, a path past any file system's limit) is shown
# by its ends and its length, so that an error that quotes it stays one short line.
LONGEST_WORD = 160
_LONG_WORD = re.compile(rf"\S{{{LONGEST_WORD + 1},}}")


def shortened(text: str) -> str:
    """``text`` with every word over LONGEST_WORD characters cut to its first 100 and last 40."""
    return _LONG_WORD.sub(lambda found: _cut(found.group()), text)


def _cut(word: str) -> str:
    return f"{word[:100]}...({len(word):,} characters)...{word[-40:]}"


def _shown(character: str) -> str:
    code = ord(character)
    if character in "\n\t":
        return " "
    if 0xDC80 <= code <= 0xDCFF:  # Python's stand-in for a byte that did not decode
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def markdown_text(text: str) -> str:
    """As ``terminal_text``, and no HTML, links, images or broken code spans."""
    return terminal_text(text).translate(_MARKDOWN)


def escaped(record: T, escape: Callable[[str], str]) -> T:
    """``record`` with ``escape`` applied to every string in it, however deep (dataclasses, tuples,
    dicts)."""
    return _map(record, escape)  # type: ignore[no-any-return]


def _map(value: Any, escape: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return escape(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            item.name: _map(getattr(value, item.name), escape)
            for item in dataclasses.fields(value)
            if item.init
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(_map(item, escape) for item in value)
    if isinstance(value, list):
        return [_map(item, escape) for item in value]
    if isinstance(value, dict):
        return {_map(key, escape): _map(item, escape) for key, item in value.items()}
    return value
