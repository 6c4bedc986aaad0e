"""``profiler run``: measure the chosen scenarios and pipelines, print the table, write the results."""

from __future__ import annotations

import argparse

from rich.console import Console

from profiler.commands.data_options import add_data_arguments, spec_from
from profiler.commands.measure_options import add_measurement_arguments, check_batch_size, run_plan
from profiler.drivers.run import measure_run
from profiler.reporters.common import write_report_or_say_why
from profiler.reporters.progress import RunProgress
from profiler.reporters.run import RunTerminalReporter, write_run_report
from profiler.results.files import RESULTS_FILE, KeepLastGood, new_run_folder, save_run
from profiler.results.records import exit_code

TRACE_FOLDER = "trace"


class RunCommand:
    order = 1
    name = "run"
    help = "measure scenarios on generated data or yours, print a comparison and write results.json"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_data_arguments(parser)
        group = add_measurement_arguments(parser, pipelines=True)
        group.add_argument("--trace", action="store_true",
                           help="after measuring, trace one paced epoch of each scenario with TensorFlow's profiler "
                                "into the run's folder (trace/), for TensorBoard's input-pipeline analyzer")

    def run(self, args: argparse.Namespace, console: Console) -> int:
        samples = spec_from(args, args.samples).samples
        if samples:  # 0: all of a user's data, however many that is
            check_batch_size(args.batch_size, samples, f"--samples {samples}", "more samples")
        plan = run_plan(args, args.samples)
        with new_run_folder(args.output) as folder:
            path = folder / RESULTS_FILE
            progress = RunProgress(console, path)
            save = KeepLastGood(save_run, path)
            run = measure_run(plan, events=progress, save=save, log_dir=folder / "logs",
                              trace_dir=folder / TRACE_FOLDER if args.trace else None)
        report_line = write_report_or_say_why(lambda: write_run_report(run, folder), path)
        RunTerminalReporter(console.file).render(run)
        console.print(f"Results: {path}" if save.problem is None else f"Warning: {save.problem}.", markup=False)
        console.print(report_line, markup=False)
        return exit_code(run.scenarios, run.interrupted)


COMMAND = RunCommand()
