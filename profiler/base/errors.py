"""Errors that end a command with a message for the user and an exit code."""

from __future__ import annotations

import re

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class ProfilerError(Exception):
    """A problem the user can fix. The message names the problem and the fix, on one line."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


_NODE_NAME = re.compile(r"\{\{function_node [^}]*\}\}")
_EMPTY_NAME = re.compile(r"\s+name:\s*$")  # eager ops end with the name of an op that has none


def error_summary(error: BaseException) -> str:
    """One line for the table's note: TensorFlow opens its errors with the graph node's name,
    which says nothing to a user."""
    text = _NODE_NAME.sub("", str(error)).strip()
    line = f"{type(error).__name__}: {text}".splitlines()[0]
    return _EMPTY_NAME.sub("", line)[:300]
