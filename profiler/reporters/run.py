"""A run's renderings: the terminal table with its notes and pick, and the markdown report.

Both are built from the same cells, notes and closing line, so they never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from rich.table import Table
from rich.text import Text

from profiler.analysis.recommend import WIDE_RATE_INTERVAL, too_wide
from profiler.reporters.advice import picked, script_caveat, script_reads, snippet_script
from profiler.reporters.common import (
    Column,
    TerminalReporter,
    fitted_tables,
    markdown_notes,
    number,
    print_notes,
    rate,
)
from profiler.reporters.markdown import (
    machine_section,
    markdown_answer,
    markdown_plots,
    markdown_table,
    settings_rows,
    write_report_files,
)
from profiler.reporters.run_notes import notes, options_text
from profiler.reporters.safe import escaped, markdown_text, terminal_text
from profiler.reporters.stages import stages_markdown
from profiler.results.records import (
    DATA_DIFFERS,
    INPUT_BOUND,
    MODERATELY_INPUT_BOUND,
    NOT_INPUT_BOUND,
    Pick,
    RunResult,
    ScenarioResult,
)

_VERDICT_STYLE = {INPUT_BOUND: "red", MODERATELY_INPUT_BOUND: "yellow"}
# The table's short form of each verdict; the JSON keeps the full words.
_VERDICT_CELL = {INPUT_BOUND: "yes", MODERATELY_INPUT_BOUND: "moderately", NOT_INPUT_BOUND: "no"}

# (header, right-aligned); "\n" marks where the terminal may break a header.
COLUMNS: tuple[Column, ...] = (
    Column("Scenario"),
    Column("Input-\nbound"),
    Column("Idle\n±95%", right=True),
    Column("Wait ms\np50/p95", right=True),
    Column("Samples/s\n±95%", right=True),
    Column("Of\nceiling", right=True),
    Column("First batch/\nwarm-up s", right=True),
    Column("Peak MiB\nRSS/PSS", right=True),
    Column("CPU\ns/epoch", right=True),
    Column("Data"),
)

TABLE_CAPTION = (
    "Idle = wait / (wait + step), steady state, above the fetch floor (the wait for an "
    "always-ready batch), ± the half-width of its 95% interval in points. Rates: the median of "
    "flat-out windows of at least 100 ms, ± the half-width of the median's 95% interval; * the "
    "time cap came first. Memory: peak of the whole process tree above the baseline (after "
    "importing TensorFlow). First batch and warm-up epoch: from the start of building the "
    "pipeline. Of ceiling: samples/s over the most this machine can decode. Data: the delivered "
    "samples match the dataset's checksum (close: pixels one rounding apart)."
)
# Results of format 1 carry no intervals, but the spread of their epochs.
FORMAT_1_CAPTION = (
    "Rows without an interval (results format 1): sd, the epoch-to-epoch standard deviation of "
    "the rate, in its place."
)


def table_columns(results: Sequence[ScenarioResult]) -> tuple[Column, ...]:
    """COLUMNS, headed "±95%" only where some row shows an interval (format 1 shows an sd)."""
    if any(r.rate_half_width is not None for r in results) or not _without_interval(results):
        return COLUMNS
    columns = list(COLUMNS)
    columns[2], columns[4] = Column("Idle", right=True), Column("Samples/s\nsd", right=True)
    return tuple(columns)


def table_caption(results: Sequence[ScenarioResult]) -> str:
    caption = TABLE_CAPTION + (f" {FORMAT_1_CAPTION}" if _without_interval(results) else "")
    if any(r.ok and too_wide(r) for r in results):
        caption += (
            f" ! an interval wider than ±{WIDE_RATE_INTERVAL:.0%}: too wide to rank, the row is "
            "left out of the pick."
        )
    return caption


def _without_interval(results: Sequence[ScenarioResult]) -> bool:
    return any(r.rate_half_width is None and r.rate_spread is not None for r in results)


NO_RECOMMENDATION = "No recommendation: no scenario completed with usable figures."


def data_description(run: RunResult) -> str:
    """The data the rows delivered: the dataset's, or, with pipelines alone, what their own batches
    held."""
    if run.data is not None:
        return run.data.description
    delivered = [
        r for r in run.scenarios if r.ok and r.delivered is not None and r.fingerprint is not None
    ]
    kinds = {r.delivered for r in delivered}
    if len(kinds) == 1:
        fp = delivered[0].fingerprint
        assert fp is not None
        counts = {r.fingerprint.samples for r in delivered if r.fingerprint is not None}
        count = f"{fp.samples:,}" if len(counts) == 1 else f"{min(counts):,} to {max(counts):,}"
        return f"{count} samples of {fp.sample_kind} an epoch, as delivered"
    if kinds:
        return "data as each pipeline delivered it (see the Data column)"
    return "data as each pipeline delivers it"


def _batch_text(run: RunResult) -> str:
    if run.data is not None:
        return f", batch {run.settings.batch_size}"
    sizes = {
        -(-r.fingerprint.samples // r.fingerprint.batches)
        for r in run.scenarios
        if r.ok and r.fingerprint is not None and r.fingerprint.batches
    }
    return f", batch {sizes.pop()}" if len(sizes) == 1 else ""


def table_title(run: RunResult) -> str:
    description = data_description(run)
    reads = ", cold reads" if run.settings.cold else ""
    shuffled = (
        f", shuffle buffer {run.settings.shuffle_buffer:,}" if run.settings.shuffle_buffer else ""
    )
    return (
        f"Input pipelines feeding a {run.settings.step_name()}: "
        f"{description}{_batch_text(run)}{shuffled}{reads}"
    )


def markdown_headers(columns: tuple[Column, ...]) -> list[str]:
    return [header.replace("-\n", "-").replace("\n", " ") for header, _ in columns]


def row_cells(result: ScenarioResult) -> list[str]:
    """One table row as plain text, in COLUMNS order."""
    if not result.ok:
        return [result.name, result.status] + ["-"] * (len(COLUMNS) - 2)
    gpu = result.gpu_utilization_percent
    return [
        result.name,
        _VERDICT_CELL.get(result.verdict or "", "-"),
        _idle_cell(result) + ("" if gpu is None else f" (GPU {gpu:.0f}%)"),
        f"{number(result.wait_p50_ms)}/{number(result.wait_p95_ms)}",
        _rate_cell(result),
        number(result.ceiling_fraction, "{:.0%}"),
        f"{number(result.first_batch_s, '{:.2f}')}/{number(result.warmup_epoch_s, '{:.2f}')}",
        f"{number(result.peak_rss_mib, '{:+,.0f}')}/{number(result.peak_pss_mib, '{:+,.0f}')}",
        number(result.cpu_s, "{:.2f}"),
        _data_cell(result),
    ]


def _idle_cell(result: ScenarioResult) -> str:
    """'3.2% ±0.4', or, for results without an interval, the figure alone."""
    text = number(result.idle_fraction, "{:.1%}")
    width = result.idle_half_width
    if result.idle_interval_unknown:
        text += " ±?"
    elif width is not None:
        text += f" ±{width * 100:.1f}" + ("*" if result.idle_capped else "")
    return text


def _rate_cell(result: ScenarioResult) -> str:
    """'6,040 ±2%': the median rate and the half-width of its interval; results of format 1 show
    their epoch-to-epoch deviation instead, as they did."""
    if result.rate_half_width is not None:
        marks = ("*" if result.rate_capped else "") + ("!" if too_wide(result) else "")
        return f"{rate(result.samples_per_s)} ±{result.rate_half_width:.0%}{marks}"
    return f"{rate(result.samples_per_s)} {number(result.rate_spread, 'sd {:.0%}')}".rstrip(" -")


def _data_cell(result: ScenarioResult) -> str:
    if result.fingerprint is None:
        return "-"
    status = result.data_status
    if status is None:  # a user's pipeline: what it delivered, which nothing checks
        return result.delivered or "none"
    return {DATA_DIFFERS: "DIFFERS"}.get(status, status)


def no_pick_text(pick: Pick | None) -> str:
    """Why nothing is picked."""
    if pick is None or not pick.reason:
        return NO_RECOMMENDATION
    return f"No recommendation: {pick.reason}."


def pick_text(pick: Pick | None) -> tuple[str, str] | None:
    """(name, rest of the closing sentence), or None when nothing can be recommended."""
    if pick is None or pick.name is None:
        return None
    rest = f": {pick.reason}."
    if pick.runner_up:
        rest += f" Runner-up: {pick.runner_up}."
    if pick.not_compared:
        verb = "is" if len(pick.not_compared) == 1 else "are"
        rest += (
            f" Ranked among the rows that delivered {pick.compared_on}; "
            f"{', '.join(pick.not_compared)} delivered other data and {verb} not ranked."
        )
    if pick.too_wide:
        rest += (
            f" Not ranked: {', '.join(pick.too_wide)}, whose rate's 95% interval is wider than "
            f"±{WIDE_RATE_INTERVAL:.0%}."
        )
    return pick.name, rest


class RunTerminalReporter(TerminalReporter):
    """The comparison table, the notes under it and the closing recommendation, via rich."""

    def render(self, run: RunResult) -> None:
        chosen = picked(run)
        # Code keeps its lines: each is escaped on its own (escaping the record would join them).
        code = (
            "\n".join(terminal_text(line) for line in chosen.snippet.rstrip().splitlines())
            if chosen
            else ""
        )
        run = escaped(run, terminal_text)
        for table in self.tables(run):
            self.console.print(table)
        print_notes(self.console, notes(run))
        closing = pick_text(run.recommendation)
        if closing is None:
            self.print_pick(None, no_pick_text(run.recommendation), "bold red")
        else:
            self.print_pick(f"Pick {closing[0]}", closing[1], "")
            if code:
                self.console.print(
                    Text(
                        "Code: the pick on your own files (the whole script is in the report):",
                        style="bold",
                    )
                )
                self.console.print(Text(code, style="cyan"), soft_wrap=True)
                caveat = script_caveat(run)
                if caveat:
                    self.console.print(Text(caveat, style="dim"))

    def tables(self, run: RunResult) -> list[Table | Text]:
        """The comparison, split into tables that fit the console where it is narrow."""
        rows = []
        for result in run.scenarios:
            cells: list[str | Text] = list(row_cells(result))
            cells[1] = Text(cells[1], style=_verdict_style(result))
            cells[-1] = Text(
                cells[-1], style="bold red" if result.data_status == DATA_DIFFERS else "green"
            )
            rows.append(cells)
        columns, caption = table_columns(run.scenarios), table_caption(run.scenarios)
        return fitted_tables(self.console, table_title(run), caption, columns, rows)


def _verdict_style(result: ScenarioResult) -> str:
    return "bold red" if not result.ok else _VERDICT_STYLE.get(result.verdict or "", "green")


class RunMarkdownReporter:
    """The full report: question, answer, table, notes, plots, scenarios, settings and machine."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def render(self, run: RunResult, plots: Mapping[str, str] | None = None) -> None:
        script = snippet_script(run)  # code goes in a fence as it is, not escaped as text
        run = escaped(run, markdown_text)
        write = self.stream.write
        data = data_description(run)
        write("# Input pipeline report\n\n")
        write(
            "**The question:** which way of feeding training data keeps a "
            f"{run.settings.step_name()} busy on this machine, for {data} in batches of "
            f"{run.settings.batch_size}, and what does each way cost in memory and CPU?\n\n"
        )
        closing = pick_text(run.recommendation)
        write(
            markdown_answer(None, no_pick_text(run.recommendation))
            if closing is None
            else markdown_answer(*closing)
        )
        write(f"## Results\n\n{table_title(run)}.\n\n")
        columns = table_columns(run.scenarios)
        write(
            markdown_table(
                markdown_headers(columns),
                [row_cells(r) for r in run.scenarios],
                [right for _, right in columns],
            )
        )
        write(f"\n{table_caption(run.scenarios)}\n\n")
        found = notes(run)
        write(markdown_notes(found) + ("\n" if found else ""))
        if run.ceiling is not None and run.ceiling.stages is not None:
            write("## Where one sample's time goes\n\n" + stages_markdown(run.ceiling.stages))
        if script is not None:
            fence = "`" * max(
                3, 1 + max((len(run_) for run_ in re.findall("`+", script)), default=0)
            )
            write(
                f"## The code\n\nThe pick, built on {script_reads(run)}:"
                f"\n\n{fence}python\n{script}{fence}\n\n"
            )
            caveat = script_caveat(run)
            if caveat:
                write(f"{caveat}\n\n")
        write(markdown_plots(plots))
        write("## The scenarios\n\n")
        for result in run.scenarios:
            text = result.description or result.summary or "No description stored"
            write(f"### `{result.name}`\n\n{text if text.endswith('.') else text + '.'}")
            if result.tf_data_options:
                write(f" In effect: {options_text(result.tf_data_options)}.")
            write("\n\n")
        write("## The run\n\n")
        rows = [["data", data], ["seed", str(run.data.spec.seed) if run.data else "-"]]
        write(
            markdown_table(
                ["Setting", "Value"],
                rows + settings_rows(run.settings, run.targets),
                [False, False],
            )
        )
        write(
            "\n" + machine_section(run.metadata, f"the run of {run.created or 'an unknown time'}")
        )


def write_run_report(run: RunResult, folder: Path) -> Path:
    """Write the plots and ``report.md`` into ``folder``; return the report's path."""
    # matplotlib loads only when a report is made
    from profiler.reporters.plots import write_run_plots

    return write_report_files(
        folder,
        lambda target: write_run_plots(run, target),
        lambda stream, plots: RunMarkdownReporter(stream).render(run, plots),
    )
