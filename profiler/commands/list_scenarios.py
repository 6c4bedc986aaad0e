"""``profiler list``: the registered scenarios in run order, with what each does."""

from __future__ import annotations

import argparse

from rich.console import Console

from profiler.base.errors import EXIT_OK
from profiler.reporters.listing import ScenarioListReporter
from profiler.strategy.registry import registered


class ListCommand:
    order = 5
    name = "list"
    help = "list the scenarios and what each one does"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--brief",
            "-b",
            action="store_true",
            help="one line per scenario: its summary instead of its whole description",
        )
        # The whole description is the default now; the old flag still works.
        parser.add_argument("--verbose", "-v", action="store_true", help=argparse.SUPPRESS)

    def run(self, args: argparse.Namespace, console: Console) -> int:
        ScenarioListReporter(console).render(list(registered().values()), verbose=not args.brief)
        return EXIT_OK


COMMAND = ListCommand()
