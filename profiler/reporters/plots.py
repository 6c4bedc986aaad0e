"""PNG plots of a run, drawn with matplotlib's Agg backend (no display needed).

Every plot lists the scenarios in the table's order and gives each the same colour; bars run
sideways, so a dozen and more names stay readable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from profiler.reporters.plotkit import (
    DPI,
    colours,
    drawn_name,
    line_style,
    name_rows,
    plain_log_ticks,
    pyplot,
    rows_figure,
    save,
    symlog_if_outliers,
)
from profiler.reporters.safe import escaped, terminal_text
from profiler.reporters.stages import write_stages_plot
from profiler.results.records import (
    INPUT_BOUND_AT,
    MODERATELY_INPUT_BOUND_AT,
    RunResult,
    ScenarioResult,
)

# caption -> file name; the order is the order in the report.
PLOT_FILES = {
    "Memory above the baseline, from the pipeline's build": "memory.png",
    "Peak memory above the baseline": "peaks.png",
    "Samples per second, flat out": "throughput.png",
    "Accelerator idle time": "idle.png",
    "Wait for each batch": "waits.png",
}


def write_run_plots(run: RunResult, folder: Path) -> dict[str, str]:
    """Draw every plot that the run has data for into ``folder``; return caption -> file name."""
    plt = pyplot()
    run = escaped(run, terminal_text)
    palette = colours([r.name for r in run.scenarios])
    drawers: dict[str, Callable[[list[ScenarioResult], RunResult, dict[str, Any]], Any]] = {
        "memory.png": _memory,
        "peaks.png": _peaks,
        "throughput.png": _throughput,
        "idle.png": _idle,
        "waits.png": _waits,
    }
    written = {}
    for caption, name in PLOT_FILES.items():
        figure = drawers[name]([r for r in run.scenarios if r.ok], run, palette)
        if figure is None:
            continue
        try:
            figure.axes[0].set_title(caption)
            save(figure, folder / name)
            written[caption] = name
        finally:
            plt.close(figure)
    if run.ceiling is not None and run.ceiling.stages is not None:
        written["Where one sample's time goes"] = write_stages_plot(run.ceiling.stages, folder)
    return written


def _memory(results: list[ScenarioResult], run: RunResult, palette: dict[str, Any]) -> Any:
    """RSS above each worker's baseline from the moment its pipeline starts being built: the import
    of TensorFlow before it is the same for every scenario, and the differences sit far above
    zero."""
    drawn = [r for r in results if r.memory_timeline and r.baseline_rss_mib is not None]
    if not drawn:
        return None
    figure, axes = pyplot().subplots(figsize=(10, 4.8), dpi=DPI)
    names = [r.name for r in run.scenarios]
    for result in drawn:
        start = result.build_started_s or 0.0
        points = [
            (t - start, mib - result.baseline_rss_mib)
            for t, mib in result.memory_timeline
            if t >= start
        ]
        axes.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            label=drawn_name(result.name),
            linewidth=1.3,
            color=palette[result.name],
            linestyle=line_style(names, result.name),
        )
    axes.axhline(0.0, color="black", linewidth=0.8)
    above = {r.name: [mib - r.baseline_rss_mib for _, mib in r.memory_timeline] for r in drawn}
    symlog_if_outliers(
        axes,
        "y",
        [max(values) for values in above.values()],
        min(min(values) for values in above.values()),
    )
    baselines = sorted(r.baseline_rss_mib for r in drawn if r.baseline_rss_mib is not None)
    middle = baselines[len(baselines) // 2]
    axes.set_xlabel("seconds since the pipeline's build began")
    axes.set_ylabel(
        f"RSS above the baseline, MiB\n(baseline: TensorFlow imported, about {middle:,.0f} MiB)"
    )
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    axes.grid(alpha=0.3)
    return figure


def _peaks(results: list[ScenarioResult], run: RunResult, palette: dict[str, Any]) -> Any:
    rated = [r for r in results if r.peak_rss_mib is not None]
    if not rated:
        return None
    figure, axes = rows_figure(len(rated))
    rss = [r.peak_rss_mib or 0.0 for r in rated]
    _bars(axes, rated, rss, palette, label="RSS")
    pss = [r.peak_pss_mib for r in rated]
    if all(value is not None for value in pss):
        # PSS counts memory shared between processes once: a pool's workers share TensorFlow's
        # pages.
        axes.scatter(
            pss, range(len(rated)), marker="|", s=300, color="black", label="PSS", zorder=3
        )
        _legend_below(axes, 2)
    symlog_if_outliers(axes, "x", rss, min(rss))
    axes.set_xlabel("peak of the process tree above the baseline (TensorFlow imported), MiB")
    axes.grid(axis="x", alpha=0.3)
    return figure


def _bars(
    axes: Any,
    rated: list[ScenarioResult],
    values: list[float],
    palette: dict[str, Any],
    intervals: list[tuple[float, float]] | None = None,
    label: str | None = None,
) -> None:
    """One sideways bar per scenario, in the table's order and its colour, with its 95% interval if
    given."""
    errors = (
        None
        if intervals is None
        else [
            [max(0.0, value - low) for value, (low, _) in zip(values, intervals, strict=True)],
            [max(0.0, high - value) for value, (_, high) in zip(values, intervals, strict=True)],
        ]
    )
    axes.barh(
        range(len(rated)),
        values,
        xerr=errors,
        capsize=3,
        color=[palette[r.name] for r in rated],
        label=label,
    )
    name_rows(axes, [r.name for r in rated])


def _legend_below(axes: Any, columns: int) -> None:
    # Below the axes: inside, it would cover a bar.
    axes.legend(
        fontsize="x-small",
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=columns,
        frameon=False,
    )


def _throughput(results: list[ScenarioResult], run: RunResult, palette: dict[str, Any]) -> Any:
    rated = [r for r in results if r.samples_per_s is not None]
    if not rated:
        return None
    figure, axes = rows_figure(len(rated))
    medians = [r.samples_per_s or 0.0 for r in rated]
    # The same interval the table shows, so the plot and the table never disagree.
    intervals = [r.samples_per_s_ci or (m, m) for r, m in zip(rated, medians, strict=True)]
    _bars(axes, rated, medians, palette, intervals)
    axes.set_xscale("log")
    plain_log_ticks(
        axes.xaxis, [low for low, _ in intervals] + [high for _, high in intervals] + medians
    )
    axes.set_xlabel("samples/s (median, 95% interval), log scale")
    axes.grid(axis="x", alpha=0.3, which="both")
    return figure


def _idle(results: list[ScenarioResult], run: RunResult, palette: dict[str, Any]) -> Any:
    rated = [r for r in results if r.idle_fraction is not None]
    if not rated:
        return None
    figure, axes = rows_figure(len(rated))
    idle = [100 * (r.idle_fraction or 0.0) for r in rated]
    highs = [
        100 * r.idle_fraction_ci[1] if r.idle_fraction_ci else value
        for r, value in zip(rated, idle, strict=True)
    ]
    top = max(max(highs) * 1.05, 100 * INPUT_BOUND_AT * 1.25)
    # The verdict's bands behind the bars: the bars keep the scenarios' colours.
    axes.axvspan(
        0,
        100 * MODERATELY_INPUT_BOUND_AT,
        color="tab:green",
        alpha=0.08,
        label="not input-bound (<5%)",
    )
    axes.axvspan(
        100 * MODERATELY_INPUT_BOUND_AT,
        100 * INPUT_BOUND_AT,
        color="tab:orange",
        alpha=0.12,
        label="moderately input-bound (5-20%)",
    )
    axes.axvspan(
        100 * INPUT_BOUND_AT, top, color="tab:red", alpha=0.08, label="input-bound (20% and more)"
    )
    intervals = [
        (100 * r.idle_fraction_ci[0], 100 * r.idle_fraction_ci[1])
        if r.idle_fraction_ci
        else (value, value)
        for r, value in zip(rated, idle, strict=True)
    ]
    _bars(axes, rated, idle, palette, intervals)
    axes.set_xlim(0, top)
    axes.set_xlabel(f"idle % {run.settings.idle_condition()} (95% interval)")
    _legend_below(axes, 3)
    axes.grid(axis="x", alpha=0.3)
    return figure


def _waits(results: list[ScenarioResult], run: RunResult, palette: dict[str, Any]) -> Any:
    rated = [r for r in results if r.wait_ms]
    if not rated:
        return None
    figure, axes = rows_figure(len(rated))
    # Waits span from a fraction of a millisecond to tens: a log scale shows both ends.
    floor = 0.01
    boxes = axes.boxplot(
        [[max(wait, floor) for wait in r.wait_ms] for r in rated],
        positions=range(len(rated)),
        orientation="horizontal",
        patch_artist=True,
        showfliers=True,
        widths=0.6,
        flierprops={"markersize": 2},
        medianprops={"color": "black"},
    )
    for patch, result in zip(boxes["boxes"], rated, strict=True):
        patch.set_facecolor(palette[result.name])
    name_rows(axes, [r.name for r in rated])
    axes.set_xscale("log")
    plain_log_ticks(axes.xaxis, [max(wait, floor) for r in rated for wait in r.wait_ms])
    axes.set_xlabel("wait per step, ms (log scale)")
    axes.grid(axis="x", alpha=0.3, which="both")
    return figure
