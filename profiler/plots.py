"""PNG plots of a run, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from profiler.results import INPUT_BOUND_AT, MODERATELY_INPUT_BOUND_AT, RunResult, ScenarioResult

# caption -> file name; the order is the order in the report.
PLOT_FILES = {
    "Memory of the process tree over time": "memory.png",
    "Batches per second, flat out": "throughput.png",
    "Accelerator idle time": "idle.png",
    "Wait for each batch": "waits.png",
}
_DPI = 110


def write_plots(run: RunResult, folder: Path) -> dict[str, str]:
    """Draw every plot that the run has data for into ``folder``; return caption -> file name."""
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: never try to open a display
    from matplotlib import pyplot

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
                figure.tight_layout()
                figure.savefig(folder / name, format="png", metadata={"Software": None})
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
    baselines = sorted(r.baseline_rss_mb for r in drawn if r.baseline_rss_mb is not None)
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
    rated = [r for r in results if r.batches_per_s is not None]
    if not rated:
        return False
    names = [r.name for r in rated]
    medians = [r.batches_per_s for r in rated]
    below = [r.batches_per_s - (r.batches_per_s_min or r.batches_per_s) for r in rated]
    above = [(r.batches_per_s_max or r.batches_per_s) - r.batches_per_s for r in rated]
    axes.bar(names, medians, yerr=[below, above], capsize=4, color="tab:blue", alpha=0.8)
    axes.set_yscale("log")
    axes.set_ylabel("batches/s (median, min-max), log scale")
    axes.tick_params(axis="x", labelrotation=20)
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
    axes.set_ylabel(f"idle % at {run.options.get('step_ms', 0):g} ms/step")
    axes.tick_params(axis="x", labelrotation=20)
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
    axes.set_ylabel("wait per step, ms (log scale)")
    axes.tick_params(axis="x", labelrotation=20)
    axes.grid(axis="y", alpha=0.3)
    return True
