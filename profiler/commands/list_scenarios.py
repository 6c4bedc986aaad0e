"""``profiler list``: the registered scenarios in run order, with what each does."""

from __future__ import annotations

import argparse

from rich.console import Console

from profiler.errors import EXIT_OK
from profiler.registry import registered
from profiler.reporters.listing import ScenarioListReporter


class ListCommand:
    order = 3
    name = "list"
    help = "list the scenarios and what each one does"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--verbose", "-v", action="store_true", help="print each scenario's full description")

    def run(self, args: argparse.Namespace, console: Console) -> int:
        ScenarioListReporter(console).render(list(registered().values()), verbose=args.verbose)
        return EXIT_OK


COMMAND = ListCommand()
