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

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MARKDOWN = str.maketrans(
    {"\\": "\\\\", "&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "`": "'"}
)


def terminal_text(text: str) -> str:
    """Control characters (escape sequences, bells, carriage returns) shown as ``\\xNN``; line
    breaks as spaces."""
    return _CONTROL.sub(
        lambda found: " " if found.group() in "\n\t" else f"\\x{ord(found.group()):02x}", text
    )


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
