"""PNG plots of a sweep: peak memory and epoch time against dataset size, one colour per
scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from profiler.analysis.forecast import ScenarioGrowth
from profiler.analysis.sweep_result import SweepResult
from profiler.reporters.plotkit import DPI, colours, drawn_name, plain_log_ticks, pyplot, save
from profiler.reporters.safe import escaped, terminal_text

SWEEP_PLOT_FILES = {
    "Peak memory against dataset size": "memory_vs_samples.png",
    "Epoch time against dataset size": "epoch_vs_samples.png",
}


def write_sweep_plots(sweep: SweepResult, folder: Path) -> dict[str, str]:
    """One line per scenario: measured points, the fitted growth, and the prediction at the
    target."""
    plt = pyplot()
    sweep = escaped(sweep, terminal_text)
    growths = [g for g in sweep.growths if g.sizes]
    if not growths:
        return {}
    written = {}
    for caption, name in SWEEP_PLOT_FILES.items():
        memory = name == "memory_vs_samples.png"
        figure, axes = plt.subplots(figsize=(9, 5.2), dpi=DPI)
        try:
            _growth_lines(axes, sweep, growths, memory)
            _growth_axes(axes, sweep, memory, caption)
            save(figure, folder / name)
            written[caption] = name
        finally:
            plt.close(figure)
    return written


def _growth_lines(
    axes: Any, sweep: SweepResult, growths: list[ScenarioGrowth], memory: bool
) -> None:
    predictions = {p.name: p for p in sweep.predictions}
    largest = max(max(g.sizes) for g in growths)
    reach = max(largest, sweep.target_samples or 0)
    smallest = min(min(g.sizes) for g in growths)
    palette = colours([g.name for g in sweep.growths])
    for growth in growths:
        colour = palette[growth.name]
        fit = growth.memory if memory else growth.epoch
        offset = (growth.baseline_rss_mib or 0.0) if memory else 0.0
        values = growth.peak_rss_mib if memory else growth.epoch_s
        axes.plot(
            growth.sizes,
            [v + offset for v in values],
            "o",
            color=colour,
            label=drawn_name(growth.name),
        )
        prediction = predictions.get(growth.name)
        if fit is None:
            continue
        usable = prediction is None or prediction.problem is None
        xs = _spread(smallest, reach if usable else largest)
        axes.plot(
            xs,
            [max(fit.predict(x), 0.0) + offset for x in xs],
            "-" if usable else ":",
            color=colour,
            linewidth=1,
        )
        if prediction is not None and usable:
            value = prediction.peak_mib if memory else prediction.epoch_s
            axes.plot([prediction.target_samples], [value], "x", color=colour, markersize=9)


def _growth_axes(axes: Any, sweep: SweepResult, memory: bool, caption: str) -> None:
    plotted = [y for line in axes.get_lines() for y in line.get_ydata() if y > 0]
    if sweep.target_samples:
        axes.axvline(
            sweep.target_samples,
            color="grey",
            linestyle="--",
            linewidth=0.8,
            label=f"target, {sweep.target_samples:,} samples (x: predicted)",
        )
    if memory and sweep.target_samples and sweep.memory_budget_mib:
        budget = f"budget, {sweep.memory_budget_mib:,.0f} MiB"
        if sweep.memory_budget_mib <= 3 * max(plotted, default=1.0):
            axes.axhline(
                sweep.memory_budget_mib, color="tab:red", linestyle="--", linewidth=1, label=budget
            )
        else:  # a line far above the points would flatten them all
            axes.plot([], [], " ", label=f"{budget} (far above)")
    axes.set_xscale("log")
    # Epoch times span decades; memory does too once a line reaches a far target.
    log_y = not memory or (plotted and max(plotted) > 20 * min(plotted))
    if log_y:
        axes.set_yscale("log")
    else:
        axes.set_ylim(bottom=0)
    axes.set_xlabel("samples in the dataset (log scale)")
    unit = "peak RSS of the process tree, MiB" if memory else "flat-out epoch, s"
    axes.set_ylabel(unit + (" (log scale)" if log_y else ""))
    axes.set_title(caption + "\n(points: measured; lines: fitted growth, dotted where not trusted)")
    plain_log_ticks(axes.xaxis, [x for line in axes.get_lines() for x in line.get_xdata() if x > 0])
    if log_y:
        plain_log_ticks(axes.yaxis, plotted)
    axes.title.set_fontsize("medium")
    # Beside the axes: twelve and more names inside would cover the points.
    axes.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    axes.grid(alpha=0.3, which="both")


def _spread(low: float, high: float, points: int = 50) -> list[float]:
    """Evenly spaced on a log scale, so the fitted line looks smooth on log axes."""
    if high <= low:
        return [low]
    ratio = (high / low) ** (1.0 / (points - 1))
    return [low * ratio**i for i in range(points)]
