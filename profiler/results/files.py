"""Results files: versioned JSON written atomically, older versions upgraded on read.

Every record is serialised here and nowhere else. A file carries ``format_version`` and ``kind``
(``run``, ``sweep``, ``tune`` or ``scale``). Version 1 files are upgraded on read
(``profiler.results.upgrade``); a newer version is refused with advice, since its fields cannot be
known. A sweep's, a tuning's and a scale measurement's files are written by their own modules in
``profiler.analysis`` through ``write_json``.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import math
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from profiler.base.codec import DecodeError, decode, encode
from profiler.base.errors import ProfilerError
from profiler.base.moved import left_behind
from profiler.results.records import RunResult
from profiler.results.upgrade import (
    KIND_RUN,
    KIND_SWEEP,
    UpgradeError,
    results_kind,
    update_to_2,
    update_to_3,
)
from profiler.system.whole_file import write_text_whole

FORMAT_VERSION = 3
RESULTS_FILE = "results.json"
SWEEP_FILE = "sweep.json"
_WRITTEN_BY = {
    KIND_RUN: "'profiler run'",
    KIND_SWEEP: "'profiler sweep'",
    "tune": "'profiler tune'",
    "scale": "'profiler scale'",
}


def run_to_json(run: RunResult) -> dict[str, Any]:
    data = {"format_version": FORMAT_VERSION, "kind": KIND_RUN, **encode(run)}
    # Derived values, written for readers of the file; recomputed from the fields on load.
    if run.data is not None:
        data["data"]["description"] = run.data.description
    if run.ceiling is not None:
        data["ceiling"].update(
            samples_per_s=run.ceiling.samples_per_s, bound_by=run.ceiling.bound_by
        )
    for entry, result in zip(data["scenarios"], run.scenarios, strict=True):
        entry["verdict"] = result.verdict
        entry["windows"] = result.windows
    return data


def save_run(run: RunResult, path: Path) -> None:
    write_json(run_to_json(run), path)


class KeepLastGood:
    """A save callback that never raises: a write that fails keeps the last complete file.

    ``problem`` holds the first failure, for the command to report in one line; measuring goes on.
    """

    def __init__(self, save: Callable[[Any, Path], None], path: Path) -> None:
        self.save = save
        self.path = path
        self.problem: str | None = None
        self.written = False

    def __call__(self, result: Any) -> None:
        try:
            self.save(result, self.path)
            self.written = True
        except (OSError, ValueError, TypeError) as error:
            if self.problem is None:
                reason = (
                    error.strerror if isinstance(error, OSError) and error.strerror else str(error)
                )
                kept = (
                    "it holds the last version written"
                    if self.written
                    else "no version of it was written"
                )
                self.problem = (
                    f"could not write '{self.path}' ({reason}); {kept}, and the report below has "
                    "every figure"
                )


def _finite(value: Any) -> Any:
    """JSON has no infinity or NaN: such a figure is written as null (unknown) rather than lose the
    file.

    In a list of figures it is left out, and an interval (a pair) holding one becomes null, so the
    file reads back.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        bad = [item for item in value if isinstance(item, float) and not math.isfinite(item)]
        if bad and len(value) == 2:
            return None
        return [
            _finite(item)
            for item in value
            if not (isinstance(item, float) and not math.isfinite(item))
        ]
    return value


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write atomically, so a crash or Ctrl-C mid-write never leaves a truncated file."""
    write_text_whole(Path(path), json.dumps(_finite(data), indent=2, allow_nan=False) + "\n")


# Results files nest a few levels (a run, its scenarios, their records); a file deeper than this
# is refused before anything reads it recursively.
MAX_DEPTH = 32


def _depth(data: Any) -> int:
    """How deep lists and objects nest in ``data``, counted without recursion."""
    deepest, pending = 0, [(data, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            values = item.values() if isinstance(item, dict) else item
            pending.extend((value, depth + 1) for value in values)
    return deepest


def _regular_file_text(path: Path) -> str:
    """The text of a file; a FIFO, a socket or a device is refused before it is opened: reading a
    FIFO waits for a writer that may never come, and /dev/zero never ends."""
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = stat.S_IFREG  # gone, or out of reach: reading it says which
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise OSError(errno.EINVAL, "not a regular file")
    return path.read_text()


def read_results_json(path: Path) -> dict[str, Any]:
    """The parsed JSON of a results file, upgraded to this format version, refusing anything else
    with advice."""
    deep = False
    try:
        data = json.loads(_regular_file_text(Path(path)))
    except OSError as error:
        raise ProfilerError(f"cannot read results file '{path}': {error.strerror}") from None
    except ValueError as error:
        raise ProfilerError(
            f"'{path}' is not valid JSON ({error}): pass a results.json written by 'profiler run'"
        ) from None
    except RecursionError:
        data, deep = None, True  # nested past the parser's stack: deeper than any results file
    if deep or _depth(data) > MAX_DEPTH:
        raise ProfilerError(
            f"'{path}' is nested deeper than any results file ({MAX_DEPTH} levels): pass a "
            "results.json written by 'profiler run'"
        )
    if not isinstance(data, dict) or "format_version" not in data:
        raise ProfilerError(
            f"'{path}' has no format_version: pass a results.json written by 'profiler run'"
        )
    version = data["format_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProfilerError(
            f"'{path}' has format_version {version!r}, not a whole number: pass an unmodified "
            "results file"
        )
    if version == 1:
        try:
            data, version = update_to_2(data), 2
        except UpgradeError as error:
            raise ProfilerError(
                f"'{path}' is malformed ({error}): pass an unmodified results file"
            ) from None
    if version == 2:
        data, version = update_to_3(data), 3
    if version != FORMAT_VERSION:
        raise ProfilerError(
            f"'{path}' is results format version {version}, this profiler reads versions 1 to "
            f"{FORMAT_VERSION}: use the profiler version that wrote it, or re-run with this one"
        )
    return data


def load_run(path: Path) -> RunResult:
    """Read a run's results file, refusing one of another kind, an unknown version or a malformed
    one."""
    data = read_results_json(path)
    expect_kind(data, KIND_RUN, path, "a results.json written by 'profiler run'")
    return decoded(RunResult, run_fields(data), path)


# The keys run_to_json and sweep_to_json add for readers: dropped on load, since they are derived.
_DERIVED_RUN = ("format_version", "kind")
_DERIVED_CEILING = ("samples_per_s", "bound_by")
_DERIVED_SCENARIO = ("verdict", "windows")


def run_fields(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    fields = {key: value for key, value in data.items() if key not in _DERIVED_RUN}
    if isinstance(fields.get("data"), dict):
        fields["data"] = {
            key: value for key, value in fields["data"].items() if key != "description"
        }
    fields["ceiling"] = ceiling_fields(fields.get("ceiling"))
    if isinstance(fields.get("scenarios"), list):
        fields["scenarios"] = [
            {key: value for key, value in entry.items() if key not in _DERIVED_SCENARIO}
            if isinstance(entry, dict)
            else entry
            for entry in fields["scenarios"]
        ]
    return fields


def ceiling_fields(ceiling: Any) -> Any:
    if not isinstance(ceiling, dict):
        return ceiling
    return {key: value for key, value in ceiling.items() if key not in _DERIVED_CEILING}


def expect_kind(data: dict[str, Any], kind: str, path: Path, wanted: str) -> None:
    found = results_kind(data)
    if found != kind:
        raise ProfilerError(
            f"'{path}' has kind '{found}', written by {_WRITTEN_BY.get(found, 'no command')}, not "
            f"{_WRITTEN_BY[kind]}: pass {wanted}"
        )


def decoded(kind: type[Any], data: dict[str, Any], path: Path) -> Any:
    try:
        return decode(kind, data, "results")
    except DecodeError as error:
        raise ProfilerError(
            f"'{path}' is malformed ({error}): pass an unmodified results file"
        ) from None


def now() -> str:
    """The local time with its offset, as results files record when they were made."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


@contextlib.contextmanager
def new_run_folder(output: Path) -> Iterator[Path]:
    """A new folder under ``output`` named by date and time, removed again if it is left empty."""
    folder = _create_run_folder(output)
    try:
        yield folder
    finally:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds while nothing was written: a bad start leaves no trace


def _create_run_folder(output: Path) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        output.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 100):
            candidate = output / (stamp if attempt == 1 else f"{stamp}-{attempt}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            probe = candidate / ".write-test"
            probe.write_text("ok")
            probe.unlink()
            return candidate
    except OSError as error:
        reason = error.strerror or str(error)
        raise ProfilerError(
            f"cannot write to output folder '{output}' ({reason}): pass --output with a writable "
            "folder"
        ) from None
    raise ProfilerError(
        f"output folder '{output}' has too many runs for {stamp}: pass another --output"
    )


# Names that lived here in 0.2 and moved since, still found (with a DeprecationWarning).
__getattr__ = left_behind(__name__)
