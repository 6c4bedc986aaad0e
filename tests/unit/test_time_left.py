"""The time left told while a group is measured in turns, and while a series goes step by step:
arithmetic on durations the test sets (a clock the test moves), never a measured one."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from profiler.base.settings import MeasureSettings, Target
from profiler.data.synthetic import DataSpec
from profiler.measuring.group import Group, GroupClock, Member, time_left_s
from profiler.measuring.procedure import FLOOR_STEPS, PACED_BLOCK, TURN_COST_S, TURNS, budget_s
from profiler.reporters import progress
from profiler.reporters.progress import (
    FINISHING_S,
    PLAIN_LEFT_EVERY_S,
    RunProgress,
    duration_text,
)
from profiler.reporters.series_progress import SeriesProgress, SweepProgress
from profiler.results.records import ScenarioResult
from profiler.worker.loops import EpochTiming
from tests.unit.test_progress import _done, _run

SETTINGS = MeasureSettings(time_cap_s=1.5, idle_time_cap_s=1.0, step_ms=20.0, window_s=0.1)
WARMUP = EpochTiming(seconds=0.3, first_batch_s=0.1, batches=32, samples=1024, cpu_s=0.3)


def test_a_workers_budget_adds_every_capped_phase():
    # Warm-up and check epochs 0.6; flat out 1.5 + a window 0.1; paced: 32 steps of 20 ms (0.64)
    # is under the 1.0 cap, a block past it 0.32, and two epoch starts; two floor blocks 0.32.
    fixed = 0.6 + 1.6 + 1.0 + PACED_BLOCK * 0.02 + 2 * FLOOR_STEPS * 0.02 + TURNS * TURN_COST_S
    assert budget_s(SETTINGS, WARMUP) == pytest.approx(fixed + 2 * 0.1)
    # Once a paced epoch has begun, its wait replaces the warm-up's first batch.
    assert budget_s(SETTINGS, WARMUP, epoch_start_s=1.5) == pytest.approx(fixed + 2 * 1.5)
    # Long epochs: the flat-out phase lasts an epoch at least, the paced one an epoch of steps.
    long = EpochTiming(seconds=4.0, first_batch_s=0.1, batches=100, samples=3200, cpu_s=4.0)
    assert budget_s(SETTINGS, long) == pytest.approx(
        8.0 + 4.1 + 2.0 + PACED_BLOCK * 0.02 + 0.2 + 2 * FLOOR_STEPS * 0.02 + TURNS * TURN_COST_S
    )
    # Steps of 40 ms: three turns of 16 (1.92 s), the fewest an idle interval is drawn from, pass
    # the 1.0 cap and the 1.28 s epoch of steps.
    slow_steps = replace(SETTINGS, step_ms=40.0)
    assert budget_s(slow_steps, WARMUP) == pytest.approx(
        0.6
        + 1.6
        + 3 * PACED_BLOCK * 0.04
        + PACED_BLOCK * 0.04
        + 0.2
        + 2 * FLOOR_STEPS * 0.04
        + TURNS * TURN_COST_S
    )


def _member(turns_s: float, first: EpochTiming | None, finished: bool = False) -> Member:
    session = SimpleNamespace(turns_s=turns_s, first_epoch=first, epoch_start_s=None)
    member = Member(Target.scenario("s"), 0, session)  # type: ignore[arg-type]
    member.finished = finished
    return member


def test_a_groups_time_left_scales_the_turns_left_by_the_wall_each_turn_second_cost():
    budget = budget_s(SETTINGS, WARMUP)
    members = [_member(2.0, WARMUP), _member(1.0, WARMUP), _member(9.0, WARMUP, finished=True)]
    group = Group([], None, None, members, turns_began=100.0)  # type: ignore[arg-type]
    # 12 turn seconds took 30 s of wall time: 2.5 s each. Left: the two unfinished budgets, less
    # the 3 s they took.
    assert time_left_s(group, SETTINGS, now=130.0) == pytest.approx((2 * budget - 3.0) * 2.5)
    # A worker past its budget has nothing left, never less.
    group.members = [_member(budget + 5.0, WARMUP), _member(1.0, WARMUP)]
    assert time_left_s(group, SETTINGS, now=130.0) == pytest.approx(
        (budget - 1.0) * 30.0 / (budget + 6.0)
    )
    # Unknown before every worker has timed its first epoch, or before any turn.
    group.members = [_member(2.0, WARMUP), _member(0.5, None)]
    assert time_left_s(group, SETTINGS, now=130.0) is None
    group.members = [_member(0.0, None)]
    assert time_left_s(group, SETTINGS, now=130.0) is None


def test_once_workers_finish_the_others_budgets_shrink_to_the_share_the_finished_ones_used():
    budget = budget_s(SETTINGS, WARMUP)
    # Two finished after 60% of their budgets (precise before their caps): the two still measuring
    # are told 60% of what their budgets leave. 12 turn seconds and more took 30 s of wall time.
    finished = [_member(0.6 * budget, WARMUP, finished=True) for _ in range(2)]
    live = [_member(1.0, WARMUP), _member(2.0, WARMUP)]
    group = Group([], None, None, finished + live, turns_began=100.0)  # type: ignore[arg-type]
    spent = 1.2 * budget + 3.0
    assert time_left_s(group, SETTINGS, now=130.0) == pytest.approx(
        0.6 * (2 * budget - 3.0) * 30.0 / spent
    )
    # One that failed midway says nothing of the pace: the other finished one alone sets it.
    failed = _member(0.1 * budget, WARMUP, finished=True)
    failed.status = "failed"
    group.members = [failed, finished[0], *live]
    spent = 0.7 * budget + 3.0
    assert time_left_s(group, SETTINGS, now=130.0) == pytest.approx(
        0.6 * (2 * budget - 3.0) * 30.0 / spent
    )
    # Finished past their budgets: the others are told their whole budgets, never more.
    group.members = [_member(1.5 * budget, WARMUP, finished=True), *live]
    spent = 1.5 * budget + 3.0
    assert time_left_s(group, SETTINGS, now=130.0) == pytest.approx(
        (2 * budget - 3.0) * 30.0 / spent
    )


def _console() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(file=stream, width=120, force_terminal=False, color_system=None), stream


def _lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line.startswith("[")]


def test_off_a_terminal_the_time_left_comes_in_plain_lines_now_and_then(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    console, stream = _console()
    shown = RunProgress(console, Path("results.json"))
    shown.run_started(_run(["a", "b"]))
    for name in ("a", "b"):
        shown.target_started(Target.scenario(name), None)
    for at, left in ((5.0, None), (10.0, 62.0), (25.0, 50.0), (31.0, 44.0)):
        now[0] = at
        shown.time_left(left)
    # Nothing said before 20 s, then once; the next not before 20 s more.
    assert _lines(stream) == ["[0/2, about 50 s left] measuring in turns"]
    shown.target_finished(_done("a"), None)
    now[0] = 60.0
    shown.time_left(6.2)  # the turns' 6.2 s, and the table and report after them
    shown.target_finished(_done("b"), None)
    shown.finished()
    assert _lines(stream)[1:] == [
        "[1/2, about 45 s left] done a in 1.0 s",
        f"[1/2, about {round(6.2 + FINISHING_S)} s left] measuring in turns",
        "[2/2] done b in 1.0 s",
    ]


def test_a_series_counts_its_steps_and_fits_their_time_to_their_targets(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    console, stream = _console()
    shown = SeriesProgress(console, Path("tune.json"), lambda run: "Tuning")

    def step(at: float, text: str, targets: int) -> None:
        now[0] = at
        shown.step_started(text)
        shown.run_started(_run(["t"] * targets))
        for _ in range(targets):
            shown.target_started(Target.scenario("t"), None)

    step(0.0, "defaults", 3)  # the steps are not known yet: no count
    # Its ceiling took 30 s, which no later step has: not time its targets take.
    now[0] = 5.0
    shown.measuring_ceiling()
    now[0] = 35.0
    shown.ceiling_measured(None, "none")
    shown.steps_planned([3, 4, 2, 6, 4])
    # 3 targets in 90 - 30 s: 20 s a target; counts that span less than 3 tell no fixed time.
    step(90.0, "knob x", 4)  # 4 + 2 + 6 + 4 targets: 320 s
    step(170.0, "knob y", 2)  # 4 in 80 s, 20 s a target again: 2 + 6 + 4 targets, 240 s
    # 2 targets in 50 s: counts from 2 to 4 span 2, still a time per target: the median of 20,
    # 20 and 25 s, for the 6 + 4 left: 200 s.
    step(220.0, "knob z", 6)
    # 6 in 130 s: counts 2 to 6, a line through (2, 50), (3, 60), (4, 80), (6, 130): 20 s a
    # target and a fixed 5 s (Theil-Sen's medians), for the 4 left: 85 s.
    step(350.0, "knob w", 4)
    lines = _lines(stream)
    assert lines == [
        "[2/5, about 5.5 min left] knob x",
        "[3/5, about 4 min left] knob y",
        "[4/5, about 3.5 min left] knob z",
        "[5/5, about 85 s left] knob w",
    ], lines
    now[0] = 400.0
    shown.time_left(10.0)
    assert _lines(stream)[-1] == "[5/5, about 10 s left] measuring in turns"
    shown.finished()


def _tuning_of_steps(
    monkeypatch: pytest.MonkeyPatch, starts: tuple[tuple[float, str], ...], told_s: float | None
) -> tuple[list[float], SeriesProgress, io.StringIO]:
    """A tuning planned as three steps of 2 targets, begun at each (time, text) of ``starts``; where
    ``told_s`` is given, each step's turns tell it 1 s before the next begins; and the clock."""
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    console, stream = _console()
    shown = SeriesProgress(console, Path("tune.json"), lambda run: "Tuning")
    shown.steps_planned([2, 2, 2])
    for number, (at, text) in enumerate(starts):
        now[0] = at
        shown.step_started(text)
        shown.run_started(_run(["t", "t"]))
        for _ in range(2):
            shown.target_started(Target.scenario("t"), None)
        if told_s is not None and number + 1 < len(starts):
            now[0] = starts[number + 1][0] - 1.0
            shown.time_left(told_s)  # the step's own turns, near its end
    return now, shown, stream


def test_an_added_step_joins_the_count_and_the_time_left_where_it_is_placed(monkeypatch):
    # Step a took 40 s for its 2 targets: 20 s a target for the steps to come.
    now, shown, stream = _tuning_of_steps(monkeypatch, ((0.0, "a"), (40.0, "b")), None)
    now[0] = 50.0
    shown.time_left(5.0)  # the third step's 2 targets after this one's 5 s
    assert _lines(stream)[-1] == "[2/3, about 45 s left] measuring in turns"
    shown.step_added(2, after=1)  # a confirmation, after the third step
    now[0] = 50.0 + PLAIN_LEFT_EVERY_S  # off a terminal, the time left is said now and then
    shown.time_left(5.0)  # 5 s, then 4 targets
    assert _lines(stream)[-1] == "[2/4, about 85 s left] measuring in turns"
    now[0] = 80.0  # b took 40 s too
    shown.step_started("c")
    now[0] = 81.0
    shown.step_started("the confirmation")  # placed after c, and the plan's last
    assert _lines(stream)[-2:] == [
        "[3/4, about 80 s left] c",
        "[4/4, about 40 s left] the confirmation",
    ]
    shown.finished()


def _sweep_two_sizes_done(
    monkeypatch: pytest.MonkeyPatch, sizes: tuple[int, ...]
) -> tuple[list[float], SweepProgress, io.StringIO]:
    """A sweep of one target whose sizes of 1,000 and 2,000 samples took 40 s and 60 s (each
    doubling of the samples takes 1.5 times the time: 90 s for 4,000, 135 s for 8,000), each told
    "3 s" by its turns near its end; and the clock."""
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    console, stream = _console()
    shown = SweepProgress(console, Path("sweep.json"), sizes)
    shown.run_started(_run(["a"]))
    for size, at in ((1000, 40.0), (2000, 100.0)):
        now[0] = at - 1.0
        shown.time_left(3.0)  # the size under way's own turns, near its end
        now[0] = at
        shown.target_finished(_done("a"), size)
    return now, shown, stream


def test_a_sweeps_next_size_is_told_by_the_fit_until_its_turns_can_tell(monkeypatch):
    # The last size, 4,000, takes 90 s. While its workers import (its turns cannot tell yet), the
    # time left is that less the time it has taken; never the figure the size before last told.
    now, shown, stream = _sweep_two_sizes_done(monkeypatch, (1000, 2000, 4000))
    for at, turns_left in ((120.0, None), (145.0, None), (170.0, 12.0)):
        now[0] = at
        shown.time_left(turns_left)
    assert _lines(stream)[-3:] == [
        "[2/3, about 70 s left] measuring in turns",
        "[2/3, about 45 s left] measuring in turns",
        "[2/3, about 10 s left] measuring in turns",
    ], _lines(stream)
    shown.sweep_finished()


def test_a_series_next_step_is_told_by_the_fit_until_its_turns_can_tell(monkeypatch):
    # Two steps of 2 targets took 40 s each: 20 s a target. 20 s into the third (2 targets), while
    # its workers import, 40 - 20 s are left; then its turns tell their own.
    starts = ((0.0, "a"), (40.0, "b"), (80.0, "c"))
    now, shown, stream = _tuning_of_steps(monkeypatch, starts, told_s=1.0)
    now[0] = 100.0
    shown.time_left(None)
    now[0] = 140.0
    shown.time_left(6.0)
    assert _lines(stream)[-3:] == [
        "[3/3, about 40 s left] c",
        "[3/3, about 20 s left] measuring in turns",
        "[3/3, about 6 s left] measuring in turns",  # the last seconds whole
    ], _lines(stream)
    shown.finished()


def test_a_size_that_outlasts_its_fit_leaves_the_sizes_after_it(monkeypatch):
    # 4,000 samples take 90 s and 8,000 take 135 s. 20 s into the 4,000, 70 + 135 s are left;
    # 120 s into it, past its fit, the 8,000 are still ahead: 135 s, never "0 s".
    now, shown, stream = _sweep_two_sizes_done(monkeypatch, (1000, 2000, 4000, 8000))
    for at in (120.0, 220.0):
        now[0] = at
        shown.time_left(None)
    assert _lines(stream)[-2:] == [
        "[2/4, about 3.5 min left] measuring in turns",
        "[2/4, about 2 min left] measuring in turns",
    ], _lines(stream)
    shown.sweep_finished()


def _sweep_of_two_targets(
    monkeypatch: pytest.MonkeyPatch, sizes: tuple[int, ...]
) -> tuple[list[float], SweepProgress, io.StringIO]:
    """A sweep of two targets a size whose 1,000 and 2,000 samples took 40 s and 60 s (each
    doubling takes 1.5 times the time: 4,000 take 90 s), both sizes whole at 100 s; the clock."""
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    console, stream = _console()
    shown = SweepProgress(console, Path("sweep.json"), sizes)
    shown.run_started(_run(["a", "b"]))
    for size, at in ((1000, 40.0), (2000, 100.0)):
        now[0] = at
        shown.target_finished(_done("a"), size)
        shown.target_finished(_done("b"), size)
    return now, shown, stream


def test_a_target_done_mid_size_tells_the_time_left_less_what_the_size_has_taken(monkeypatch):
    # Two targets a size; 1,000 and 2,000 samples took 40 s and 60 s: each doubling takes 1.5
    # times the time, so 4,000 take 90 s. The first target of the 4,000 done 50 s into it leaves
    # 40 s, not the size's whole 90.
    now, shown, stream = _sweep_of_two_targets(monkeypatch, (1000, 2000, 4000))
    now[0] = 150.0
    shown.target_finished(_done("a"), 4000)
    done = [line for line in stream.getvalue().splitlines() if line.startswith("[")]
    # Before two sizes are whole, from the first grown by the 0.6th power of the samples: 40 x
    # 2^0.6 = 60.6 s for the 2,000, 60 s of it taken, and 40 x 4^0.6 = 91.9 s for the 4,000.
    assert done[-3].startswith("[3/6, about 1.5 min left] "), done
    assert done[-2].startswith("[4/6, about 1.5 min left] "), done  # 90 s
    assert done[-1].startswith("[5/6, about 40 s left] "), done
    shown.sweep_finished()


def test_groups_after_the_one_under_way_are_told_at_its_pace_per_target():
    # Three targets, then one that did not fit beside them. 20 s into the first group its turns
    # tell 10 s: 30 s for 3 targets, 10 s a target, so the later one adds 10 s. Before, only the
    # first group's 10 s were told.
    told: list[float | None] = []
    clock = GroupClock([3, 1], told.append)
    clock.group_started(0, now=100.0)
    clock.left(None, now=105.0)  # its workers import: nothing known yet
    clock.left(10.0, now=120.0)
    clock.left(0.0, now=131.0)  # its last turn ends: 31 s for 3 targets
    clock.group_started(1, now=131.0)
    clock.left(None, now=135.0)  # the later group imports: its 10.3 s less the 4 s taken
    clock.left(2.0, now=140.0)  # then its own turns tell
    assert told[:2] == [None, 20.0]
    assert told[2] == pytest.approx(31.0 / 3)
    assert told[3] == pytest.approx(31.0 / 3 - 4.0)
    assert told[4] == 2.0


def test_a_sweeps_done_line_tells_what_its_turns_told_where_they_can(monkeypatch):
    # Two targets a size; the fit gives 4,000 samples 90 s. 30 s into them, the turns (which know
    # of a group still to come) tell 75 s: the next done line says so, not the fit's 60 s.
    now, shown, stream = _sweep_of_two_targets(monkeypatch, (1000, 2000, 4000))
    now[0] = 130.0
    shown.time_left(75.0)
    shown.target_finished(_done("a"), 4000)
    done = [line for line in stream.getvalue().splitlines() if line.startswith("[")]
    assert done[-1].startswith("[5/6, about 75 s left] done a"), done
    shown.sweep_finished()


def test_a_sweeps_done_line_at_a_size_boundary_tells_the_new_fit_and_the_last_tells_none(
    monkeypatch,
):
    # 1,000 and 2,000 samples took 40 s and 60 s. 50 s into the 4,000 their turns tell 20 s, plus
    # the 8,000 at that fit's 135 s. The 4,000 end at 70 s: the fit through 60 and 70 s now gives
    # the 8,000 70 x 2 ** log2(70 / 60) = 81.7 s, which the done line tells, never the stale
    # 155 s. The very last line tells no time at all.
    now, shown, stream = _sweep_of_two_targets(monkeypatch, (1000, 2000, 4000, 8000))
    now[0] = 150.0
    shown.time_left(20.0)
    for size, at in ((4000, 170.0), (8000, 250.0)):
        now[0] = at
        shown.target_finished(_done("a"), size)
        shown.target_finished(_done("b"), size)
    done = [line for line in stream.getvalue().splitlines() if "] done " in line]
    assert done[5].startswith("[6/8, about 80 s left] done b"), done
    assert done[-1].startswith("[8/8] done b"), done
    shown.sweep_finished()


def _timed(name: str, warmup_s: float, batches: int) -> ScenarioResult:
    """A row whose warm-up epoch took ``warmup_s`` for ``batches`` batches of 32."""
    return ScenarioResult(
        name=name,
        status="ok",
        wall_s=1.0,
        warmup_epoch_s=warmup_s,
        first_batch_s=0.1,
        batches_per_epoch=batches,
        samples_per_epoch=32 * batches,
    )


def test_a_sweep_tells_its_later_sizes_from_its_rows_budgets_once_one_size_is_whole(
    monkeypatch,
):
    # The first size's workers import for 30 s; its turns then take 40 s for rows whose warm-up
    # epochs took 0.5 s and 2.0 s (32 batches). Each later size costs the 30 s import again, and
    # its rows' budgets with epochs 2x and 4x as long, at the wall the first size's turn seconds
    # cost. Before, nothing was told until two sizes were whole.
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    console, stream = _console()
    sizes = (1000, 2000, 4000)
    shown = SweepProgress(console, Path("sweep.json"), sizes)
    shown.preparing_data(DataSpec(samples=1000))
    now[0] = 30.0
    run = _run(["a", "b"])
    shown.run_started(run)
    now[0] = 70.0
    rows = [_timed("a", 0.5, 32), _timed("b", 2.0, 32)]
    for row in rows:
        shown.target_finished(row, 1000)

    def budgets(scale: float) -> float:
        return sum(
            budget_s(
                run.settings,
                EpochTiming(row.warmup_epoch_s * scale, 0.1, round(32 * scale), 0, 0.0),
            )
            for row in rows
        )

    per_turn_second = 40.0 / budgets(1.0)
    expected = sum(30.0 + per_turn_second * budgets(scale) for scale in (2.0, 4.0))
    assert expected > 2 * 30.0 + 40.0 * 2  # the longer epochs of the larger sizes count
    done = [line for line in stream.getvalue().splitlines() if "] done " in line]
    assert done[0].startswith("[1/6] "), done  # the size is not whole yet
    assert done[1].startswith(f"[2/6, {_about(expected)}] "), (done, expected)
    # 20 s into the 2,000 samples, still importing: its fit less those 20 s, and the 4,000.
    now[0] = 90.0
    shown.time_left(None)
    assert _lines(stream)[-1] == f"[2/6, {_about(expected - 20.0)}] measuring in turns"
    shown.sweep_finished()


def _about(seconds: float) -> str:
    return f"about {duration_text(seconds)} left"


def test_a_series_planned_before_its_first_step_tells_from_that_steps_pace(monkeypatch):
    # Planned as 3 targets, then steps of 4 and 4, before anything is measured: the first step is
    # counted, with no time until its turns tell one. Its ceiling took 30 s; at 50 s its turns
    # tell 4 s left: 20 + 4 s for its 3 targets, 8 s a target, and 8 targets after it: 68 s.
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    console, stream = _console()
    shown = SeriesProgress(console, Path("tune.json"), lambda run: "Tuning")
    shown.steps_planned([3, 4, 4])
    shown.step_started("defaults")
    shown.measuring_ceiling()
    now[0] = 30.0
    shown.ceiling_measured(None, "none")
    shown.run_started(_run(["t"] * 3))
    for _ in range(3):
        shown.target_started(Target.scenario("t"), None)
    now[0] = 40.0
    shown.time_left(None)  # its workers are still importing
    now[0] = 50.0
    shown.time_left(4.0)
    lines = _lines(stream)
    assert lines[0] == "[1/3] defaults", lines
    assert lines[-1] == "[1/3, about 70 s left] measuring in turns", lines
    # The first step whole (60 s less its 30 s ceiling: 10 s a target), the plan made then
    # replaces the expected one: 2 steps of 3 targets.
    shown.steps_planned([3, 3, 3])
    now[0] = 60.0
    shown.step_started("knob x")
    assert _lines(stream)[-1] == "[2/3, about 60 s left] knob x"
    shown.finished()
