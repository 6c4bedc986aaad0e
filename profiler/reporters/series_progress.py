"""The live display of a series of runs: a sweep's sizes, a tuning's or a scale measurement's
steps, each with its count and the time left fitted to the steps done."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.text import Text

from profiler.base.settings import MeasureSettings, Target
from profiler.base.stats import theil_sen
from profiler.ceiling.limit import Ceiling
from profiler.data.synthetic import DataSource, DataSpec
from profiler.measuring.procedure import row_budget_s
from profiler.reporters.progress import RunProgress, counted, duration_text, result_line
from profiler.reporters.safe import terminal_text
from profiler.results.records import RunResult, ScenarioResult

# A sweep's size time is not fitted to grow faster than this power of its samples: two noisy sizes
# must not forecast an explosion.
MAX_SIZE_POWER = 1.5

# Until a size is whole and its rows tell their budgets, a later size is told as its import and the
# first size's time grown by this power of the samples. Through three default sweeps here, told
# from the first size's time, the later sizes came within -8% to +3% of what they took (0.5: -18%
# to -9%; 0.75: +12% to +26%).
FIRST_SIZE_POWER = 0.6

# A series' steps are fitted a fixed time and a time per target once their target counts differ by
# this many; before, a time per target alone.
FIT_SPAN_TARGETS = 3


class SweepProgress(RunProgress):
    """Shows a sweep: the data and ceiling of the smallest size as a run does, then one spinner for
    all."""

    def __init__(
        self, console: Console, results_path: Path, sizes: Sequence[int], notes: Sequence[str] = ()
    ) -> None:
        super().__init__(console, results_path, notes)
        self.sizes = tuple(sizes)
        self._header_shown = False
        # How long each whole size took, in the order measured (a user's folder may deliver fewer
        # samples than the size asked, so sizes are counted, not named), and how many targets of
        # the size under way are done: the time left is fitted to those.
        self._took_s: list[float] = []
        self._in_size = 0
        self._mark = 0.0  # when the last size was whole, or the first began
        self._per_size = 0
        # What a size's time is fitted to once one is whole: the seconds before its turns (its
        # workers' import, timed at the first size), and the turn seconds its rows' procedures
        # take (procedure.budget_s), their epochs scaled to the size.
        self._began: float | None = None
        self._import_s: float | None = None
        self._settings: MeasureSettings | None = None
        self._rows: list[ScenarioResult] = []
        self._last_rows: list[ScenarioResult] = []
        self._per_turn_s: float | None = None  # of the last whole size (_wall_per_turn_s)

    def preparing_data(self, spec: DataSpec) -> None:
        if self._began is None:
            self._began = time.monotonic()
        if not self._header_shown:
            super().preparing_data(spec)
        else:
            self._display.update(self._task, description=f"preparing {spec.describe()}")

    def data_ready(self, source: DataSource, generated: bool) -> None:
        if not self._header_shown:
            super().data_ready(source, generated)
        elif generated and not source.spec.is_user_data:
            self._display.console.print(
                terminal_text(f"Generated dataset: {source.root}"), markup=False
            )

    def run_started(self, run: RunResult) -> None:
        if self._header_shown:
            return
        self._header_shown = True
        self._mark = time.monotonic()
        self._import_s = None if self._began is None else self._mark - self._began
        self._settings = run.settings
        self._per_size = len(run.targets)
        self._total = len(run.targets) * len(self.sizes)
        for note in self.notes:
            self.say(note)
        sizes = ", ".join(f"{n:,}" for n in self.sizes)
        self.say(
            f"Measuring {len(run.targets)} scenario(s) at {len(self.sizes)} sizes ({sizes} "
            f"samples), each in a fresh process; results go to {self.results_path}"
        )
        self._start_targets()
        self._task = self._display.add_task("starting", total=None)

    def target_started(self, target: Target, samples: int | None) -> None:
        self._display.update(
            self._task, description=f"{target.name} at {samples or 0:,} samples: starting worker"
        )

    def phase(self, name: str, phase: str, samples: int | None) -> None:
        # Workers report from their own threads, and import before the first size's display is up.
        if isinstance(self._display, Progress):
            self._display.update(
                self._task, description=f"{name} at {samples or 0:,} samples: {phase}"
            )

    def target_finished(self, result: ScenarioResult, samples: int | None) -> None:
        console = self._display.console if self._display is not None else self.console
        self._done += 1
        self._in_size += 1
        self._rows.append(result)
        if self._in_size == self._per_size:  # the size is whole: the fit knows one size more
            now = time.monotonic()
            self._took_s.append(now - self._mark)
            self._mark, self._in_size = now, 0
            self._last_rows, self._rows = self._rows, []
            self._per_turn_s = self._wall_per_turn_s()
            self._time_left = None  # told with the fit of one size fewer
        # The live row's figure where its turns tell (they know the groups still to come), else
        # the fit's; nothing once the last is done.
        left = self._time_left if self._time_left is not None else self._fit_left_s()
        total = max(self._total, self._done)
        line = result_line(result, f" at {samples or 0:,} samples")
        console.print(counted(line, self._done, total, left if self._done < total else None))

    def time_left(self, seconds: float | None) -> None:
        # The size under way's turns, and the sizes after it as fitted. Before its turns can tell
        # (its workers import and take their first epochs), the fit tells for it too; during the
        # first size, the sizes after it grow from what the first will have taken.
        if seconds is None:
            return self._show_left(self._fit_left_s())
        after = self._after_current_s()
        if after is None and not self._took_s:
            first = time.monotonic() - self._mark + seconds
            after = sum(self._grown_s(first, self.sizes[0], n) for n in self.sizes[1:])
        self._show_left(None if after is None else seconds + after)

    def _grown_s(self, took_s: float, measured: int, size: int) -> float:
        """A size's time from one whole size's alone (FIRST_SIZE_POWER), its import added."""
        return (self._import_s or 0.0) + took_s * (size / measured) ** FIRST_SIZE_POWER

    def _fit_left_s(self) -> float | None:
        """The time left as fitted: the size under way's fitted time less the time it has taken
        (a size that outlasts its fit has nothing left of it, never less), and the sizes after it;
        unknown before the fit can tell (``_fitted_s``), None once none is left."""
        current, after = len(self._took_s), self._after_current_s()
        if after is None or current >= len(self.sizes):
            return None
        in_size = time.monotonic() - self._mark
        return max(self._fitted_s(self.sizes[current]) - in_size, 0.0) + after

    def _after_current_s(self) -> float | None:
        after = self.sizes[len(self._took_s) + 1 :]
        if not after:
            return 0.0
        return sum(self._fitted_s(n) for n in after) if self._took_s else None

    def _budget_fit_s(self, size: int) -> float | None:
        """A size's time from the last whole one: its import, and the wall each turn second of
        that size cost, times the turn seconds its rows would take with epochs as long as ``size``
        makes them. Through three default sweeps, told after the first size, it came within -5% to
        +11% of the time the sizes left took, where the power law could tell nothing yet; after
        the second, -11% to +17%, where the power law told -6% to +119%. None where no row timed
        its warm-up epoch."""
        if self._per_turn_s is None or self._settings is None or self._import_s is None:
            return None
        last = self.sizes[len(self._took_s) - 1]
        return self._import_s + self._per_turn_s * self._last_rows_budget_s(size / last)

    def _last_rows_budget_s(self, scale: float) -> float:
        """The turn seconds the last whole size's rows take with epochs ``scale`` times as long,
        those that timed no warm-up epoch left out."""
        assert self._settings is not None
        budgets = (row_budget_s(self._settings, row, scale) for row in self._last_rows)
        return sum(seconds for seconds in budgets if seconds is not None)

    def _wall_per_turn_s(self) -> float | None:
        """The wall each turn second of the size just whole cost, its import left out (None where
        no row timed its warm-up epoch); computed once, as the size becomes whole."""
        if self._settings is None or self._import_s is None:
            return None
        timed = self._last_rows_budget_s(1.0)
        if timed <= 0:
            return None
        before_turns = self._import_s if len(self._took_s) > 1 else 0.0  # the first's was before
        return max(self._took_s[-1] - before_turns, 0.0) / timed

    def _fitted_s(self, size: int) -> float:
        """A size's time as the rows of the last whole size tell it (``_budget_fit_s``); where
        they cannot, on the power law through the last two whole sizes, or from the one whole
        size grown by FIRST_SIZE_POWER. A size's time grows
        slower than its samples (the turns stop at the time cap whatever the size; the warm-up
        and the data check grow with it): a line through every size over-told a default sweep's
        last size by 25%, this by 13%."""
        by_budget = self._budget_fit_s(size)
        if by_budget is not None:
            return by_budget
        if not self._took_s:
            return 0.0
        if len(self._took_s) < 2:
            return self._grown_s(self._took_s[0], self.sizes[0], size)
        (n_before, t_before), (n_last, t_last) = zip(
            self.sizes[len(self._took_s) - 2 : len(self._took_s)], self._took_s[-2:], strict=True
        )
        if n_last == n_before or min(t_before, t_last) <= 0:
            return t_last
        power = math.log(t_last / t_before) / math.log(n_last / n_before)
        return t_last * (size / n_last) ** min(max(power, 0.0), MAX_SIZE_POWER)

    def finished(self) -> None:
        """One display for every size: it stops when the sweep does (``sweep_finished``)."""

    def sweep_finished(self) -> None:
        self._stop()


class SeriesProgress(RunProgress):
    """Several runs shown as one: the data once, a heading per step, a line per target with its
    rate.

    ``intro`` says once, before the first run's targets, what the series measures; the results
    path is appended.
    """

    def __init__(
        self, console: Console, results_path: Path, intro: Callable[[RunResult], str]
    ) -> None:
        super().__init__(console, results_path)
        self.intro = intro
        self._started = False
        # The targets of each step as planned (None until the series knows), the steps begun, and
        # each whole step's (targets, seconds): the time left is fitted to those.
        self._plan: list[int] | None = None
        self._steps = 0
        self._step_began = 0.0
        # The ceiling's time within the step under way: the first step's alone, and no time its
        # targets take.
        self._ceiling_s = 0.0
        self._ceiling_began: float | None = None
        self._step_targets = 0
        self._took: list[tuple[int, float]] = []
        # Before any step is whole: the time a target of the first step takes, as its turns tell.
        self._pace_s: float | None = None

    def preparing_data(self, spec: DataSpec) -> None:
        if not self._started:
            super().preparing_data(spec)

    def data_ready(self, source: DataSource, generated: bool) -> None:
        if not self._started:
            super().data_ready(source, generated)

    def run_started(self, run: RunResult) -> None:
        if not self._started:
            self._started = True
            self.say(f"{self.intro(run)}; results go to {self.results_path}")
        self._start_targets()

    def measuring_ceiling(self) -> None:
        self._ceiling_began = time.monotonic()
        super().measuring_ceiling()

    def ceiling_measured(self, ceiling: Ceiling | None, problem: str | None) -> None:
        if self._ceiling_began is not None:
            self._ceiling_s += time.monotonic() - self._ceiling_began
            self._ceiling_began = None
        super().ceiling_measured(ceiling, problem)

    def steps_planned(self, targets: Sequence[int]) -> None:
        self._plan = list(targets)

    def step_added(self, targets: int, after: int) -> None:
        if self._plan is not None:  # steps are counted from 1: the one under way is at _steps - 1
            self._plan.insert(min(self._steps + after, len(self._plan)), targets)

    def step_started(self, text: str) -> None:
        self._stop()
        now = time.monotonic()
        if self._steps and self._step_targets:
            self._took.append((self._step_targets, now - self._step_began - self._ceiling_s))
        self._steps, self._step_began, self._step_targets = self._steps + 1, now, 0
        self._ceiling_s = 0.0
        line = Text(terminal_text(text), style="bold")
        if self._plan is not None:
            total = max(len(self._plan), self._steps)
            line = counted(line, self._steps, total, self._planned_s(self._steps - 1))
        self.console.print(line)

    def target_started(self, target: Target, samples: int | None) -> None:
        self._step_targets += 1
        super().target_started(target, samples)

    def time_left(self, seconds: float | None) -> None:
        if seconds is None:  # the step's turns cannot tell yet: the fit tells for it, as a sweep's
            if not self._plan or not 0 < self._steps <= len(self._plan):
                return self._show_left(None)
            this_on, after = self._planned_s(self._steps - 1), self._planned_s(self._steps)
            if this_on is None or after is None:
                return self._show_left(None)
            in_step = time.monotonic() - self._step_began
            return self._show_left(max(this_on - after - in_step, 0.0) + after)
        if not self._took and self._step_targets and self._ceiling_began is None:
            in_step = time.monotonic() - self._step_began - self._ceiling_s
            self._pace_s = (in_step + seconds) / self._step_targets
        after = self._planned_s(self._steps) if self._plan is not None else 0.0
        self._show_left(None if after is None else seconds + after)

    def _left_line(self, seconds: float | None) -> Text:
        if self._plan is None:
            if seconds is None:
                return Text("measuring in turns")
            return Text(f"measuring in turns, about {duration_text(seconds)} left in this step")
        total = max(len(self._plan), self._steps)
        return counted(Text("measuring in turns"), self._steps, total, seconds)

    def _planned_s(self, first: int) -> float | None:
        """The time the planned steps from ``first`` (0-based) on take, from the whole steps: a
        time per target, and a fixed time per step once their target counts span
        FIT_SPAN_TARGETS (two steps of 5 and 6 targets say little of a fixed time); None before a
        step is whole, but where the first step's turns have told its pace."""
        steps = (self._plan or [])[first:]
        if not steps:
            return 0.0
        if not self._took:
            return None if self._pace_s is None else self._pace_s * sum(steps)
        counts = [float(n) for n, _ in self._took]
        seconds = [t for _, t in self._took]
        if max(counts) - min(counts) < FIT_SPAN_TARGETS:
            per_target = statistics.median(t / n for n, t in self._took)
            return per_target * sum(steps)
        per_target, fixed = theil_sen(counts, seconds)
        return sum(max(fixed + per_target * n, 0.0) for n in steps)

    def target_finished(self, result: ScenarioResult, samples: int | None) -> None:
        display = self._finish_task(result.name)
        line = result_line(result)
        if result.ok and result.samples_per_s is not None:
            line.append(f": {rate_text(result)}")
        (display.console if display is not None else self.console).print(line)


def rate_text(result: ScenarioResult) -> str:
    """ "8,123 samples/s ±3% (67% of ceiling)"."""
    width = result.rate_half_width
    text = f"{result.samples_per_s:,.0f} samples/s" + (
        f" ±{width:.0%}" if width is not None else ""
    )
    return text + (
        f" ({result.ceiling_fraction:.0%} of ceiling)"
        if result.ceiling_fraction is not None
        else ""
    )
