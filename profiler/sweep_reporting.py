"""Reporters of a sweep: the growth table, the prediction at the target size and the pick.

Like profiler.reporting, the terminal and markdown renderings share their cells and notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO

from rich import box
from rich.table import Table
from rich.text import Text

from profiler.growth import Fit
from profiler.reporting import COLUMNS as RUN_COLUMNS
from profiler.reporting import (
    Note,
    ceiling_line,
    markdown_answer,
    markdown_table,
    number,
    print_notes,
    row_cells,
    terminal_console,
    write_report_files,
)
from profiler.results import step_name
from profiler.sweep import Prediction, ScenarioGrowth, SweepResult

GROWTH_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("Scenario", False),
    ("Peak MiB\nper size", True),
    ("Memory KiB\nper sample", True),
    ("Epoch ms\nper size", True),
    ("Epoch ms per\n1k samples", True),
)
TARGET_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("Peak MiB\nat target", True),
    ("Fits", False),
    ("Epoch s\nat target", True),
    ("Idle", True),
)
GROWTH_CAPTION = (
    "Peak: whole process tree above its baseline (TensorFlow imported), at each measured size. Epoch: "
    "median flat-out epoch. Per sample, per 1k samples: the slope of a line a + b x samples where it "
    "stands out of the scatter, else flat (a constant); ± the largest miss. Peak at target: baseline included. "
    "Idle: at the largest size."
)


def fit_text(fit: Fit | None, scale: float, error_scale: float) -> str:
    """'flat ±4' or '148 ±1': the slope in the column's unit, the largest miss in the per-size column's."""
    if fit is None:
        return "-"
    error = f"±{fit.max_error * error_scale:,.0f}"
    if fit.model == "constant":
        return f"flat {error}"
    return f"{fit.slope * scale:,.3g} {error}"


def growth_cells(growth: ScenarioGrowth, prediction: Prediction | None) -> list[str]:
    cells = [
        growth.name,
        "/".join(f"{value:,.0f}" for value in growth.peak_rss_mb) or "-",
        fit_text(growth.memory, 1024.0, 1.0),
        "/".join(f"{value * 1000:,.0f}" for value in growth.epoch_s) or "-",
        fit_text(growth.epoch, 1e6, 1000.0),
    ]
    if prediction is not None:
        fits = "-" if prediction.fits is None else ("yes" if prediction.fits else "NO")
        if prediction.problem is not None:
            fits = "unknown"
        cells += [
            number(prediction.peak_mib, "{:,.0f}"),
            fits,
            number(prediction.epoch_s, "{:.3g}"),
            number(prediction.idle_fraction, "{:.1%}"),
        ]
    return cells


def sweep_title(sweep: SweepResult) -> str:
    sizes = ", ".join(f"{n:,}" for n in sweep.sizes)
    data = str(sweep.runs[0].data.get("description", "")) if sweep.runs else ""
    what = data.split(" ", 1)[-1] if data else "no data"  # drop the leading sample count
    target = f"; target {sweep.target_samples:,} samples" if sweep.target_samples else ""
    return f"Growth with dataset size ({sizes} samples{target}): {what}"


def sweep_notes(sweep: SweepResult) -> list[Note]:
    found: list[Note] = []
    for growth in sweep.growths():
        for size, status, reason in growth.not_measured:
            severity = "warning" if status == "skipped" else "error"
            found.append(Note(f"{growth.name} at {size:,} samples: {status}: {reason}", severity))
        if not growth.data_usable and growth.sizes:
            found.append(Note(f"{growth.name}: delivered different data from the dataset; left out of the pick",
                              "error"))
    for prediction in sweep.predictions():
        if prediction.problem is not None:
            found.append(Note(f"{prediction.name}: no prediction: its {prediction.problem}", "warning"))
    if sweep.target_samples is not None:
        found.append(Note(f"Memory budget: {sweep.memory_budget_mb:,.0f} MiB ({sweep.budget_basis}).", "info"))
    if sweep.ceiling:
        found.append(Note(ceiling_line(sweep.ceiling), "info"))
    if sweep.interrupted:
        found.append(Note("Sweep interrupted: sizes and scenarios not listed did not run.", "warning"))
    return found


def advice_text(sweep: SweepResult) -> tuple[str | None, str]:
    """(name to pick or None, the rest of the closing sentence)."""
    if sweep.target_samples is None:
        return None, ("No prediction: pass --target-samples N (the size of the full dataset) to predict peak "
                      "memory and epoch time there and get a pick")
    advice = sweep.advice()
    assert advice is not None
    if advice.name is None:
        return None, f"No pick at {sweep.target_samples:,} samples: {advice.reason}."
    rest = f": {advice.reason}."
    if advice.runner_up:
        rest += f" Runner-up: {advice.runner_up}."
    return advice.name, rest


class SweepTerminalReporter:
    def __init__(self, stream: IO[str] | None = None, width: int | None = None, color: bool | None = None) -> None:
        self.console = terminal_console(stream, width, color)

    def render(self, sweep: SweepResult) -> None:
        self.console.print(self.table(sweep))
        print_notes(self.console, sweep_notes(sweep))
        name, rest = advice_text(sweep)
        if name is None:
            self.console.print(Text(rest, style="bold yellow"))
        else:
            self.console.print(Text.assemble((f"Pick {name} for {sweep.target_samples:,} samples", "bold green"),
                                             rest))

    def table(self, sweep: SweepResult) -> Table:
        table = Table(title=sweep_title(sweep), caption=GROWTH_CAPTION, box=box.SIMPLE_HEAD, collapse_padding=True,
                      pad_edge=False, title_justify="left", caption_justify="left")
        columns = _columns(sweep)
        for header, right in columns:
            table.add_column(header, justify="right" if right else "left", overflow="fold")
        for index in (0, 1, 3):  # the name and the per-size figures stay on one line; the rest may wrap
            table.columns[index].no_wrap = True
        predictions = {p.name: p for p in sweep.predictions()}
        for growth in sweep.growths():
            cells = growth_cells(growth, predictions.get(growth.name))
            if len(cells) > len(GROWTH_COLUMNS):
                fits = cells[len(GROWTH_COLUMNS) + 1]
                styled: list[str | Text] = list(cells)
                styled[len(GROWTH_COLUMNS) + 1] = Text(fits, style={"yes": "green", "NO": "bold red"}.get(fits, ""))
                table.add_row(*styled)
            else:
                table.add_row(*cells)
        return table


def _columns(sweep: SweepResult) -> tuple[tuple[str, bool], ...]:
    return GROWTH_COLUMNS if sweep.target_samples is None else GROWTH_COLUMNS + TARGET_COLUMNS


class SweepMarkdownReporter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def render(self, sweep: SweepResult, plots: Mapping[str, str] | None = None) -> None:
        write = self.stream.write
        write("# Dataset-size sweep report\n\n")
        target = f"{sweep.target_samples:,} samples" if sweep.target_samples else "the full dataset"
        write(
            f"**The question:** how do peak memory and epoch time grow with the number of samples, and which "
            f"strategy is fastest while fitting in memory at {target}, feeding a {step_name(sweep.options)}?\n\n"
        )
        write(markdown_answer(*advice_text(sweep)))
        write("## Growth\n\n")
        write(f"{sweep_title(sweep)}.\n\n")
        columns = _columns(sweep)
        predictions = {p.name: p for p in sweep.predictions()}
        write(markdown_table([header.replace("\n", " ") for header, _ in columns],
                             [growth_cells(g, predictions.get(g.name)) for g in sweep.growths()],
                             [right for _, right in columns]))
        write(f"\n{GROWTH_CAPTION}\n\n")
        fitted = [g for g in sweep.growths() if g.memory is not None and g.epoch is not None]
        if fitted:
            write("Fits:\n\n")
            for growth in fitted:
                assert growth.memory is not None and growth.epoch is not None
                write(
                    f"- `{growth.name}`: peak memory {growth.memory.describe('MiB', 'KiB per sample', 1024.0)}; "
                    f"epoch {growth.epoch.describe('s', 'ms per 1,000 samples', 1e6)}\n"
                )
            write("\n")
        labels = {"error": "**Error:** ", "warning": "**Note:** ", "info": ""}
        for note in sweep_notes(sweep):
            write(f"- {labels[note.severity]}{note.text}\n")
        write("\n")
        if plots:
            write("## Plots\n\n")
            for caption, path in plots.items():
                write(f"### {caption}\n\n![{caption}]({path})\n\n")
        write("## Each size\n\n")
        headers = [header.replace("-\n", "-").replace("\n", " ") for header, _ in RUN_COLUMNS]
        for run in sweep.runs:
            write(f"### {int(run.data['samples']):,} samples\n\n")
            write(markdown_table(headers, [row_cells(r) for r in run.scenarios], [right for _, right in RUN_COLUMNS]))
            write("\n")
        write("## The sweep\n\n")
        rows = [["sizes", ", ".join(f"{n:,}" for n in sweep.sizes)],
                ["target samples", f"{sweep.target_samples:,}" if sweep.target_samples else "-"],
                ["memory budget", f"{sweep.memory_budget_mb:,.0f} MiB ({sweep.budget_basis})"]]
        for key in ("batch_size", "epochs", "idle_epochs", "step_ms", "consumer", "workers", "timeout_s"):
            if key in sweep.options:
                value = sweep.options[key]
                rows.append([key, f"{value:g}" if isinstance(value, float) else str(value)])
        rows.append(["scenarios", ", ".join(sweep.options.get("scenarios", []))])
        write(markdown_table(["Setting", "Value"], rows, [False, False]))
        machine = sweep.metadata.get("machine", {})
        write(
            f"\nMachine: {machine.get('cpu_model', '?')}, {machine.get('usable_cpus', '?')} usable CPUs, "
            f"{machine.get('memory_total_mb', '?')} MiB. Made by tf-pipeline-profiler "
            f"{sweep.metadata.get('profiler_version', '?')} from the sweep of {sweep.created or 'an unknown time'}.\n"
        )


def write_sweep_report(sweep: SweepResult, folder: Path) -> Path:
    from profiler.plots import write_sweep_plots  # matplotlib loads only when a report is made

    return write_report_files(
        folder,
        lambda target: write_sweep_plots(sweep, target),
        lambda stream, plots: SweepMarkdownReporter(stream).render(sweep, plots),
    )
