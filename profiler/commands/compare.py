"""``profiler compare``: two runs side by side, with regression checks; exit 1 when one fails."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
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
        markdown = None if args.markdown is None else _markdown_target(args)
        base, new = load_run(args.base), load_run(args.new)
        comparison = compare_runs(
            base, new, thresholds, base_label=str(args.base), new_label=str(args.new)
        )
        if markdown is not None:
            text = io.StringIO()
            ComparisonMarkdownReporter(text).render(comparison)
            try:
                write_text_whole(markdown, text.getvalue())
            except OSError as error:
                raise ProfilerError(
                    f"cannot write '{args.markdown}' ({error.strerror or error}): pass --markdown "
                    "with a writable path"
                ) from None
        ComparisonTerminalReporter(console.file).render(comparison)
        return EXIT_FAILED if comparison.failed else EXIT_OK


def _markdown_target(args: argparse.Namespace) -> Path:
    """Where --markdown writes: a link's target; never a results file being compared, nor what is
    not a regular file (a FIFO, a device), which the written file would replace."""
    path = Path(args.markdown)
    try:  # a link loop, a name too long for the file system: refused before anything is compared
        target = path.resolve() if path.is_symlink() else path
        exists = target.exists()
    except (OSError, RuntimeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise ProfilerError(
            f"--markdown '{args.markdown}' cannot be written ({reason}): pass a writable path"
        ) from None
    for compared in (args.base, args.new):
        with contextlib.suppress(OSError):
            if exists and os.path.samefile(target, compared):
                raise ProfilerError(
                    f"--markdown '{args.markdown}' is the results file '{compared}' being "
                    "compared, which it would replace: pass another path"
                )
    if exists and not target.is_file():
        raise ProfilerError(
            f"--markdown '{args.markdown}' exists and is not a regular file, which the comparison "
            "would replace: pass the path of a new or regular file"
        )
    return target


COMMAND = CompareCommand()
