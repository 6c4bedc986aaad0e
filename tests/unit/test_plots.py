"""Plots at fourteen scenarios: every name readable (no two labels overlap), one colour per scenario
shared by every plot, and memory drawn above the baseline from the pipeline's build."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from profiler.reporters import plots
from profiler.reporters.plotkit import colours, pyplot
from profiler.results.files import load_run

DATA = Path(__file__).resolve().parents[1] / "data"
NAMES = [
    "preload",
    "generator",
    "generator_prefetch",
    "multiprocessing",
    "cache",
    "threaded_generator",
    "parallel_map",
    "parallel_map_opencv",
    "tfrecord",
    "cache_file",
    "snapshot",
    "pydataset",
    "pydataset_processes",
    "shop.pipelines:make_dataset(workers=4)",
]


@pytest.fixture(scope="module")
def run14():
    run = load_run(DATA / "run_base.json")
    template = next(r for r in run.scenarios if r.ok and r.wait_ms and r.memory_timeline)
    rows = []
    for number, name in enumerate(NAMES):
        # A known timeline: 600 MiB until the build at 2 s, then 600 + 10 x number MiB.
        timeline = (
            (0.5, 300.0),
            (1.0, 590.0),
            (2.0, 600.0),
            (2.5, 600.0 + 10 * number),
            (3.0, 600.0 + 10 * number),
        )
        rows.append(
            replace(
                template,
                name=name,
                samples_per_s=1000.0 * (number + 1),
                peak_rss_mib=10.0 * number,
                memory_timeline=timeline,
                baseline_rss_mib=600.0,
                build_started_s=2.0,
            )
        )
    return replace(run, scenarios=tuple(rows))


def _overlapping(labels) -> list[tuple[str, str]]:
    boxes = [(label.get_text(), label.get_window_extent()) for label in labels if label.get_text()]
    return [
        (a, b)
        for i, (a, box_a) in enumerate(boxes)
        for b, box_b in boxes[i + 1 :]
        if box_a.overlaps(box_b)
    ]


@pytest.mark.parametrize("drawer", ["_peaks", "_throughput", "_idle", "_waits"])
def test_bar_plots_read_at_fourteen_scenarios(run14, drawer):
    palette = colours([r.name for r in run14.scenarios])
    figure = getattr(plots, drawer)(list(run14.scenarios), run14, palette)
    try:
        figure.tight_layout()
        figure.canvas.draw()
        axes = figure.axes[0]
        names = [label.get_text() for label in axes.get_yticklabels()]
        assert names == NAMES  # top to bottom in the table's order
        assert _overlapping(axes.get_yticklabels()) == []
        assert _overlapping(axes.get_xticklabels()) == []
        assert all(
            "e+" not in label.get_text() and "^" not in label.get_text()
            for label in axes.get_xticklabels()
        )
    finally:
        pyplot().close(figure)


def test_every_scenario_has_its_own_colour_in_every_plot(run14):
    palette = colours(NAMES)
    assert len(set(palette.values())) == 14
    # by place in the run's list...
    assert colours(list(reversed(NAMES)))["preload"] != palette["preload"]
    assert colours(NAMES)["cache"] == palette["cache"]  # ...so every plot of one run agrees
    figure = plots._throughput(list(run14.scenarios), run14, palette)
    try:
        bars = figure.axes[0].patches
        assert [bar.get_facecolor() for bar in bars] == [palette[name] for name in NAMES]
    finally:
        pyplot().close(figure)


def test_memory_is_drawn_above_the_baseline_from_the_build(run14):
    palette = colours(NAMES)
    figure = plots._memory(list(run14.scenarios), run14, palette)
    try:
        lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
        for number, name in enumerate(NAMES):
            line = lines[name]
            # from the build on, the import left out
            assert list(line.get_xdata()) == [
                0.0,
                0.5,
                1.0,
            ]
            assert list(line.get_ydata()) == [0.0, 10.0 * number, 10.0 * number]
    finally:
        pyplot().close(figure)


def test_all_plots_are_written_at_fourteen_scenarios(run14, tmp_path):
    written = plots.write_run_plots(run14, tmp_path)
    assert sorted(written.values()) == [
        "idle.png",
        "memory.png",
        "peaks.png",
        "stages.png",
        "throughput.png",
        "waits.png",
    ]
    for name in written.values():
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_one_strategy_far_above_the_rest_does_not_flatten_them(run14):
    palette = colours(NAMES)
    rows = list(run14.scenarios)
    figure = plots._peaks(rows, run14, palette)
    try:
        assert figure.axes[0].get_xscale() == "linear"  # 0 to 130 MiB: all readable on a line
    finally:
        pyplot().close(figure)
    rows[-1] = replace(rows[-1], peak_rss_mib=2000.0)
    figure = plots._peaks(rows, run14, palette)
    try:
        assert figure.axes[0].get_xscale() == "symlog"
    finally:
        pyplot().close(figure)


def test_row_names_that_look_like_math_are_drawn_as_written(run14, tmp_path):
    # Names a --pipeline-arg makes: math-text markup, an unbalanced dollar, a bad command.
    names = ["m:f(tag='$\\\\alpha$')", "m:f(tag='a $ b')", "m:f(tag='$\\\\frac{$')"]
    rows = tuple(
        replace(row, name=name) for row, name in zip(run14.scenarios[:3], names, strict=True)
    )
    written = plots.write_run_plots(replace(run14, scenarios=rows), tmp_path)
    assert len(written) == 6
    for name in written.values():
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_a_long_row_name_is_drawn_by_its_ends(run14):
    # A 9,000-character --pipeline-arg value in a row's name: drawn whole, laying it out cost
    # seconds a plot; each plot draws its first 30 and last 15 characters.
    long_name = "m:f(tag='" + "x" * 9_000 + "')"
    rows = list(run14.scenarios)
    rows[0] = replace(rows[0], name=long_name)
    run = replace(run14, scenarios=tuple(rows))
    palette = colours([r.name for r in rows])
    drawn = long_name[:30] + "..." + long_name[-15:]
    for draw in (plots._peaks, plots._throughput, plots._idle, plots._memory):
        figure = draw(rows, run, palette)
        try:
            texts = [t.get_text() for t in figure.axes[0].get_yticklabels()]
            legend = figure.axes[0].get_legend()
            texts += [t.get_text() for t in legend.get_texts()] if legend else []
            assert drawn in texts, (draw.__name__, [t[:60] for t in texts])
            assert max(len(t) for t in texts) <= 48, draw.__name__
        finally:
            pyplot().close(figure)
