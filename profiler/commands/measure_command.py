"""What every command that measures does, written once: run, sweep, tune and scale subclass it.

A new dated folder; the live progress; the library call, which hands the growing result to a
save after every step, so nothing measured is lost; the report; the table; where the results
went; the exit code. A subclass says only what differs: its options, its plan, its library call
and its renderings.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from rich.console import Console

from profiler.drivers.run import RunEvents
from profiler.reporters.markdown import write_report_or_say_why
from profiler.reporters.safe import terminal_text
from profiler.reporters.series_progress import SeriesProgress
from profiler.results.files import KeepLastGood, new_run_folder
from profiler.results.records import RunResult
from profiler.system.stopping import stop_signals_deferred

Plan = TypeVar("Plan")
Result = TypeVar("Result")


class Renderer(Protocol):
    def render(self, result: Any) -> None: ...


class MeasureCommand(Generic[Plan, Result]):
    name: ClassVar[str]
    help: ClassVar[str]
    order: ClassVar[int]
    results_file: ClassVar[str]  # written into the run's folder after every step
    # The saver of the results file and the report writer (staticmethods), and the terminal table.
    save: Callable[[Result, Path], None]
    write_report: Callable[[Result, Path], Path]
    terminal_reporter: Callable[[Any], Renderer]
    # A series' library call (a staticmethod: plan, events=, save=, log_dir=), and what its
    # progress says first; a command with other needs overrides measure and progress instead.
    driver: Callable[..., Result]
    intro: Callable[[RunResult], str]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        raise NotImplementedError

    def plan(self, args: argparse.Namespace) -> Plan:
        """The typed plan of the arguments, refused in one line (ProfilerError) before anything
        starts."""
        raise NotImplementedError

    def progress(self, console: Console, path: Path, plan: Plan) -> RunEvents:
        return SeriesProgress(console, path, self.intro)

    def measure(
        self,
        args: argparse.Namespace,
        plan: Plan,
        events: RunEvents,
        save: Callable[[Result], None],
        folder: Path,
    ) -> Result:
        return self.driver(plan, events=events, save=save, log_dir=folder / "logs")

    def exit_code(self, result: Result) -> int:
        raise NotImplementedError

    def run(self, args: argparse.Namespace, console: Console) -> int:
        plan = self.plan(args)
        with new_run_folder(args.output) as folder:
            path = folder / self.results_file
            save = KeepLastGood(self.save, path)
            result = self.measure(args, plan, self.progress(console, path, plan), save, folder)
            report_line = ""
            try:
                # The report is written before anything is printed: a terminal gone (SIGHUP) cannot
                # cost it. A stop signal waits the few seconds it takes, then acts: everything
                # measured is in the results file already, and the report is its reading.
                with stop_signals_deferred():
                    report_line = write_report_or_say_why(
                        lambda: self.write_report(result, folder), path
                    )
                self.terminal_reporter(console.file).render(result)
            except KeyboardInterrupt:
                # A stop after the last measurement still says where the results went: the folder
                # is named by the time, and a user who stopped it should not have to look for it.
                _say_where(console, save, path, report_line)
                raise
        _say_where(console, save, path, report_line)
        return self.exit_code(result)


def _say_where(console: Console, save: KeepLastGood, path: Path, report_line: str) -> None:
    saved = f"Results: {path}" if save.problem is None else f"Warning: {save.problem}."
    # Paths hold whatever the user named: escaped, never a terminal's control sequence.
    console.print(terminal_text(saved), markup=False)
    if report_line:
        console.print(terminal_text(report_line), markup=False)
