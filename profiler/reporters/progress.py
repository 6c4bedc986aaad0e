"""The live display while measuring: data generation, the ceiling, one spinner per target, a line
each."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from profiler.base.settings import Target
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


# Off a terminal, the time left is said in a plain line at most this often.
PLAIN_LEFT_EVERY_S = 20.0
# What a run does after its last turn, which its workers' time left does not hold: the table,
# results.json, the report and its plots. 1.7 s with twelve scenarios on 2 cores, where the time
# left told in the last two seconds of turns was short by as much.
FINISHING_S = 1.5


def counted(line: Text, done: int, total: int, left_s: float | None = None) -> Text:
    """``line`` after "[done/total]", and the time left where it can be told."""
    left = "" if left_s is None else f", about {duration_text(left_s)} left"
    return Text.assemble(f"[{done}/{total}{left}] ", line)


def duration_text(seconds: float) -> str:
    """ "3 s", "40 s", "2.5 min", "12 min", "1 h 5 min": rounded as a wait is told; the last
    seconds whole, as rounding them to fives would miss by more than they are."""
    if seconds < 9.5:
        return f"{max(1, round(seconds))} s"
    if seconds < 90:
        return f"{round(seconds / 5) * 5:.0f} s"
    if seconds < 585:  # in half minutes: whole ones left 90 to 150 s all "2 min", 25% off or more
        halves = round(seconds / 30)
        return f"{halves // 2}{'.5' if halves % 2 else ''} min"
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
        # The time left as last told, the display's row that shows it, and when a plain line last
        # said it (off a terminal, where no row is drawn).
        self._time_left: float | None = None
        self._left_row: Any = None
        self._left_said = time.monotonic()

    def say(self, text: str) -> None:
        # Paths and notes hold whatever the user named: escaped, never a control sequence.
        self.console.print(terminal_text(text), markup=False)

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
        self._task = self._display.add_task(terminal_text(what), total=spec.samples or None)
        self._show()

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
        self._show()

    def ceiling_measured(self, ceiling: Ceiling | None, problem: str | None) -> None:
        self._stop()
        self.say(
            f"Ceiling, first timed alone: {ceiling_text(ceiling)}; its decode is timed again in "
            "the measuring turns"
            if ceiling is not None
            else f"No ceiling: {problem}"
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
        total = max(self._total, self._done)
        left = self._time_left if self._done < total else None
        line = counted(result_line(result), self._done, total, left)
        (display.console if display is not None else self.console).print(line)

    def time_left(self, seconds: float | None) -> None:
        self._show_left(None if seconds is None else seconds + FINISHING_S)

    def _show_left(self, seconds: float | None) -> None:
        """On a terminal, a row of the live display; elsewhere a plain line now and then."""
        self._time_left = seconds
        if not isinstance(self._display, Progress):
            return
        if self._total and self._done >= self._total:  # all done: nothing is left to tell
            if self._left_row is not None:
                self._display.remove_task(self._left_row)
                self._left_row = None
            return
        if seconds is None:  # unknown again (a series' next step begins): no stale figure
            if self._left_row is not None:
                self._display.update(self._left_row, description=self._left_line(None).plain)
            return
        text = self._left_line(seconds)
        if self.console.is_terminal:
            if self._left_row is None:
                self._left_row = self._display.add_task(text.plain, total=None)
            else:
                self._display.update(self._left_row, description=text.plain)
        elif time.monotonic() - self._left_said >= PLAIN_LEFT_EVERY_S:
            self._left_said = time.monotonic()
            self.console.print(text)

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
        self._show()

    def _left_line(self, seconds: float | None) -> Text:
        return counted(Text("measuring in turns"), self._done, max(self._total, 1), seconds)

    def _show(self) -> None:
        """Start the live display on a terminal; elsewhere it draws nothing, and rich's stop would
        print an empty line there (before an error's one line, say)."""
        if self.console.is_terminal:
            self._display.start()

    def _stop(self) -> None:
        if self._display is not None:
            if self.console.is_terminal:  # only there was it started (``_show``)
                self._display.stop()
            self._display = None
        self._tasks.clear()
        self._left_row = None
