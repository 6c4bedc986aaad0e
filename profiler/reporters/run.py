"""A run's renderings: the terminal table with its notes and pick, and the markdown report.

Both are built from the same cells, notes and closing line, so they never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO

from rich.table import Table
from rich.text import Text

from profiler.reporters.common import (
    Note,
    TerminalReporter,
    ceiling_note,
    data_notes,
    machine_section,
    markdown_answer,
    markdown_notes,
    markdown_plots,
    markdown_table,
    number,
    print_notes,
    rate,
    results_table,
    settings_rows,
    write_report_files,
)
from profiler.reporters.safe import escaped, markdown_text, terminal_text
from profiler.results import (
    DATA_CLOSE,
    DATA_DIFFERS,
    INPUT_BOUND,
    MODERATELY_INPUT_BOUND,
    NOT_INPUT_BOUND,
    Pick,
    RunResult,
    ScenarioResult,
)
from profiler.settings import CONSUMER_KERAS

# As pyperf does: warn when the standard deviation passes 10% of the mean.
NOISY_SPREAD = 0.10

_VERDICT_STYLE = {INPUT_BOUND: "red", MODERATELY_INPUT_BOUND: "yellow"}
# The table's short form of each verdict; the JSON keeps the full words.
_VERDICT_CELL = {INPUT_BOUND: "yes", MODERATELY_INPUT_BOUND: "moderately", NOT_INPUT_BOUND: "no"}

# (header, right-aligned); "\n" marks where the terminal may break a header.
COLUMNS: tuple[tuple[str, bool], ...] = (
    ("Scenario", False),
    ("Input-\nbound", False),
    ("Idle\n±95%", True),
    ("Wait ms\np50/p95", True),
    ("Samples/s\n±95%", True),
    ("Of\nceiling", True),
    ("First batch/\nwarm-up s", True),
    ("Peak MiB\nRSS/PSS", True),
    ("CPU\ns/epoch", True),
    ("Data", False),
)

TABLE_CAPTION = (
    "Idle = wait / (wait + step), steady state, above the fetch floor (the wait for an always-ready "
    "batch), ± the half-width of its 95% interval in points. Rates: the median of flat-out windows "
    "of at least 100 ms, ± the half-width of the median's 95% interval; * the time cap came first. "
    "Memory: peak of the whole process tree above the baseline (after importing TensorFlow). First "
    "batch and warm-up epoch: from the start of building the pipeline. Of ceiling: samples/s over the "
    "most this machine can decode. Data: the delivered samples match the dataset's checksum (close: "
    "pixels one rounding apart)."
)
NO_RECOMMENDATION = "No recommendation: no scenario completed with usable figures."


def table_title(run: RunResult) -> str:
    description = run.data.description if run.data else ""
    reads = ", cold reads" if run.settings.cold else ""
    shuffled = f", shuffle buffer {run.settings.shuffle_buffer:,}" if run.settings.shuffle_buffer else ""
    return (f"Input pipelines feeding a {run.settings.step_name()}: {description}, batch {run.settings.batch_size}"
            f"{shuffled}{reads}")


def markdown_headers(columns: tuple[tuple[str, bool], ...]) -> list[str]:
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
    if width is not None:
        text += f" ±{width * 100:.1f}" + ("*" if result.idle_capped else "")
    return text


def _rate_cell(result: ScenarioResult) -> str:
    """'6,040 ±2%': the median rate and the half-width of its interval; results of format 1 show their
    epoch-to-epoch deviation instead, as they did."""
    if result.rate_half_width is not None:
        return f"{rate(result.samples_per_s)} ±{result.rate_half_width:.0%}" + ("*" if result.rate_capped else "")
    return f"{rate(result.samples_per_s)} {number(result.rate_spread, 'sd {:.0%}')}".rstrip(" -")


def _data_cell(result: ScenarioResult) -> str:
    if result.fingerprint is None:
        return "-"
    status = result.data_status
    return result.fingerprint.short if status is None else {DATA_DIFFERS: "DIFFERS"}.get(status, status)


def notes(run: RunResult) -> list[Note]:
    """What the reader must know beside the table: failures, wrong data, noise, interruption."""
    found = [note for result in run.scenarios for note in _result_notes(result)]
    found += _precision_notes(run)
    consumer = consumer_line(run)
    if consumer:
        found.append(Note(consumer, "info"))
    found += data_notes(run.data, run.settings)
    found += ceiling_note(run.ceiling)
    options_line = tf_data_options_line(run)
    if options_line:
        found.append(Note(options_line, "info"))
    if run.interrupted:
        found.append(Note("Run interrupted: scenarios not listed did not run.", "warning"))
    return found


def _result_notes(result: ScenarioResult) -> list[Note]:
    if not result.ok:
        where = f" (log: {result.log_path})" if result.log_path else ""
        return [Note(f"{result.name}: {result.status}: {result.error}{where}", "error")]
    if result.data_status == DATA_CLOSE:
        return [Note(
            f"{result.name}: same samples, shapes and labels as the dataset; some pixels are one "
            "level (1/255) apart, because its decoder or resize rounds differently from OpenCV's at this size",
            "info",
        )]
    if result.data_status == DATA_DIFFERS:
        return [Note(
            f"{result.name}: delivered different data from the dataset ({_fingerprint_text(result)}): "
            "its figures do not compare",
            "error",
        )]
    return []


def _precision_notes(run: RunResult) -> list[Note]:
    measured = [r for r in run.scenarios if r.ok]
    found = []
    noisy = [f"{r.name} sd {r.rate_spread:.0%}" for r in measured
             if r.rate_half_width is None and r.rate_spread is not None and r.rate_spread > NOISY_SPREAD]
    if noisy:  # results of format 1 carry no interval
        found.append(Note(f"Noisy: batch rates varied from epoch to epoch by more than {NOISY_SPREAD:.0%} for "
                          f"{', '.join(noisy)}. Treat those rates as approximate.", "warning"))
    settings = run.settings
    capped = [f"{r.name} ±{r.rate_half_width:.0%}" for r in measured if r.rate_capped and r.rate_half_width]
    if capped:
        found.append(Note(
            f"Time cap: the flat-out windows of {', '.join(capped)} stopped at --time-cap {settings.time_cap_s:g} s "
            f"before their rate's interval narrowed to ±{settings.precision:.0%}; more --time-cap, or a quieter "
            "machine, narrows it.", "warning"))
    idle_capped = [f"{r.name} ±{r.idle_half_width * 100:.1f}" for r in measured
                   if r.idle_capped and r.idle_half_width is not None]
    if idle_capped:
        found.append(Note(
            f"Time cap: the paced steps of {', '.join(idle_capped)} stopped at --idle-time-cap "
            f"{settings.idle_time_cap_s:g} s "
            f"before their idle interval narrowed to ±{settings.idle_precision * 100:g} points.", "info"))
    floors = [r.fetch_floor_ms for r in measured if r.fetch_floor_ms is not None]
    if floors:
        raw = [r.idle_fraction_raw for r in measured if r.idle_fraction_raw is not None]
        found.append(Note(
            f"Fetch floor: waiting for an always-ready batch behind the same step took {_span(floors, '{:.2f}')} ms "
            f"here, every pipeline pays it; idle is counted above it (before: {_span(raw, '{:.1%}')}).", "info"))
    return found


def _span(values: list[float], pattern: str) -> str:
    low, high = pattern.format(min(values)), pattern.format(max(values))
    return low if low == high else f"{low} to {high}"


def consumer_line(run: RunResult) -> str | None:
    """With a real training step, what each step cost and where it ran, and how busy the GPU was."""
    if run.settings.consumer != CONSUMER_KERAS:
        return None
    measured = [r for r in run.scenarios if r.ok and r.step_p50_ms is not None]
    if not measured:
        return None
    parts = []
    for result in measured:
        text = f"{result.name} {result.step_p50_ms:.1f} ms on {result.step_device or '?'}"
        if result.gpu_utilization_percent is not None:
            text += f", GPU busy {result.gpu_utilization_percent:.0f}%"
        parts.append(text)
    has_gpu = any(r.gpu_utilization_percent is not None for r in measured)
    gpu = "" if has_gpu else " No GPU utilization: no GPU or NVML here."
    return ("Consumer: a small Keras model trained on every batch of the idle epochs; median step: "
            + "; ".join(parts) + "." + gpu)


def options_text(options: Mapping[str, object]) -> str:
    return ", ".join(f"{key}={'on' if value else 'off'}" for key, value in options.items() if key != "explicit")


def tf_data_options_line(run: RunResult) -> str | None:
    """Which tf.data options were in effect, since TensorFlow sets some on its own."""
    groups: dict[str, list[str]] = {}
    for result in run.scenarios:
        if result.ok and result.tf_data_options:
            groups.setdefault(options_text(result.tf_data_options), []).append(result.name)
    if not groups:
        return None
    return "tf.data options in effect: " + "; ".join(f"{', '.join(n)}: {o}" for o, n in groups.items()) + "."


def pick_text(pick: Pick | None) -> tuple[str, str] | None:
    """(name, rest of the closing sentence), or None when nothing can be recommended."""
    if pick is None or pick.name is None:
        return None
    rest = f": {pick.reason}."
    if pick.runner_up:
        rest += f" Runner-up: {pick.runner_up}."
    return pick.name, rest


def _fingerprint_text(result: ScenarioResult) -> str:
    fp = result.fingerprint
    if fp is None:
        return "nothing"
    shape = "x".join(str(n) for n in fp.image_shape)
    return f"{fp.samples} samples of {shape} {fp.image_dtype}, labels {fp.label_dtype}"


class RunTerminalReporter(TerminalReporter):
    """The comparison table, the notes under it and the closing recommendation, via rich."""

    def render(self, run: RunResult) -> None:
        run = escaped(run, terminal_text)
        self.console.print(self.table(run))
        print_notes(self.console, notes(run))
        closing = pick_text(run.recommendation)
        if closing is None:
            self.print_pick(None, NO_RECOMMENDATION, "bold red")
        else:
            self.print_pick(f"Pick {closing[0]}", closing[1], "")

    def table(self, run: RunResult) -> Table:
        table = results_table(table_title(run), TABLE_CAPTION)
        for header, right in COLUMNS:
            # overflow="fold": wrap a figure rather than cut it short with an ellipsis.
            table.add_column(header, justify="right" if right else "left", overflow="fold")
        table.columns[0].no_wrap = True
        for result in run.scenarios:
            cells: list[str | Text] = list(row_cells(result))
            cells[1] = Text(cells[1], style=_verdict_style(result))
            cells[-1] = Text(cells[-1], style="bold red" if result.data_status == DATA_DIFFERS else "green")
            table.add_row(*cells)
        return table


def _verdict_style(result: ScenarioResult) -> str:
    return "bold red" if not result.ok else _VERDICT_STYLE.get(result.verdict or "", "green")


class RunMarkdownReporter:
    """The full report: question, answer, table, notes, plots, scenarios, settings and machine."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def render(self, run: RunResult, plots: Mapping[str, str] | None = None) -> None:
        run = escaped(run, markdown_text)
        write = self.stream.write
        data = run.data.description if run.data else "this data"
        write("# Input pipeline report\n\n")
        write(
            f"**The question:** which way of feeding training data keeps a {run.settings.step_name()} "
            f"busy on this machine, for {data} in batches of {run.settings.batch_size}, and what does "
            "each way cost in memory and CPU?\n\n"
        )
        closing = pick_text(run.recommendation)
        write(markdown_answer(None, NO_RECOMMENDATION) if closing is None else markdown_answer(*closing))
        write(f"## Results\n\n{table_title(run)}.\n\n")
        write(markdown_table(markdown_headers(COLUMNS), [row_cells(r) for r in run.scenarios],
                             [right for _, right in COLUMNS]))
        write(f"\n{TABLE_CAPTION}\n\n")
        found = notes(run)
        write(markdown_notes(found) + ("\n" if found else ""))
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
        write(markdown_table(["Setting", "Value"], rows + settings_rows(run.settings, run.targets), [False, False]))
        write("\n" + machine_section(run.metadata, f"the run of {run.created or 'an unknown time'}"))


def write_run_report(run: RunResult, folder: Path) -> Path:
    """Write the plots and ``report.md`` into ``folder``; return the report's path."""
    from profiler.reporters.plots import write_run_plots  # matplotlib loads only when a report is made

    return write_report_files(
        folder,
        lambda target: write_run_plots(run, target),
        lambda stream, plots: RunMarkdownReporter(stream).render(run, plots),
    )
