"""A scale measurement shown live, as a table of worker counts with the advice, and as ``report.md``
with a plot of the rate against workers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from rich.text import Text

from profiler.analysis.scale_result import (
    Advice,
    ScaleFit,
    ScalePoint,
    ScaleResult,
    predicted_from_fewest,
)
from profiler.base.units import plain
from profiler.reporters.common import Column, TerminalReporter, fitted_tables, took_text
from profiler.reporters.markdown import (
    machine_section,
    markdown_answer,
    markdown_plots,
    markdown_table,
    settings_rows,
    write_report_files,
)
from profiler.reporters.plotkit import DPI, pyplot, save
from profiler.reporters.safe import escaped, markdown_text, terminal_text
from profiler.results.records import RunResult

COLUMNS = (
    Column("Workers", right=True),
    Column("Samples/s\n±95%", right=True),
    Column("Per\nworker", right=True),
    Column("Predicted\nfrom fewest", right=True),
    Column("Trainer\nµs/sample", right=True),
    Column("Dispatcher\nµs/sample", right=True),
    Column("Workers\nµs/sample", right=True),
    Column("Start-up\ns", right=True),
    Column("Idle", right=True),
)
PLOT_FILE = "rate_vs_workers.png"


def scale_intro(run: RunResult) -> str:
    """What a scale measurement's progress says first."""
    data = run.data.description if run.data else "the data"
    return f"Measuring the tf.data service on {data}, each count of workers in a fresh process"


def _number(value: float | None, pattern: str = "{:,.0f}") -> str:
    return "-" if value is None else pattern.format(value)


def point_rows(result: ScaleResult) -> list[list[str]]:
    rows = []
    for point in result.points:
        if not point.ok:
            rows.append([str(point.workers or "?"), point.status, *["-"] * (len(COLUMNS) - 2)])
            continue
        assert point.samples_per_s is not None
        low, high = point.samples_per_s_ci or (point.samples_per_s, point.samples_per_s)
        width = max(point.samples_per_s - low, high - point.samples_per_s) / point.samples_per_s
        predicted = (
            None
            if result.dispatcher
            else predicted_from_fewest(result.points, result.cores, point.workers)
        )
        rows.append(
            [
                str(point.workers),
                f"{point.samples_per_s:,.0f} ±{width:.0%}",
                _number(point.samples_per_s / point.workers),
                _number(predicted),
                _number(point.trainer_us_per_sample),
                _number(point.dispatcher_us_per_sample),
                _number(point.workers_us_per_sample),
                _number(point.startup_s, "{:.1f}"),
                _number(
                    None if point.idle_fraction is None else 100 * point.idle_fraction, "{:.1f}%"
                ),
            ]
        )
    return rows


def fit_text(scale: ScaleFit, cores: int) -> str:
    low, high = scale.per_worker_samples_per_s_range
    counts = ", ".join(str(count) for count in scale.counts_fitted)
    text = (
        f"One worker (one core of this machine) delivers {scale.per_worker_samples_per_s:,.0f} "
        f"samples/s ({low:,.0f} to {high:,.0f}), fitted on {counts} worker(s)"
    )
    limits = []
    if scale.trainer_limit_samples_per_s:
        limits.append(
            f"the trainer's receiving at {scale.trainer_limit_samples_per_s:,.0f} samples/s "
            f"({cores} core(s) over its CPU per sample)"
        )
    if scale.dispatcher_limit_samples_per_s:
        limits.append(
            f"the dispatcher at {scale.dispatcher_limit_samples_per_s:,.0f} samples/s (one core "
            "over its CPU per sample)"
        )
    if limits:
        text += "; more workers stop adding where " + " or ".join(limits) + " is reached"
    if scale.local_limit_samples_per_s:
        text += (
            f". On this machine all roles share {cores} core(s), less what other processes kept "
            f"busy: at most {scale.local_limit_samples_per_s:,.0f} samples/s here, whatever the "
            "count"
        )
    return text + "."


def advice_text(advice: Advice) -> str:
    accelerators = f"{advice.accelerators} accelerator{'s' if advice.accelerators > 1 else ''}"
    need = (
        f"To keep a {plain(advice.step_ms)} ms step busy at batch {advice.batch_size} on "
        f"{accelerators} takes {advice.required_samples_per_s:,.0f} samples/s"
    )
    span = ""
    if advice.workers_range and advice.workers_range[0] != advice.workers_range[1]:
        span = (
            f" ({advice.workers_range[0]} to {advice.workers_range[1]} within the measured range)"
        )
    if advice.cluster_workers is not None:
        have = (
            f"The cluster's {advice.cluster_workers} worker(s) delivered "
            f"{advice.per_worker_samples_per_s * advice.cluster_workers:,.0f} samples/s, "
            f"{advice.per_worker_samples_per_s:,.0f} per worker"
        )
        if advice.keeps_busy:
            return f"{need}. {have}: it keeps the step busy."
        return (
            f"{need}. {have}: it does not keep the step busy; it needs about "
            f"{advice.workers_needed} worker(s) like these{span}, {advice.more_workers} more."
        )
    if advice.workers_needed is None:
        what = "the trainer's receiving" if advice.bound_by == "trainer" else "the dispatcher"
        return (
            f"{need}: no number of workers delivers that to one trainer, since {what} takes at "
            "most less (above); a larger batch per step, or several trainers, each with its own "
            "job, would."
        )
    kind = "one core" if advice.worker_cores == 1 else f"{advice.worker_cores} cores"
    return (
        f"{need}: about {advice.workers_needed} worker(s) of {kind} at this machine's speed per "
        f"core{span}, each delivering {advice.per_worker_samples_per_s:,.0f} samples/s."
    )


def failures(result: ScaleResult) -> list[str]:
    """Why each count that failed did, one line each, for below the table."""
    return [
        f"{f'{point.workers} worker(s)' if point.workers else 'The cluster'}: {point.status}: "
        f"{point.error}"
        for point in result.points
        if not point.ok
    ]


def _answer(result: ScaleResult) -> str:
    if result.advice is not None:
        text = advice_text(result.advice)
        return (
            text
            if not result.interrupted
            else text + " (Stopped early: fewer counts than planned.)"
        )
    if result.interrupted:
        return "Stopped before a count of workers was measured: run it again for an answer."
    return "Nothing was measured: see why above."


def _wall(result: ScaleResult) -> str:
    return took_text("Measuring", result.wall_s)


class ScaleTerminalReporter(TerminalReporter):
    def render(self, result: ScaleResult) -> None:
        result = escaped(result, terminal_text)
        say = self.console.print
        title = (
            f"tf.data service at {result.dispatcher}"
            if result.dispatcher
            else "tf.data service by local workers"
        )
        for table in fitted_tables(self.console, title, None, COLUMNS, point_rows(result)):
            say(table)
        for line in failures(result):
            say(Text(line, style="red"))
        if result.fit is not None:
            say(Text(fit_text(result.fit, result.cores)))
        say(Text(_answer(result), style="bold" if result.advice is not None else "bold red"))
        say(Text(_wall(result)))


class ScaleMarkdownReporter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def render(self, result: ScaleResult, plots: Mapping[str, str] | None = None) -> None:
        result = escaped(result, markdown_text)
        write = self.stream.write
        data = result.data.description if result.data is not None else "the data"
        write("# Scale report\n\n")
        write(
            "**The question:** how many tf.data service workers keep a training step of "
            f"{plain(result.settings.step_ms)} ms busy, at batch {result.settings.batch_size}, on "
            f"{data}?\n\n"
        )
        write(markdown_answer(None, _answer(result)))
        write("## Rate against workers\n\n")
        write(
            markdown_table(
                [name.replace("\n", " ") for name, _ in COLUMNS],
                point_rows(result),
                [right for _, right in COLUMNS],
            )
        )
        write(
            "".join(f"\n- {line}" for line in failures(result)) + ("\n" if failures(result) else "")
        )
        if result.fit is not None:
            write(f"\n{fit_text(result.fit, result.cores)}\n")
        write(
            "\nEach count ran in a fresh process as `run` measures it: the rate is the median "
            "flat-out window, the CPU per sample each role's processes used over those windows, "
            "the start-up the time to the job's first batch (servers included, paid once), idle "
            f"the share of the {plain(result.settings.step_ms)} ms step spent waiting. Local "
            f"workers are held to one core each. {_wall(result)}\n\n"
        )
        write(markdown_plots(plots))
        write("## The measurement\n\n")
        write(
            markdown_table(
                ["Setting", "Value"],
                [["data", data], *settings_rows(result.settings, ())],
                [False, False],
            )
        )
        write("\n" + machine_section(result.metadata, f"the scale measurement of {result.created}"))


def write_scale_plot(result: ScaleResult, folder: Path) -> dict[str, str]:
    """Measured rates with their intervals, the fit on this machine and beyond it, and the rate the
    step needs."""
    measured = [p for p in result.points if p.ok]
    if not measured:
        return {}
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 5.2), dpi=DPI)
    try:
        _draw(axes, result, measured)
        save(figure, folder / PLOT_FILE)
    finally:
        plt.close(figure)
    return {"Samples/s against workers": PLOT_FILE}


def _draw(axes: Any, result: ScaleResult, measured: list[ScalePoint]) -> None:
    rates = [p.samples_per_s or 0.0 for p in measured]
    lows = [r - (p.samples_per_s_ci or (r, r))[0] for p, r in zip(measured, rates, strict=True)]
    highs = [(p.samples_per_s_ci or (r, r))[1] - r for p, r in zip(measured, rates, strict=True)]
    axes.errorbar(
        [p.workers for p in measured],
        rates,
        yerr=[lows, highs],
        fmt="o",
        color="black",
        capsize=4,
        label="measured (95% interval)",
    )
    here = max(p.workers for p in measured)
    # Far enough to show where workers of their own stop adding, or the count advised.
    most = max(
        4, 2 * here, (result.advice.workers_needed or 0) + 1 if result.advice is not None else 0
    )
    if result.fit is not None:
        counts = list(range(1, most + 1))
        axes.plot(
            counts[:here],
            [result.fit.samples_per_s(n, local=True) for n in counts[:here]],
            ":",
            color="tab:blue",
            label="fit, on this machine's cores",
        )
        axes.plot(
            counts,
            [result.fit.samples_per_s(n) for n in counts],
            "-",
            color="tab:blue",
            label="fit, workers on machines of their own",
        )
    if result.advice is not None:
        axes.axhline(
            result.advice.required_samples_per_s,
            color="tab:red",
            linestyle="--",
            label=f"needed for a {plain(result.advice.step_ms)} ms step",
        )
    axes.set_xlabel("tf.data service workers")
    axes.set_ylabel("samples/s")
    axes.set_xticks(range(1, most + 1) if most <= 20 else axes.get_xticks())
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    axes.set_title("Samples/s against tf.data service workers")


def write_scale_report(result: ScaleResult, folder: Path) -> Path:
    return write_report_files(
        folder,
        lambda target: write_scale_plot(result, target),
        lambda stream, drawn: ScaleMarkdownReporter(stream).render(result, drawn),
    )
