"""The toolbox every reporter shares in the terminal: console, tables fitted to the width, number
formats and notes (``profiler.reporters.markdown`` holds the report's side)."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from profiler.base.settings import MeasureSettings
from profiler.base.units import significant
from profiler.ceiling.decoder_rates import ARRAYS
from profiler.ceiling.limit import Ceiling
from profiler.results.records import DataRecord, ScenarioResult

# Wide enough for every column when the output is a file or a pipe rather than a terminal.
FILE_WIDTH = 120


class _OutputThatMayGo:
    """A stream whose reader may leave (``| head``, a closed terminal): writes then stop, the run
    goes on.

    A measurement in progress is worth more than the lines nobody reads any more; everything is
    saved to files regardless.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self._stream.write(text)
            except OSError as error:
                if error.errno not in (errno.EPIPE, errno.EIO):
                    raise
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except OSError as error:
                if error.errno not in (errno.EPIPE, errno.EIO):
                    raise
                self.gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def terminal_console(
    stream: IO[str] | None = None, width: int | None = None, color: bool | None = None
) -> Console:
    """A rich console on ``stream``, as wide as the terminal; a file or a pipe (a CI log) gets
    FILE_WIDTH columns unless ``width`` or the COLUMNS variable says otherwise."""
    stream = _OutputThatMayGo(stream or sys.stdout)  # type: ignore[assignment]
    # No markup: a name such as "x[/b]" from a results file is text, not a style tag.
    console = Console(
        file=stream,
        width=width,
        no_color=color is False,
        force_terminal=color,
        highlight=False,
        markup=False,
    )
    if width is None and not console.is_terminal and not _columns_variable():
        console.width = FILE_WIDTH
    return console


def _columns_variable() -> int | None:
    text = os.environ.get("COLUMNS", "")
    return int(text) if text.isdigit() and int(text) > 0 else None


class Column(NamedTuple):
    """A table's column: its header, and whether its figures align right."""

    header: str
    right: bool = False


def fitted_tables(
    console: Console,
    title: str,
    caption: str | None,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str | Text]],
    wrap: Sequence[int] = (),
) -> list[Table | Text]:
    """The table, or, where it is wider than the console, several that each repeat the first column
    (the names) and hold as many of the others, in order, as fit, then the caption across the width.
    Figures never wrap, so none is broken in two; only a long name wraps, within a third of the
    width, and the text columns in ``wrap``, at words, in what the others leave (16 columns at
    least)."""
    groups: list[list[int]] = []
    current: list[int] = []
    for index in range(1, len(columns)):
        trial = _table(
            None, None, columns, rows, [0, *current, index], console.width, wrap, trial=True
        )
        # Measured unbounded: a table's measure is otherwise clamped to the console's width.
        if (
            current
            and console.measure(trial, options=console.options.update_width(1 << 16)).maximum
            > console.width
        ):
            groups.append(current)
            current = []
        current.append(index)
    groups.append(current)
    if len(groups) == 1:
        return [_table(title, caption, columns, rows, [0, *current], console.width, wrap)]
    tables: list[Table | Text] = [
        _table(
            title if number == 0 else None, None, columns, rows, [0, *group], console.width, wrap
        )
        for number, group in enumerate(groups)
    ]
    return tables + ([Text(caption, style="dim italic")] if caption else [])


def _table(
    title: str | None,
    caption: str | None,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str | Text]],
    indexes: list[int],
    width: int,
    wrap: Sequence[int] = (),
    trial: bool = False,
) -> Table:
    table = results_table(title, caption)
    for index in indexes:
        header, right = columns[index]
        if index == 0:
            cap = max(20, width // 3)
            # As wide as the longest name up to the cap: a column that may wrap is otherwise
            # squeezed first.
            longest = max(
                (len(cells[0] if isinstance(cells[0], str) else cells[0].plain) for cells in rows),
                default=len(header),
            )
            table.add_column(
                header,
                overflow="fold",
                max_width=cap,
                min_width=min(max(longest, len(header)), cap),
            )
        elif index in wrap:  # measured at its narrowest; drawn in whatever the other columns leave
            table.add_column(header, overflow="fold", max_width=16 if trial else None)
        else:
            table.add_column(header, justify="right" if right else "left", no_wrap=True)
    for cells in rows:
        table.add_row(*(cells[index] for index in indexes))
    return table


class TerminalReporter:
    """Base of the terminal reporters: a console on a stream, a table style, the closing pick
    line."""

    def __init__(
        self, stream: IO[str] | None = None, width: int | None = None, color: bool | None = None
    ) -> None:
        self.console = terminal_console(stream, width, color)

    def print_pick(self, head: str | None, rest: str, fallback_style: str) -> None:
        """'Pick NAME' in bold green followed by the reason, or, without a pick, ``rest`` alone."""
        if head is None:
            self.console.print(Text(rest, style=fallback_style))
        else:
            self.console.print(Text.assemble((head, "bold green"), rest))


def results_table(title: str | None, caption: str | None = None) -> Table:
    """The compact table style every terminal report uses."""
    return Table(
        title=title,
        caption=caption,
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
        title_justify="left",
        caption_justify="left",
    )


def number(value: float | None, pattern: str = "{:,.1f}") -> str:
    return "-" if value is None else pattern.format(value)


def rate(value: float | None) -> str:
    """Three significant figures are plenty for a rate that varies by 10% between epochs."""
    if value is None:
        return "-"
    return significant(value)


def figure(value: float) -> str:
    """A figure of any size: whole numbers from 100 up, three significant figures below."""
    return significant(value)


@dataclass(frozen=True)
class Note:
    text: str
    severity: str  # "error", "warning" or "info"


_NOTE_STYLES = {"error": "red", "warning": "yellow", "info": "dim"}
_NOTE_LABELS = {"error": "**Error:** ", "warning": "**Note:** ", "info": ""}


def print_notes(console: Console, found: Sequence[Note]) -> None:
    for note in found:
        console.print(Text(note.text, style=_NOTE_STYLES[note.severity]))


def markdown_notes(found: Sequence[Note]) -> str:
    return "".join(f"- {_NOTE_LABELS[note.severity]}{note.text}\n" for note in found)


def ceiling_text(ceiling: Ceiling) -> str:
    how = (
        "reading the stored arrays"
        if ceiling.decoder == ARRAYS
        else f"with the {ceiling.decoder} decoder"
    )
    text = (
        f"{ceiling.samples_per_s:,.0f} samples/s: {ceiling.work_per_sample_s * 1000:.2f} ms of "
        f"work per sample on one core {how}, {ceiling.cores} usable core(s)"
    )
    others = [
        f"{rate.name} {rate.work_per_sample_s * 1000:.2f} ms"
        for rate in ceiling.decoders
        if rate.name != ceiling.decoder
    ]
    if others:
        text += f" (the fastest decoder timed; also {', '.join(others)})"
    if ceiling.read_mb_per_s:
        where = (
            "from disk (dropped from the page cache first)"
            if ceiling.cold
            else "from the page cache, a part of that work"
        )
        text += f"; files read at {ceiling.read_mb_per_s:,.0f} MB/s {where}"
        if ceiling.bound_by == "reading":
            text += ", which bounds it"
    if ceiling.turns:
        text += f"; the decode timed in {ceiling.turns} turns beside the strategies"
        low, high = ceiling.turns_samples_per_s_ci or (0.0, 0.0)
        if low < high:  # older files hold one of zero width, from when a warm read bound it
            text += f" (95%: {low:,.0f} to {high:,.0f} samples/s)"
        elif ceiling.bound_by == "reading":
            text += " (above what the disk allows throughout)"
        if ceiling.alone_samples_per_s is not None:
            text += f", {ceiling.alone_samples_per_s:,.0f} when first timed alone"
    return text


def ceiling_note(ceiling: Ceiling | None) -> list[Note]:
    return (
        []
        if ceiling is None
        else [Note(f"Ceiling for this data on this machine: {ceiling_text(ceiling)}.", "info")]
    )


def data_notes(data: DataRecord | None, settings: MeasureSettings) -> list[Note]:
    """How the data was read and served, and what of a user's data was left out."""
    found = []
    if data is not None and data.skipped_files:
        named = "; ".join(data.skipped_examples)
        more = ", ..." if data.skipped_files > len(data.skipped_examples) else ""
        found.append(
            Note(
                f"Left out by every strategy: {data.skipped_files:,} sample(s) of {data.spec.path} "
                f"that do not decode ({named}{more}); --on-bad-file fail stops at the first "
                "instead.",
                "warning",
            )
        )
    reads = (
        "Cold reads: every file the pipeline reads was dropped from the page cache before each "
        "measured epoch, so reading from disk is in the figures."
        if settings.cold
        else "Warm reads: the data's files were in the page cache after the first epoch; --cold "
        "measures reading them from disk."
    )
    found.append(Note(reads, "info"))
    if settings.shuffle_buffer:
        found.append(
            Note(
                "Shuffled: every built-in strategy's samples went through a shuffle buffer of "
                f"{settings.shuffle_buffer:,} samples (seeded), whose memory is in the peak.",
                "info",
            )
        )
    return found


def took_text(what: str, wall_s: float | None) -> str:
    """ "Tuning took 5 min 26 s.", or nothing where the time is not known."""
    if wall_s is None:
        return ""
    minutes, seconds = divmod(round(wall_s), 60)
    return f"{what} took {minutes} min {seconds} s." if minutes else f"{what} took {seconds} s."


# Other processes keeping this many cores busy or more, on average, are worth a line: the figures
# are then a loaded machine's.
OTHER_LOAD_SHOWN_CORES = 0.25


def load_note(results: Sequence[ScenarioResult], cores: int | None) -> Note | None:
    """One line on the cores other processes kept busy while the rows were measured, where it
    matters."""
    loads = [
        (r.other_busy_cores, r.name) for r in results if r.ok and r.other_busy_cores is not None
    ]
    if not loads:
        return None
    mean = sum(load for load, _ in loads) / len(loads)
    most, name = max(loads)
    if most < OTHER_LOAD_SHOWN_CORES:
        return None
    of = f" of {cores}" if cores else ""
    return Note(
        f"Machine load: other processes kept {mean:.1f}{of} core(s) busy on average while the "
        f"pipelines ran flat out (the most, {most:.1f}, beside {name}): the figures are this "
        "loaded machine's, and a quiet one runs CPU-bound pipelines faster.",
        "warning",
    )
