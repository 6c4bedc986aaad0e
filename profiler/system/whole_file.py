"""A file written whole or not at all: results.json, report.md, a comparison's markdown."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_whole(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then swap it in: a crash or Ctrl-C
    half-way never replaces a good file with a torn one."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; these files are meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
