"""Reporters: take a RunResult and a stream, write a rendering of it."""

from __future__ import annotations

from typing import IO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from profiler.results import (
    INPUT_BOUND,
    MODERATELY_INPUT_BOUND,
    NOT_INPUT_BOUND,
    RunResult,
    ScenarioResult,
)

# As pyperf does: warn when the standard deviation of the epoch times passes 10% of their mean.
NOISY_SPREAD = 0.10
# Wide enough for every column when the output is a file or a pipe rather than a terminal.
FILE_WIDTH = 120

_VERDICT_STYLE = {INPUT_BOUND: "red", MODERATELY_INPUT_BOUND: "yellow"}
# The table's short form of each verdict; the JSON keeps the full words.
_VERDICT_CELL = {INPUT_BOUND: "yes", MODERATELY_INPUT_BOUND: "moderately", NOT_INPUT_BOUND: "no"}


def _number(value: float | None, pattern: str = "{:,.1f}") -> str:
    return "-" if value is None else pattern.format(value)


def _rate(value: float | None) -> str:
    """Three significant figures are plenty for a rate that varies by 10% between epochs."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


class TerminalReporter:
    """The comparison table, the notes under it and the closing recommendation, via rich."""

    def __init__(self, stream: IO[str] | None = None, width: int | None = None, color: bool | None = None) -> None:
        self.console = Console(
            file=stream, width=width, no_color=color is False, force_terminal=color, highlight=False
        )
        if width is None and not self.console.is_terminal:
            self.console.width = FILE_WIDTH

    def render(self, run: RunResult) -> None:
        self.console.print(self.table(run))
        for line in self.notes(run):
            self.console.print(line)
        self.console.print(self.closing_line(run))

    def table(self, run: RunResult) -> Table:
        options = run.options
        table = Table(
            title=(
                f"Input pipelines feeding a {options.get('step_ms', 0):g} ms training step: "
                f"{run.data.get('description', '')}, batch {options.get('batch_size')}"
            ),
            caption=(
                "Idle = wait / (wait + step). Rates: median of flat-out epochs, ± their standard "
                "deviation. Memory: peak of the whole process tree above the baseline (after "
                "importing TensorFlow). Data: the delivered samples match the dataset's checksum."
            ),
            box=box.SIMPLE_HEAD,
            collapse_padding=True,
            pad_edge=False,
            title_justify="left",
            caption_justify="left",
        )
        table.add_column("Scenario", no_wrap=True)
        table.add_column("Input-\nbound")
        table.add_column("Idle", justify="right")
        table.add_column("Wait ms\np50/p95", justify="right")
        table.add_column("Batches/s\n±std", justify="right")
        table.add_column("Samples/s", justify="right")
        table.add_column("First\nbatch s", justify="right")
        table.add_column("Warm-up\ns", justify="right")
        table.add_column("Peak MiB\nRSS/PSS", justify="right")
        table.add_column("CPU\ns/epoch", justify="right")
        table.add_column("Data", no_wrap=True)
        for column in table.columns:
            column.overflow = "fold"  # wrap a figure rather than cut it short with an ellipsis
        for result in run.scenarios:
            table.add_row(*self._row(result))
        return table

    def _row(self, result: ScenarioResult) -> list[str | Text]:
        if not result.ok:
            return [result.name, Text(result.status, style="bold red")] + ["-"] * 9
        verdict = result.verdict or "-"
        return [
            result.name,
            Text(_VERDICT_CELL.get(verdict, verdict), style=_VERDICT_STYLE.get(verdict, "green")),
            _number(result.idle_fraction, "{:.1%}"),
            f"{_number(result.wait_p50_ms)}/{_number(result.wait_p95_ms)}",
            f"{_rate(result.batches_per_s)} {_number(result.rate_spread, '±{:.0%}')}",
            _rate(result.samples_per_s),
            _number(result.first_batch_s, "{:.2f}"),
            _number(result.warmup_epoch_s, "{:.2f}"),
            f"{_number(result.peak_rss_mb, '{:+,.0f}')}/{_number(result.peak_pss_mb, '{:+,.0f}')}",
            _number(result.cpu_s, "{:.2f}"),
            _data_cell(result),
        ]

    def notes(self, run: RunResult) -> list[Text]:
        lines = []
        for result in run.scenarios:
            if not result.ok:
                where = f" (log: {result.log_path})" if result.log_path else ""
                lines.append(Text(f"{result.name}: {result.status}: {result.error}{where}", style="red"))
            elif result.fingerprint_matches is False:
                lines.append(
                    Text(
                        f"{result.name}: delivered different data from the dataset "
                        f"({_fingerprint_text(result)}): its figures do not compare",
                        style="red",
                    )
                )
        noisy = [
            f"{r.name} ±{r.rate_spread:.0%}"
            for r in run.scenarios
            if r.ok and r.rate_spread is not None and r.rate_spread > NOISY_SPREAD
        ]
        if noisy:
            lines.append(
                Text(
                    f"Noisy: batch rates varied from epoch to epoch by more than {NOISY_SPREAD:.0%} for "
                    f"{', '.join(noisy)}. Treat those rates as approximate; more --epochs or "
                    "--samples, or a quieter machine, help.",
                    style="yellow",
                )
            )
        if run.interrupted:
            lines.append(Text("Run interrupted: scenarios not listed above did not run.", style="yellow"))
        return lines

    def closing_line(self, run: RunResult) -> Text:
        recommendation = run.recommendation
        if not recommendation:
            return Text("No recommendation: no scenario completed with usable figures.", style="bold red")
        text = Text()
        text.append(f"Pick {recommendation['name']}", style="bold green")
        text.append(f": {recommendation['reason']}.")
        if recommendation.get("runner_up"):
            text.append(f" Runner-up: {recommendation['runner_up']}.")
        return text


def _data_cell(result: ScenarioResult) -> Text:
    if result.fingerprint is None:
        return Text("-")
    if result.fingerprint_matches is None:
        return Text(result.fingerprint.short)
    if result.fingerprint_matches:
        return Text("same", style="green")
    return Text("DIFFERS", style="bold red")


def _fingerprint_text(result: ScenarioResult) -> str:
    fp = result.fingerprint
    if fp is None:
        return "nothing"
    shape = "x".join(str(n) for n in fp.image_shape)
    return f"{fp.samples} samples of {shape} {fp.image_dtype}, labels {fp.label_dtype}"
