"""``profiler run``: measure the chosen scenarios and pipelines, print the table, write the
results."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from profiler.commands.data_options import add_data_arguments
from profiler.commands.measure_command import MeasureCommand
from profiler.commands.measure_options import add_measurement_arguments
from profiler.commands.run_plans import checked_run_plan
from profiler.drivers.run import RunEvents, RunPlan, measure_run
from profiler.reporters.progress import RunProgress
from profiler.reporters.run import RunTerminalReporter, write_run_report
from profiler.results.files import RESULTS_FILE, save_run
from profiler.results.records import RunResult, exit_code

TRACE_FOLDER = "trace"


class RunCommand(MeasureCommand[RunPlan, RunResult]):
    order = 1
    name = "run"
    help = "measure scenarios on generated data or yours, print a comparison and write results.json"
    results_file = RESULTS_FILE
    save = staticmethod(save_run)
    write_report = staticmethod(write_run_report)
    terminal_reporter = RunTerminalReporter

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_data_arguments(parser)
        group = add_measurement_arguments(parser, pipelines=True)
        group.add_argument(
            "--trace",
            action="store_true",
            help=(
                "after measuring, trace one paced epoch of each scenario with TensorFlow's "
                "profiler into the run's folder (trace/), for TensorBoard's input-pipeline analyzer"
            ),
        )

    def plan(self, args: argparse.Namespace) -> RunPlan:
        return checked_run_plan(args)

    def progress(self, console: Console, path: Path, plan: RunPlan) -> RunEvents:
        return RunProgress(console, path)

    def measure(
        self,
        args: argparse.Namespace,
        plan: RunPlan,
        events: RunEvents,
        save: Callable[[RunResult], None],
        folder: Path,
    ) -> RunResult:
        trace_dir = folder / TRACE_FOLDER if args.trace else None
        return measure_run(
            plan, events=events, save=save, log_dir=folder / "logs", trace_dir=trace_dir
        )

    def exit_code(self, result: RunResult) -> int:
        return exit_code(result.scenarios, result.interrupted)


COMMAND = RunCommand()
