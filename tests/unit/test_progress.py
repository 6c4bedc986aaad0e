"""The lines long work prints as it goes: a count of what is done, and for a sweep the time left,
told from the sizes measured (a clock the test moves)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.reporters import progress
from profiler.reporters.progress import RunProgress, duration_text
from profiler.reporters.series_progress import SweepProgress
from profiler.results.records import RunResult, ScenarioResult


def _run(names: list[str]) -> RunResult:
    return RunResult(
        metadata=Metadata(),
        settings=MeasureSettings(),
        targets=tuple(Target.scenario(name) for name in names),
        data=None,
    )


def _done(name: str) -> ScenarioResult:
    return ScenarioResult(name=name, status="ok", wall_s=1.0)


def _console() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(file=stream, width=120, force_terminal=False, color_system=None), stream


def test_a_run_counts_its_finished_targets():
    console, stream = _console()
    shown = RunProgress(console, Path("results.json"))
    shown.run_started(_run(["a", "b", "c"]))
    for name in ("a", "b", "c"):
        shown.target_started(Target.scenario(name), None)
    for name in ("b", "a", "c"):
        shown.target_finished(_done(name), None)
    shown.finished()
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("[")]
    assert lines == ["[1/3] done b in 1.0 s", "[2/3] done a in 1.0 s", "[3/3] done c in 1.0 s"]


def test_a_sweep_tells_the_time_left_from_its_first_size_and_fits_it_once_two_are_measured(
    monkeypatch,
):
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    console, stream = _console()
    shown = SweepProgress(console, Path("sweep.json"), (1000, 2000, 4000, 8000))
    shown.run_started(_run(["a", "b"]))
    # 25 s into the first size its turns tell 20 s more: 45 s, and the sizes after it that grown
    # by the 0.6th power of their samples: 45 x (2^0.6 + 4^0.6 + 8^0.6) = 45 x 7.295 = 328 s.
    now[0] = 25.0
    shown.time_left(20.0)
    assert stream.getvalue().splitlines()[-1] == "[0/8, about 6 min left] measuring in turns"
    # Sizes of 1,000 and 2,000 samples took 30 s and 50 s. Once the first is whole, the rest is
    # 30 x 7.295 = 219 s ("3.5 min"); 50 s into the second, which should have taken 30 x 2^0.6 =
    # 45 s, only the sizes after it: 30 x (4^0.6 + 8^0.6) = 173 s. Once the second is whole, a
    # power law through the two (50 / 30 s for twice the samples), so 4,000 will take 83 s and
    # 8,000 139 s: 222 s, "3.5 min".
    for size, at in ((1000, 30.0), (2000, 80.0)):
        now[0] = at
        for name in ("a", "b"):
            shown.target_finished(_done(name), size)
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("[")][1:]
    assert lines[:3] == [
        "[1/8, about 6 min left] done a at 1,000 samples in 1.0 s",
        "[2/8, about 3.5 min left] done b at 1,000 samples in 1.0 s",
        "[3/8, about 3 min left] done a at 2,000 samples in 1.0 s",
    ]
    assert lines[3] == "[4/8, about 3.5 min left] done b at 2,000 samples in 1.0 s"
    # The sizes are counted in order: a user's folder may deliver fewer samples than asked. Once
    # the last is whole, nothing is left to tell.
    for size, at in ((3990, 170.0), (7990, 340.0)):
        now[0] = at
        for name in ("a", "b"):
            shown.target_finished(_done(name), size)
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("[")][1:]
    assert lines[5] == "[6/8, about 2.5 min left] done b at 3,990 samples in 1.0 s"
    assert lines[7] == "[8/8] done b at 7,990 samples in 1.0 s"
    assert (duration_text(3.0), duration_text(42.0), duration_text(3900.0)) == (
        "3 s",
        "40 s",
        "1 h 5 min",
    )
    # from 90 s to 10 min in half minutes: 100 and 140 s are not both "2 min"
    assert [duration_text(s) for s in (90.0, 100.0, 140.0, 170.0, 580.0, 590.0, 650.0)] == [
        "1.5 min",
        "1.5 min",
        "2.5 min",
        "3 min",
        "9.5 min",
        "10 min",
        "11 min",
    ]
    # the last seconds whole, never "0 s"; from ten on, in fives
    assert [duration_text(s) for s in (0.2, 1.4, 9.4, 9.6, 12.4)] == [
        "1 s",
        "1 s",
        "9 s",
        "10 s",
        "10 s",
    ]


def test_off_a_terminal_a_display_that_ends_at_an_error_leaves_no_empty_line():
    # Indexing a user's data fails at once: the one-line error must not follow an empty line.
    from profiler.data.synthetic import DataSpec

    stream = io.StringIO()
    console = Console(file=stream, width=100, force_terminal=False, color_system=None)
    shown = RunProgress(console, Path("results.json"))
    shown.preparing_data(DataSpec(samples=8, height=8, width=8, source_size=16, classes=2))
    shown.measuring_ceiling()
    shown.finished()
    assert stream.getvalue() == ""
