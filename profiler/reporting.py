"""Reporters: each takes a RunResult and a stream and writes one rendering of it.

The terminal table and the markdown report are built from the same cells, notes and closing line,
so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from profiler.ceiling import Ceiling
from profiler.results import (
    INPUT_BOUND,
    MODERATELY_INPUT_BOUND,
    NOT_INPUT_BOUND,
    RunResult,
    ScenarioResult,
    step_name,
)

# As pyperf does: warn when the standard deviation passes 10% of the mean.
NOISY_SPREAD = 0.10
# Wide enough for every column when the output is a file or a pipe rather than a terminal.
FILE_WIDTH = 120

_VERDICT_STYLE = {INPUT_BOUND: "red", MODERATELY_INPUT_BOUND: "yellow"}
# The table's short form of each verdict; the JSON keeps the full words.
_VERDICT_CELL = {INPUT_BOUND: "yes", MODERATELY_INPUT_BOUND: "moderately", NOT_INPUT_BOUND: "no"}

# (header, right-aligned); "\n" marks where the terminal may break a header.
COLUMNS: tuple[tuple[str, bool], ...] = (
    ("Scenario", False),
    ("Input-\nbound", False),
    ("Idle", True),
    ("Wait ms\np50/p95", True),
    ("Batches/s\n±std", True),
    ("Samples/s", True),
    ("Of\nceiling", True),
    ("First batch/\nwarm-up s", True),
    ("Peak MiB\nRSS/PSS", True),
    ("CPU\ns/epoch", True),
    ("Data", False),
)

TABLE_CAPTION = (
    "Idle = wait / (wait + step), steady state. Rates: median of flat-out epochs, ± their standard "
    "deviation. Memory: peak of the whole process tree above the baseline (after importing "
    "TensorFlow). First batch and warm-up epoch: from the start of building the pipeline. Of ceiling: "
    "samples/s over the most this machine can decode. Data: the delivered samples match the dataset's "
    "checksum (close: pixels one rounding apart)."
)


def number(value: float | None, pattern: str = "{:,.1f}") -> str:
    return "-" if value is None else pattern.format(value)


def rate(value: float | None) -> str:
    """Three significant figures are plenty for a rate that varies by 10% between epochs."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def table_title(run: RunResult) -> str:
    return (
        f"Input pipelines feeding a {step_name(run.options)}: "
        f"{run.data.get('description', '')}, batch {run.options.get('batch_size')}"
    )


def row_cells(result: ScenarioResult) -> list[str]:
    """One table row as plain text, in COLUMNS order."""
    if not result.ok:
        return [result.name, result.status] + ["-"] * (len(COLUMNS) - 2)
    return [
        result.name,
        _VERDICT_CELL.get(result.verdict or "", "-"),
        number(result.idle_fraction, "{:.1%}")
        + ("" if result.gpu_utilization is None else f" (GPU {result.gpu_utilization:.0f}%)"),
        f"{number(result.wait_p50_ms)}/{number(result.wait_p95_ms)}",
        f"{rate(result.batches_per_s)} {number(result.rate_spread, '±{:.0%}')}",
        rate(result.samples_per_s),
        number(result.ceiling_fraction, "{:.0%}"),
        f"{number(result.first_batch_s, '{:.2f}')}/{number(result.warmup_epoch_s, '{:.2f}')}",
        f"{number(result.peak_rss_mb, '{:+,.0f}')}/{number(result.peak_pss_mb, '{:+,.0f}')}",
        number(result.cpu_s, "{:.2f}"),
        _data_cell(result),
    ]


def _data_cell(result: ScenarioResult) -> str:
    if result.fingerprint is None:
        return "-"
    status = result.data_status
    if status is None:
        return result.fingerprint.short
    return {"same": "same", "close": "close", "differs": "DIFFERS"}[status]


@dataclass(frozen=True)
class Note:
    text: str
    severity: str  # "error", "warning" or "info"


def notes(run: RunResult) -> list[Note]:
    """What the reader must know beside the table: failures, wrong data, noise, interruption."""
    found = []
    for result in run.scenarios:
        if not result.ok:
            where = f" (log: {result.log_path})" if result.log_path else ""
            found.append(Note(f"{result.name}: {result.status}: {result.error}{where}", "error"))
        elif result.data_status == "close":
            found.append(
                Note(
                    f"{result.name}: same samples, shapes and labels as the dataset; some pixels are one "
                    "level (1/255) apart, because its decoder or resize rounds differently from OpenCV's "
                    "at this size",
                    "info",
                )
            )
        elif result.data_status == "differs":
            found.append(
                Note(
                    f"{result.name}: delivered different data from the dataset "
                    f"({_fingerprint_text(result)}): its figures do not compare",
                    "error",
                )
            )
    noisy = [
        f"{r.name} ±{r.rate_spread:.0%}"
        for r in run.scenarios
        if r.ok and r.rate_spread is not None and r.rate_spread > NOISY_SPREAD
    ]
    if noisy:
        found.append(
            Note(
                f"Noisy: batch rates varied from epoch to epoch by more than {NOISY_SPREAD:.0%} for "
                f"{', '.join(noisy)}. Treat those rates as approximate; more --epochs or --samples, "
                "or a quieter machine, help.",
                "warning",
            )
        )
    consumer = consumer_line(run)
    if consumer:
        found.append(Note(consumer, "info"))
    if run.ceiling:
        found.append(Note(ceiling_line(run.ceiling), "info"))
    options_line = tf_data_options_line(run)
    if options_line:
        found.append(Note(options_line, "info"))
    if run.interrupted:
        found.append(Note("Run interrupted: scenarios not listed did not run.", "warning"))
    return found


def consumer_line(run: RunResult) -> str | None:
    """With a real training step, what each step cost and where it ran, and how busy the GPU was."""
    if run.options.get("consumer") != "keras":
        return None
    measured = [r for r in run.scenarios if r.ok and r.step_p50_ms is not None]
    if not measured:
        return None
    parts = []
    for result in measured:
        text = f"{result.name} {result.step_p50_ms:.1f} ms on {result.step_device or '?'}"
        if result.gpu_utilization is not None:
            text += f", GPU busy {result.gpu_utilization:.0f}%"
        parts.append(text)
    gpu = "" if any(r.gpu_utilization is not None for r in measured) else " No GPU utilization: no GPU or NVML here."
    return ("Consumer: a small Keras model trained on every batch of the idle epochs; median step: "
            + "; ".join(parts) + "." + gpu)


def ceiling_line(ceiling: Mapping[str, object]) -> str:
    return f"Ceiling for this data on this machine: {Ceiling.from_dict(dict(ceiling)).describe()}."


def _options_text(options: Mapping[str, object]) -> str:
    return ", ".join(f"{key}={'on' if value else 'off'}" for key, value in options.items() if key != "explicit")


def tf_data_options_line(run: RunResult) -> str | None:
    """Which tf.data options were in effect, since TensorFlow sets some on its own."""
    measured = [r for r in run.scenarios if r.ok and r.tf_data_options]
    if not measured:
        return None
    groups: dict[str, list[str]] = {}
    for result in measured:
        groups.setdefault(_options_text(result.tf_data_options), []).append(result.name)
    parts = [f"{', '.join(names)}: {options}" for options, names in groups.items()]
    return "tf.data options in effect: " + "; ".join(parts) + "."


def recommendation_text(run: RunResult) -> tuple[str, str] | None:
    """(name, rest of the sentence) of the closing line, or None when nothing can be recommended."""
    recommendation = run.recommendation
    if not recommendation:
        return None
    rest = f": {recommendation['reason']}."
    if recommendation.get("runner_up"):
        rest += f" Runner-up: {recommendation['runner_up']}."
    return recommendation["name"], rest


NO_RECOMMENDATION = "No recommendation: no scenario completed with usable figures."


def _fingerprint_text(result: ScenarioResult) -> str:
    fp = result.fingerprint
    if fp is None:
        return "nothing"
    shape = "x".join(str(n) for n in fp.image_shape)
    return f"{fp.samples} samples of {shape} {fp.image_dtype}, labels {fp.label_dtype}"


def terminal_console(stream: IO[str] | None, width: int | None, color: bool | None) -> Console:
    """A rich console on ``stream``; a file or a pipe gets FILE_WIDTH columns unless ``width`` says."""
    console = Console(file=stream, width=width, no_color=color is False, force_terminal=color, highlight=False)
    if width is None and not console.is_terminal:
        console.width = FILE_WIDTH
    return console


_NOTE_STYLES = {"error": "red", "warning": "yellow", "info": "dim"}


def print_notes(console: Console, found: list[Note]) -> None:
    for note in found:
        console.print(Text(note.text, style=_NOTE_STYLES[note.severity]))


class TerminalReporter:
    """The comparison table, the notes under it and the closing recommendation, via rich."""

    def __init__(self, stream: IO[str] | None = None, width: int | None = None, color: bool | None = None) -> None:
        self.console = terminal_console(stream, width, color)

    def render(self, run: RunResult) -> None:
        self.console.print(self.table(run))
        print_notes(self.console, notes(run))
        closing = recommendation_text(run)
        if closing is None:
            self.console.print(Text(NO_RECOMMENDATION, style="bold red"))
        else:
            self.console.print(Text.assemble((f"Pick {closing[0]}", "bold green"), closing[1]))

    def table(self, run: RunResult) -> Table:
        table = Table(
            title=table_title(run),
            caption=TABLE_CAPTION,
            box=box.SIMPLE_HEAD,
            collapse_padding=True,
            pad_edge=False,
            title_justify="left",
            caption_justify="left",
        )
        for header, right in COLUMNS:
            # overflow="fold": wrap a figure rather than cut it short with an ellipsis.
            table.add_column(header, justify="right" if right else "left", overflow="fold")
        table.columns[0].no_wrap = True
        for result in run.scenarios:
            cells: list[str | Text] = list(row_cells(result))
            cells[1] = Text(cells[1], style=self._verdict_style(result))
            cells[-1] = Text(cells[-1], style="bold red" if result.data_status == "differs" else "green")
            table.add_row(*cells)
        return table

    @staticmethod
    def _verdict_style(result: ScenarioResult) -> str:
        if not result.ok:
            return "bold red"
        return _VERDICT_STYLE.get(result.verdict or "", "green")


class MarkdownReporter:
    """The full report: question, answer, options, machine, table, plots and what each scenario does."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def render(self, run: RunResult, plots: Mapping[str, str] | None = None) -> None:
        """``plots`` maps a plot's caption to its path relative to the report."""
        write = self.stream.write
        options, data = run.options, run.data
        write("# Input pipeline report\n\n")
        write(
            f"**The question:** which way of feeding training data keeps a {step_name(options)} "
            f"busy on this machine, for {data.get('description', 'this data')} in batches of "
            f"{options.get('batch_size')}, and what does each way cost in memory and CPU?\n\n"
        )
        closing = recommendation_text(run)
        write(markdown_answer(None, NO_RECOMMENDATION) if closing is None else markdown_answer(*closing))
        write("## Results\n\n")
        write(f"{table_title(run)}.\n\n")
        write(markdown_table([header.replace("-\n", "-").replace("\n", " ") for header, _ in COLUMNS],
                             [row_cells(r) for r in run.scenarios],
                             [right for _, right in COLUMNS]))
        write(f"\n{TABLE_CAPTION}\n\n")
        labels = {"error": "**Error:** ", "warning": "**Note:** ", "info": ""}
        found = notes(run)
        for note in found:
            write(f"- {labels[note.severity]}{note.text}\n")
        if found:
            write("\n")
        if plots:
            write("## Plots\n\n")
            for caption, path in plots.items():
                write(f"### {caption}\n\n![{caption}]({path})\n\n")
        write("## The scenarios\n\n")
        for result in run.scenarios:
            text = result.description or result.summary or "No description stored"
            write(f"### `{result.name}`\n\n{text if text.endswith('.') else text + '.'}")
            if result.tf_data_options:
                write(f" In effect: {_options_text(result.tf_data_options)}.")
            write("\n\n")
        write("## The run\n\n")
        write(markdown_table(["Setting", "Value"], _settings_rows(run), [False, False]))
        write("\n## The machine\n\n")
        write(markdown_table(["Item", "Value"], _machine_rows(run), [False, False]))
        write(
            f"\nMade by tf-pipeline-profiler {run.metadata.get('profiler_version', '?')} "
            f"from the run of {run.created or 'an unknown time'}.\n"
        )


def markdown_answer(name: str | None, text: str) -> str:
    """The report's answer paragraph: the pick in bold with the rest of its sentence, or why there is none."""
    return f"**The answer:** {text}\n\n" if name is None else f"**The answer: pick `{name}`**{text}\n\n"


def markdown_table(headers: list[str], rows: list[list[str]], right: list[bool]) -> str:
    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _settings_rows(run: RunResult) -> list[list[str]]:
    options, data = run.options, run.data
    rows = [
        ["data", str(data.get("description", "-"))],
        ["seed", str(data.get("seed", "-"))],
    ]
    for key in ("batch_size", "epochs", "idle_epochs", "step_ms", "workers", "timeout_s"):
        if key in options:
            rows.append([key, f"{options[key]:g}" if isinstance(options[key], float) else str(options[key])])
    rows.append(["scenarios", ", ".join(options.get("scenarios", []))])
    return rows


def _machine_rows(run: RunResult) -> list[list[str]]:
    metadata = run.metadata
    machine: Mapping[str, object] = metadata.get("machine", {})
    packages: Mapping[str, object] = metadata.get("packages", {})
    rows = [
        ["CPU", f"{machine.get('cpu_model', '?')} ({machine.get('usable_cpus', '?')} usable of "
                f"{machine.get('cpu_count', '?')})"],
        ["memory", f"{machine.get('memory_total_mb', '?')} MiB"],
        ["platform", str(machine.get("platform", "?"))],
        ["Python", str(metadata.get("python", "?"))],
    ]
    rows += [[name, str(version)] for name, version in packages.items()]
    return rows


REPORT_FILE = "report.md"


def write_report_files(
    folder: Path,
    draw_plots: Callable[[Path], Mapping[str, str]],
    render: Callable[[IO[str], Mapping[str, str]], None],
) -> Path:
    """Draw the plots into ``folder``, then render ``report.md`` beside them; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    plots = draw_plots(folder)
    path = folder / REPORT_FILE
    with path.open("w") as stream:
        render(stream, plots)
    return path


def write_report(run: RunResult, folder: Path) -> Path:
    """Write the plots and ``report.md`` into ``folder``; return the report's path."""
    from profiler.plots import write_plots  # matplotlib loads only when a report is made

    return write_report_files(
        folder,
        lambda target: write_plots(run, target),
        lambda stream, plots: MarkdownReporter(stream).render(run, plots),
    )
