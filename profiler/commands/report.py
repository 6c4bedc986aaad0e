"""``profiler report``: render the markdown report and plots again from a saved results file."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from rich.console import Console

from profiler.analysis.sweep_result import SweepResult, load_results
from profiler.base.errors import EXIT_OK, ProfilerError
from profiler.commands.value_parsers import path_argument
from profiler.reporters.run import write_run_report
from profiler.reporters.safe import terminal_text
from profiler.reporters.sweep import write_sweep_report


class ReportCommand:
    order = 6
    name = "report"
    help = "render the markdown report and plots from a saved results.json"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "results",
            type=Path,
            help="a results.json written by 'run', or a sweep.json written by 'sweep'",
        )
        parser.add_argument(
            "-o",
            "--output",
            type=path_argument,
            default=None,
            help="folder for report.md and its plots (default: the folder of RESULTS)",
        )

    def run(self, args: argparse.Namespace, console: Console) -> int:
        folder = args.output or args.results.parent
        results = load_results(args.results)
        try:
            not_a_folder = folder.exists() and not folder.is_dir()
        except OSError as error:  # a name too long for the file system, say
            raise ProfilerError(
                f"cannot write the report in '{folder}' ({error.strerror or error}): pass -o with "
                "a writable folder"
            ) from None
        if not_a_folder:
            raise ProfilerError(
                f"'{folder}' is not a folder: pass -o with a folder for report.md and its plots"
            )
        try:
            # numpy's and matplotlib's warnings on figures past a float's range would print lines
            # of their own before the one error below.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if isinstance(results, SweepResult):
                    path = write_sweep_report(results, folder)
                else:
                    path = write_run_report(results, folder)
        except OSError as error:
            raise ProfilerError(
                f"cannot write the report in '{folder}' ({error.strerror or error}): pass -o with "
                "a writable folder"
            ) from None
        # Figures no report can show: one line, the old report kept.
        except Exception as error:  # noqa: BLE001
            summary = f"{type(error).__name__}: {error}".splitlines()[0][:200]
            raise ProfilerError(
                f"cannot render the report of '{args.results}' ({summary}); an earlier report.md, "
                "if any, is unchanged: pass an unmodified results file"
            ) from None
        console.print(terminal_text(f"Report: {path}"), markup=False)
        return EXIT_OK


COMMAND = ReportCommand()
