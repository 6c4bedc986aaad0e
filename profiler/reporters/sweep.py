"""A sweep's renderings: the growth table, the prediction at the target size and the pick.

Like the run's, the terminal and markdown renderings share their cells and notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from rich.table import Table
from rich.text import Text

from profiler.analysis.fits import CONSTANT, Fit
from profiler.analysis.forecast import Prediction, ScenarioGrowth
from profiler.analysis.sweep_result import SweepResult
from profiler.base.units import significant
from profiler.reporters.common import (
    Column,
    Note,
    TerminalReporter,
    ceiling_note,
    figure,
    fitted_tables,
    markdown_notes,
    number,
    print_notes,
)
from profiler.reporters.markdown import (
    machine_section,
    markdown_answer,
    markdown_plots,
    markdown_table,
    settings_rows,
    write_report_files,
)
from profiler.reporters.run import COLUMNS as RUN_COLUMNS
from profiler.reporters.run import markdown_headers, row_cells
from profiler.reporters.run_notes import missing_after_stop
from profiler.reporters.safe import escaped, markdown_text, terminal_text
from profiler.results.records import STATUS_SKIPPED

GROWTH_COLUMNS: tuple[Column, ...] = (
    Column("Scenario"),
    Column("Peak MiB\nper size", right=True),
    Column("Memory KiB\nper sample", right=True),
    Column("Epoch ms\nper size", right=True),
    Column("Epoch ms per\n1k samples", right=True),
)
TARGET_COLUMNS: tuple[Column, ...] = (
    Column("Peak MiB\nat target", right=True),
    Column("Fits"),
    Column("Epoch s\nat target", right=True),
    Column("Idle", right=True),
)
GROWTH_CAPTION = (
    "Peak: whole process tree above its baseline (TensorFlow imported), at each measured size. "
    "Epoch: the samples of an epoch over the median flat-out rate. Per sample, per 1k samples: the "
    "slope of a robust line a + b x samples that never falls (memory: flat unless it grows more "
    "than readings move); ± the largest miss. At target: the prediction and, in brackets, the "
    "range the fits allow; peak with the baseline. Idle: at the largest size."
)


def fit_text(fit: Fit | None, scale: float, error_scale: float) -> str:
    """'flat ±4' or '148 ±1': the slope in the column's unit, the largest miss in the per-size
    column's."""
    if fit is None:
        return "-"
    error = f"±{fit.max_error * error_scale:,.0f}"
    if fit.model == CONSTANT:
        return f"flat {error}"
    return f"{significant(fit.slope * scale)} {error}"


def fit_description(fit: Fit, unit: str, slope_unit: str, slope_scale: float = 1.0) -> str:
    """Such as 'linear 10.5 MiB + 148 KiB per sample (±0.02)'; ``slope_unit`` says per how many
    samples."""
    left_out = (
        f"; left out as outliers: {', '.join(f'{n:,}' for n in fit.outliers)} samples"
        if fit.outliers
        else ""
    )
    if fit.model == CONSTANT:
        return f"constant {figure(fit.intercept)} {unit} (±{figure(fit.max_error)}{left_out})"
    return (
        f"linear {figure(fit.intercept)} {unit} + {significant(fit.slope * slope_scale)} "
        f"{slope_unit} (±{figure(fit.max_error)}; slope {significant(fit.slope_low * slope_scale)} "
        f"to {significant(fit.slope_high * slope_scale)}{left_out})"
    )


def growth_cells(growth: ScenarioGrowth, prediction: Prediction | None) -> list[str]:
    cells = [
        growth.name,
        "/".join(f"{value:,.0f}" for value in growth.peak_rss_mib) or "-",
        fit_text(growth.memory, 1024.0, 1.0),
        "/".join(f"{value * 1000:,.0f}" for value in growth.epoch_s) or "-",
        fit_text(growth.epoch, 1e6, 1000.0),
    ]
    if prediction is not None:
        fits = "-" if prediction.fits is None else ("yes" if prediction.fits else "NO")
        if prediction.problem is not None:
            fits = "unknown"
        cells += [
            _with_interval(prediction.peak_mib, prediction.peak_mib_interval, "{:,.0f}".format),
            fits,
            _with_interval(prediction.epoch_s, prediction.epoch_s_interval, significant),
            number(prediction.idle_fraction, "{:.1%}"),
        ]
    return cells


def _with_interval(
    value: float | None, interval: tuple[float, float] | None, shown: Callable[[float], str]
) -> str:
    """'34.2 (29.1-40.5)': a prediction and the range its fit allows."""
    if value is None:
        return "-"
    if interval is None:
        return shown(value)
    return f"{shown(value)} ({shown(interval[0])}-{shown(interval[1])})"


def sweep_title(sweep: SweepResult) -> str:
    sizes = ", ".join(f"{n:,}" for n in sweep.sizes)
    data = sweep.runs[0].data.description if sweep.runs and sweep.runs[0].data else ""
    what = data.split(" ", 1)[-1] if data else "no data"  # drop the leading sample count
    if what.startswith("of "):  # a user's folder of which each size takes a part
        what = "drawn from " + what[3:]
    target = f"; target {sweep.target_samples:,} samples" if sweep.target_samples else ""
    return f"Growth with dataset size ({sizes} samples{target}): {what}"


def sweep_notes(sweep: SweepResult) -> list[Note]:
    found: list[Note] = []
    for growth in sweep.growths:
        for item in growth.not_measured:
            severity = "warning" if item.status == STATUS_SKIPPED else "error"
            found.append(
                Note(
                    f"{growth.name} at {item.samples:,} samples: {item.status}: {item.reason}",
                    severity,
                )
            )
        if not growth.data_usable and growth.sizes:
            found.append(
                Note(
                    f"{growth.name}: delivered different data from the dataset (or, a pipeline, "
                    "other samples than the rest); left out of the pick",
                    "error",
                )
            )
    for prediction in sweep.predictions:
        if prediction.problem is not None:
            found.append(
                Note(f"{prediction.name}: no prediction: its {prediction.problem}", "warning")
            )
        elif prediction.outliers:
            found.append(Note(f"{prediction.name}: {prediction.outliers}", "warning"))
    if sweep.target_samples is not None:
        found.append(
            Note(
                f"Memory budget: {sweep.memory_budget_mib:,.0f} MiB ({sweep.budget_basis}).", "info"
            )
        )
    found += ceiling_note(sweep.ceiling)
    if sweep.interrupted:
        found.append(Note(_interrupted_line(sweep), "warning"))
    return found


def _interrupted_line(sweep: SweepResult) -> str:
    # A stop can land after the last row was kept: then nothing is missing, and the note says so.
    left = len(sweep.sizes) - len(sweep.runs)
    parts = [f"{left} size(s) did not run"] if left > 0 else []
    parts += missing_after_stop(sweep.runs)
    if not parts:
        return "Sweep interrupted after every size and scenario was measured: nothing is missing."
    return "Sweep interrupted: " + "; ".join(parts) + "."


def advice_text(sweep: SweepResult) -> tuple[str | None, str]:
    """(name to pick or None, the rest of the closing sentence)."""
    advice = sweep.advice
    if sweep.target_samples is None or advice is None:
        return None, (
            "No prediction: pass --target-samples N (the size of the full dataset) to predict peak "
            "memory and epoch time there and get a pick"
        )
    if advice.name is None:
        return None, f"No pick at {sweep.target_samples:,} samples: {advice.reason}."
    rest = f": {advice.reason}."
    if advice.runner_up:
        rest += f" Runner-up: {advice.runner_up}."
    return advice.name, rest


def _columns(sweep: SweepResult) -> tuple[Column, ...]:
    return GROWTH_COLUMNS if sweep.target_samples is None else GROWTH_COLUMNS + TARGET_COLUMNS


def _rows(sweep: SweepResult) -> list[list[str]]:
    predictions = {p.name: p for p in sweep.predictions}
    return [growth_cells(g, predictions.get(g.name)) for g in sweep.growths]


class SweepTerminalReporter(TerminalReporter):
    """Two tables, so both fit a terminal: growth over the measured sizes, then the target's
    predictions."""

    def render(self, sweep: SweepResult) -> None:
        sweep = escaped(sweep, terminal_text)
        for table in self.tables(sweep):
            self.console.print(table)
        print_notes(self.console, sweep_notes(sweep))
        name, rest = advice_text(sweep)
        head = None if name is None else f"Pick {name} for {sweep.target_samples:,} samples"
        self.print_pick(head, rest, "bold yellow")

    def tables(self, sweep: SweepResult) -> list[Table | Text]:
        """Growth over the measured sizes, then the target's predictions, each split to fit the
        console."""
        rows = _rows(sweep)
        tables = fitted_tables(
            self.console,
            sweep_title(sweep),
            GROWTH_CAPTION,
            GROWTH_COLUMNS,
            [cells[: len(GROWTH_COLUMNS)] for cells in rows],
        )
        if sweep.target_samples is None:
            return tables
        fits_column = len(GROWTH_COLUMNS) + 1
        target_rows: list[list[str | Text]] = []
        for cells in rows:
            fits = Text(
                cells[fits_column],
                style={"yes": "green", "NO": "bold red"}.get(cells[fits_column], ""),
            )
            target_rows.append([cells[0], cells[fits_column - 1], fits, *cells[fits_column + 1 :]])
        title = (
            f"At {sweep.target_samples:,} samples, in a {sweep.memory_budget_mib:,.0f} MiB budget"
        )
        return tables + fitted_tables(
            self.console, title, None, (Column("Scenario"), *TARGET_COLUMNS), target_rows
        )


class SweepMarkdownReporter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def render(self, sweep: SweepResult, plots: Mapping[str, str] | None = None) -> None:
        sweep = escaped(sweep, markdown_text)
        write = self.stream.write
        write("# Dataset-size sweep report\n\n")
        target = f"{sweep.target_samples:,} samples" if sweep.target_samples else "the full dataset"
        write(
            "**The question:** how do peak memory and epoch time grow with the number of samples, "
            f"and which strategy is fastest while fitting in memory at {target}, feeding a "
            f"{sweep.settings.step_name()}?\n\n"
        )
        write(markdown_answer(*advice_text(sweep)))
        write(f"## Growth\n\n{sweep_title(sweep)}.\n\n")
        columns = _columns(sweep)
        write(
            markdown_table(
                [header.replace("\n", " ") for header, _ in columns],
                _rows(sweep),
                [right for _, right in columns],
            )
        )
        write(f"\n{GROWTH_CAPTION}\n\n")
        write(self._fits(sweep))
        write(markdown_notes(sweep_notes(sweep)) + "\n")
        write(markdown_plots(plots))
        write("## Each size\n\n")
        for run in sweep.runs:
            write(f"### {run.samples or 0:,} samples\n\n")
            write(
                markdown_table(
                    markdown_headers(RUN_COLUMNS),
                    [row_cells(r) for r in run.scenarios],
                    [right for _, right in RUN_COLUMNS],
                )
            )
            write("\n")
        write("## The sweep\n\n")
        rows = [
            ["sizes", ", ".join(f"{n:,}" for n in sweep.sizes)],
            ["target samples", f"{sweep.target_samples:,}" if sweep.target_samples else "-"],
            ["memory budget", f"{sweep.memory_budget_mib:,.0f} MiB ({sweep.budget_basis})"],
        ]
        write(
            markdown_table(
                ["Setting", "Value"],
                rows + settings_rows(sweep.settings, sweep.targets),
                [False, False],
            )
        )
        write(
            "\n"
            + machine_section(sweep.metadata, f"the sweep of {sweep.created or 'an unknown time'}")
        )

    @staticmethod
    def _fits(sweep: SweepResult) -> str:
        lines = [
            f"- `{g.name}`: peak memory "
            f"{fit_description(g.memory, 'MiB', 'KiB per sample', 1024.0)}; epoch "
            f"{fit_description(g.epoch, 's', 'ms per 1,000 samples', 1e6)}\n"
            for g in sweep.growths
            if g.memory is not None and g.epoch is not None
        ]
        return "Fits:\n\n" + "".join(lines) + "\n" if lines else ""


def write_sweep_report(sweep: SweepResult, folder: Path) -> Path:
    # matplotlib loads only when a report is made
    from profiler.reporters.sweep_plots import write_sweep_plots

    return write_report_files(
        folder,
        lambda target: write_sweep_plots(sweep, target),
        lambda stream, plots: SweepMarkdownReporter(stream).render(sweep, plots),
    )
