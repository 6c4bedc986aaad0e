"""The live display while measuring: data generation, the ceiling, one spinner per target, a line
each."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from profiler.base.settings import Target
from profiler.base.stats import theil_sen
from profiler.ceiling.limit import Ceiling
from profiler.data.synthetic import DataSource, DataSpec
from profiler.drivers.run import RunEvents
from profiler.reporters.common import ceiling_text
from profiler.reporters.safe import escaped, terminal_text
from profiler.results.records import STATUS_SKIPPED, RunResult, ScenarioResult


def result_line(result: ScenarioResult, where: str = "") -> Text:
    result = escaped(result, terminal_text)
    wall = f"{result.wall_s:.1f} s" if result.wall_s is not None else ""
    if result.ok:
        return Text.assemble(("done", "green"), f" {result.name}{where} in {wall}")
    if result.status == STATUS_SKIPPED:
        return Text.assemble((result.status, "yellow"), f" {result.name}{where}: {result.error}")
    return Text.assemble(
        (result.status, "red"), f" {result.name}{where} after {wall}: {result.error}"
    )


def counted(line: Text, done: int, total: int, left_s: float | None = None) -> Text:
    """``line`` after "[done/total]", and the time left where it can be told."""
    left = "" if left_s is None else f", about {duration_text(left_s)} left"
    return Text.assemble(f"[{done}/{total}{left}] ", line)


def duration_text(seconds: float) -> str:
    """ "40 s", "3 min", "1 h 5 min": rounded as a wait is told."""
    if seconds < 90:
        return f"{max(5, round(seconds / 5) * 5):.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


class RunProgress(RunEvents):
    """Shows one run; transient displays vanish once their work is done, lines stay."""

    def __init__(self, console: Console, results_path: Path, notes: Sequence[str] = ()) -> None:
        self.console = console
        self.results_path = results_path
        self.notes = tuple(notes)  # said once the data and the ceiling are ready
        self._display: Any = None  # the live Progress or status now shown, if any
        self._task: Any = None
        self._tasks: dict[str, list[Any]] = {}
        self._done = 0  # targets finished, of ``_total``
        self._total = 0

    def say(self, text: str) -> None:
        self.console.print(text, markup=False)

    def preparing_data(self, spec: DataSpec) -> None:
        self._stop()
        self._display = Progress(
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        what = (
            f"Indexing {spec.path} (every sample is decoded once)"
            if spec.is_user_data
            else f"Preparing {spec.describe()}"
        )
        self._task = self._display.add_task(what, total=spec.samples or None)
        self._display.start()

    def data_progress(self, done: int, total: int) -> None:
        if isinstance(self._display, Progress):
            self._display.update(self._task, completed=done, total=total)

    def data_ready(self, source: DataSource, generated: bool) -> None:
        self._stop()
        if source.spec.is_user_data:
            self.say(f"Your data's index: {source.root}")
        else:
            self.say(f"{'Generated' if generated else 'Reusing cached'} dataset: {source.root}")

    def measuring_ceiling(self) -> None:
        self._stop()
        self._display = self.console.status(
            "Measuring what this machine can do at most for this data"
        )
        self._display.start()

    def ceiling_measured(self, ceiling: Ceiling | None, problem: str | None) -> None:
        self._stop()
        self.say(
            f"Ceiling: {ceiling_text(ceiling)}" if ceiling is not None else f"No ceiling: {problem}"
        )

    def run_started(self, run: RunResult) -> None:
        for note in self.notes:
            self.say(note)
        description = run.data.description if run.data else "their own data"
        self._total += len(run.targets)
        self.say(
            f"Measuring {len(run.targets)} pipeline(s) on {description}, each in a fresh process; "
            f"results go to {self.results_path}"
        )
        self._start_targets()

    def target_started(self, target: Target, samples: int | None) -> None:
        # A target may be listed twice (tune measures the best settings again beside a value).
        self._tasks.setdefault(target.name, []).append(
            self._display.add_task(f"{target.name}: starting worker", total=None)
        )

    def phase(self, name: str, phase: str, samples: int | None) -> None:
        # Workers report from their own threads, and may start importing before the display is up.
        if self._tasks.get(name) and isinstance(self._display, Progress):
            self._display.update(self._tasks[name][0], description=f"{name}: {phase}")

    def _finish_task(self, name: str) -> Any:
        """The display to print the finished line on, its task for ``name`` removed."""
        tasks = self._tasks.get(name)
        if tasks and isinstance(self._display, Progress):
            self._display.remove_task(tasks.pop(0))
        return self._display if self._display is not None else None

    def warning(self, name: str, text: str, samples: int | None) -> None:
        where = f" at {samples:,} samples" if samples is not None else ""
        console = self._display.console if self._display is not None else self.console
        console.print(Text(terminal_text(f"warning: {name}{where}: {text}"), style="bold yellow"))

    def target_finished(self, result: ScenarioResult, samples: int | None) -> None:
        display = self._finish_task(result.name)
        self._done += 1
        # Measured in interleaved turns, the targets of a group end close together: no time
        # left is told from the first ones.
        line = counted(result_line(result), self._done, max(self._total, self._done))
        (display.console if display is not None else self.console).print(line)

    def finished(self) -> None:
        self._stop()

    def _start_targets(self) -> None:
        self._stop()
        # Redrawn twice a second, not ten times: the display shares the machine with what it
        # measures.
        self._display = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            refresh_per_second=2,
        )
        self._display.start()

    def _stop(self) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None
        self._tasks.clear()


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

    def preparing_data(self, spec: DataSpec) -> None:
        if not self._header_shown:
            super().preparing_data(spec)
        else:
            self._display.update(self._task, description=f"preparing {spec.describe()}")

    def data_ready(self, source: DataSource, generated: bool) -> None:
        if not self._header_shown:
            super().data_ready(source, generated)
        elif generated and not source.spec.is_user_data:
            self._display.console.print(f"Generated dataset: {source.root}", markup=False)

    def run_started(self, run: RunResult) -> None:
        if self._header_shown:
            return
        self._header_shown = True
        self._mark = time.monotonic()
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
        if self._in_size == self._per_size:  # the size is whole
            now = time.monotonic()
            self._took_s.append(now - self._mark)
            self._mark, self._in_size = now, 0
        line = result_line(result, f" at {samples or 0:,} samples")
        console.print(counted(line, self._done, max(self._total, self._done), self._left_s()))

    def _left_s(self) -> float | None:
        """The time left: each size still to measure takes a fixed time and a time per sample,
        fitted to the sizes measured; unknown before two sizes are whole, None once none is
        left."""
        measured = self.sizes[: len(self._took_s)]
        left = self.sizes[len(self._took_s) :]
        if len(measured) < 2 or not left:
            return None
        per_sample, fixed = theil_sen([float(n) for n in measured], self._took_s)
        return sum(max(fixed + per_sample * n, 0.0) for n in left)

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

    def step_started(self, text: str) -> None:
        self._stop()
        self.console.print(Text(terminal_text(text), style="bold"))

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
