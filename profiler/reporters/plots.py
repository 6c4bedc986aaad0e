"""PNG plots of a run, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from profiler.forecast import ScenarioGrowth
from profiler.reporters.safe import escaped, terminal_text
from profiler.results import INPUT_BOUND_AT, MODERATELY_INPUT_BOUND_AT, RunResult, ScenarioResult
from profiler.sweep import SweepResult
from profiler.units import plain

# caption -> file name; the order is the order in the report.
PLOT_FILES = {
    "Memory of the process tree over time": "memory.png",
    "Samples per second, flat out": "throughput.png",
    "Accelerator idle time": "idle.png",
    "Wait for each batch": "waits.png",
}
_DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: never try to open a display
    from matplotlib import pyplot

    return pyplot


def _ticker() -> Any:
    from matplotlib import ticker

    return ticker


def _minor_tick(value: float, _position: int) -> str:
    # Label 2, 3 and 5 of each decade; labelling all eight crowds the axis.
    mantissa = f"{value:.1e}"[:3]
    return plain(value) if mantissa in ("2.0", "3.0", "5.0") else ""


def _save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    # No "Software" stamp: the file does not change with the matplotlib version that drew it.
    figure.savefig(path, format="png", metadata={"Software": None})


def _slant_names(axes: Any) -> None:
    # Twelve scenario names side by side overlap unless slanted and anchored at their right end.
    axes.tick_params(axis="x", labelrotation=30)
    for label in axes.get_xticklabels():
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")


def write_run_plots(run: RunResult, folder: Path) -> dict[str, str]:
    """Draw every plot that the run has data for into ``folder``; return caption -> file name."""
    pyplot = _pyplot()
    run = escaped(run, terminal_text)

    drawers: dict[str, Callable[[Any, list[ScenarioResult], RunResult], bool]] = {
        "memory.png": _memory,
        "throughput.png": _throughput,
        "idle.png": _idle,
        "waits.png": _waits,
    }
    measured = [r for r in run.scenarios if r.ok]
    written = {}
    for caption, name in PLOT_FILES.items():
        figure, axes = pyplot.subplots(figsize=(8, 4.2), dpi=_DPI)
        try:
            if drawers[name](axes, measured if name != "memory.png" else list(run.scenarios), run):
                axes.set_title(caption)
                _save(figure, folder / name)
                written[caption] = name
        finally:
            pyplot.close(figure)
    return written


def _memory(axes: Any, results: list[ScenarioResult], run: RunResult) -> bool:
    drawn = [r for r in results if r.memory_timeline]
    for result in drawn:
        times = [point[0] for point in result.memory_timeline]
        axes.plot(times, [point[1] for point in result.memory_timeline], label=result.name, linewidth=1.2)
    if not drawn:
        return False
    baselines = sorted(r.baseline_rss_mib for r in drawn if r.baseline_rss_mib is not None)
    if baselines:
        # Every worker's baseline is within a few MiB of the others: one line marks them all.
        middle = baselines[len(baselines) // 2]
        axes.axhline(middle, color="black", linestyle="--", linewidth=0.8,
                     label=f"baseline, TensorFlow imported ({middle:,.0f} MiB)")
    axes.set_xlabel("seconds since the worker started")
    axes.set_ylabel("summed RSS of the process tree, MiB")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize="small", loc="lower right")
    axes.grid(alpha=0.3)
    return True


def _throughput(axes: Any, results: list[ScenarioResult], run: RunResult) -> bool:
    rated = [r for r in results if r.samples_per_s is not None]
    if not rated:
        return False
    names = [r.name for r in rated]
    medians = [r.samples_per_s or 0.0 for r in rated]
    # The same interval the table shows, so the plot and the table never disagree.
    intervals = [r.samples_per_s_ci or (m, m) for r, m in zip(rated, medians, strict=True)]
    below = [max(0.0, m - low) for m, (low, _) in zip(medians, intervals, strict=True)]
    above = [max(0.0, high - m) for m, (_, high) in zip(medians, intervals, strict=True)]
    axes.bar(names, medians, yerr=[below, above], capsize=4, color="tab:blue", alpha=0.8)
    axes.set_yscale("log")
    axes.set_ylabel("samples/s (median, 95% interval), log scale")
    _slant_names(axes)
    axes.grid(axis="y", alpha=0.3)
    return True


def _idle(axes: Any, results: list[ScenarioResult], run: RunResult) -> bool:
    rated = [r for r in results if r.idle_fraction is not None]
    if not rated:
        return False
    colours = [
        "tab:red" if r.idle_fraction >= INPUT_BOUND_AT  # type: ignore[operator]
        else "tab:orange" if r.idle_fraction >= MODERATELY_INPUT_BOUND_AT  # type: ignore[operator]
        else "tab:green"
        for r in rated
    ]
    axes.bar([r.name for r in rated], [100 * r.idle_fraction for r in rated], color=colours)  # type: ignore[operator]
    axes.axhline(100 * MODERATELY_INPUT_BOUND_AT, color="tab:orange", linestyle="--", linewidth=1,
                 label="moderately input-bound (5%)")
    axes.axhline(100 * INPUT_BOUND_AT, color="tab:red", linestyle="--", linewidth=1, label="input-bound (20%)")
    axes.set_ylabel(f"idle % {run.settings.idle_condition()}")
    _slant_names(axes)
    axes.legend(fontsize="small")
    axes.grid(axis="y", alpha=0.3)
    return True


def _waits(axes: Any, results: list[ScenarioResult], run: RunResult) -> bool:
    rated = [r for r in results if r.wait_ms]
    if not rated:
        return False
    # Waits span from a fraction of a millisecond to tens: a log scale shows both ends.
    floor = 0.01
    axes.boxplot(
        [[max(wait, floor) for wait in r.wait_ms] for r in rated],
        tick_labels=[r.name for r in rated],
        showfliers=True,
        flierprops={"markersize": 2},
    )
    axes.set_yscale("log")
    # Plain numbers ("0.4", "6") rather than "4 x 10^-1" on the ticks.
    ticker = _ticker()
    axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _position: plain(value)))
    axes.yaxis.set_minor_formatter(ticker.FuncFormatter(_minor_tick))
    axes.set_ylabel("wait per step, ms (log scale)")
    _slant_names(axes)
    axes.grid(axis="y", alpha=0.3)
    return True


SWEEP_PLOT_FILES = {
    "Peak memory against dataset size": "memory_vs_samples.png",
    "Epoch time against dataset size": "epoch_vs_samples.png",
}


def write_sweep_plots(sweep: SweepResult, folder: Path) -> dict[str, str]:
    """One line per scenario: measured points, the fitted growth, and the prediction at the target."""
    pyplot = _pyplot()
    sweep = escaped(sweep, terminal_text)
    growths = [g for g in sweep.growths if g.sizes]
    if not growths:
        return {}
    written = {}
    for caption, name in SWEEP_PLOT_FILES.items():
        memory = name == "memory_vs_samples.png"
        figure, axes = pyplot.subplots(figsize=(8, 4.8), dpi=_DPI)
        try:
            _growth_lines(axes, pyplot, sweep, growths, memory)
            _growth_axes(axes, sweep, memory, caption)
            _save(figure, folder / name)
            written[caption] = name
        finally:
            pyplot.close(figure)
    return written


def _growth_lines(axes: Any, pyplot: Any, sweep: SweepResult, growths: list[ScenarioGrowth], memory: bool) -> None:
    predictions = {p.name: p for p in sweep.predictions}
    largest = max(max(g.sizes) for g in growths)
    reach = max(largest, sweep.target_samples or 0)
    smallest = min(min(g.sizes) for g in growths)
    for index, growth in enumerate(growths):
        # Twelve and more scenarios: the default ten-colour cycle would repeat.
        colour = pyplot.get_cmap("tab20")(index % 20)
        fit = growth.memory if memory else growth.epoch
        offset = (growth.baseline_rss_mib or 0.0) if memory else 0.0
        values = growth.peak_rss_mib if memory else growth.epoch_s
        axes.plot(growth.sizes, [v + offset for v in values], "o", color=colour, label=growth.name)
        prediction = predictions.get(growth.name)
        if fit is None:
            continue
        usable = prediction is None or prediction.problem is None
        xs = _spread(smallest, reach if usable else largest)
        axes.plot(xs, [max(fit.predict(x), 0.0) + offset for x in xs], "-" if usable else ":",
                  color=colour, linewidth=1)
        if prediction is not None and usable:
            value = prediction.peak_mib if memory else prediction.epoch_s
            axes.plot([prediction.target_samples], [value], "x", color=colour, markersize=9)


def _growth_axes(axes: Any, sweep: SweepResult, memory: bool, caption: str) -> None:
    plotted = [y for line in axes.get_lines() for y in line.get_ydata() if y > 0]
    if sweep.target_samples:
        axes.axvline(sweep.target_samples, color="grey", linestyle="--", linewidth=0.8,
                     label=f"target, {sweep.target_samples:,} samples (x: predicted)")
    if memory and sweep.target_samples and sweep.memory_budget_mib:
        budget = f"budget, {sweep.memory_budget_mib:,.0f} MiB"
        if sweep.memory_budget_mib <= 3 * max(plotted, default=1.0):
            axes.axhline(sweep.memory_budget_mib, color="tab:red", linestyle="--", linewidth=1, label=budget)
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
    axes.set_title(caption + " (points: measured; lines: fitted growth, dotted where not trusted)")
    axes.title.set_fontsize("medium")
    axes.legend(fontsize="x-small", loc="upper left", ncol=2)
    axes.grid(alpha=0.3, which="both")


def _spread(low: float, high: float, points: int = 50) -> list[float]:
    """Evenly spaced on a log scale, so the fitted line looks smooth on log axes."""
    if high <= low:
        return [low]
    ratio = (high / low) ** (1.0 / (points - 1))
    return [low * ratio**i for i in range(points)]
