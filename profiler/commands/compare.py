"""``profiler compare``: two runs side by side, with regression checks; exit 1 when one fails."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from rich.console import Console

from profiler.analysis.comparison import METRICS, compare_runs
from profiler.analysis.thresholds import DEFAULT_FAIL_ON, parse_thresholds
from profiler.base.errors import EXIT_FAILED, EXIT_OK, ProfilerError
from profiler.commands.value_parsers import path_argument
from profiler.reporters.compare import ComparisonMarkdownReporter, ComparisonTerminalReporter
from profiler.results.files import load_run
from profiler.system.whole_file import write_text_whole


class CompareCommand:
    order = 7
    name = "compare"
    help = "compare two results.json files; exit 1 when a check fails"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("base", type=Path, help="the results.json to compare against")
        parser.add_argument("new", type=Path, help="the results.json of the change")
        parser.add_argument(
            "--fail-on",
            default=DEFAULT_FAIL_ON,
            metavar="CHECKS",
            help="comma list of METRIC:N%% (relative) or METRIC:N (absolute) that may get worse "
            f"by at most that much; metrics: {', '.join(METRICS)} (default: %(default)s)",
        )
        parser.add_argument(
            "--markdown",
            type=path_argument,
            default=None,
            metavar="FILE",
            help="also write the comparison as markdown, for a pull-request comment",
        )

    def run(self, args: argparse.Namespace, console: Console) -> int:
        thresholds = parse_thresholds(args.fail_on)
        base, new = load_run(args.base), load_run(args.new)
        comparison = compare_runs(
            base, new, thresholds, base_label=str(args.base), new_label=str(args.new)
        )
        if args.markdown is not None:
            text = io.StringIO()
            ComparisonMarkdownReporter(text).render(comparison)
            try:
                write_text_whole(args.markdown, text.getvalue())
            except OSError as error:
                raise ProfilerError(
                    f"cannot write '{args.markdown}' ({error.strerror or error}): pass --markdown "
                    "with a writable path"
                ) from None
        ComparisonTerminalReporter(console.file).render(comparison)
        return EXIT_FAILED if comparison.failed else EXIT_OK


COMMAND = CompareCommand()
