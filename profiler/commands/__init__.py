"""The command line: ``python -m profiler run|sweep|tune|scale|list|report|compare``.

Each command is a small module of this package with a ``COMMAND`` object: it turns its arguments
into typed settings, calls the library and hands the result to a reporter. A new module with a
``COMMAND`` is a new subcommand; ``order`` places it in the help. Any ProfilerError ends the program
with its one-line message and exit code (2 for bad input), never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
from collections.abc import Sequence
from typing import NoReturn, Protocol

from rich.console import Console

from profiler import __version__
from profiler.base.errors import EXIT_FAILED, EXIT_INTERRUPTED, ProfilerError
from profiler.reporters.common import terminal_console
from profiler.reporters.safe import shortened, terminal_text
from profiler.system.stopping import (
    Terminated,
    exit_code_after_stop,
    raise_lost_stop,
    stop_reason,
    stopped,
    termination_handled,
)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so every bad input is one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        raise ProfilerError(f"{message} (see '{self.prog} --help')")


class Command(Protocol):
    name: str
    help: str
    order: int  # place in the list of commands

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, console: Console) -> int: ...


def _commands() -> dict[str, Command]:
    """Every module of this package that defines ``COMMAND``, in their ``order``."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "COMMAND"):
            found.append(module.COMMAND)
    return {command.name: command for command in sorted(found, key=lambda command: command.order)}


COMMANDS = _commands()


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m profiler",
        description=(
            "Measure TensorFlow input-pipeline strategies on this machine and recommend one."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"tf-pipeline-profiler {__version__}"
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=ArgumentParser
    )
    for command in COMMANDS.values():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with termination_handled():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    console = terminal_console()
    error_console = Console(stderr=True, highlight=False)
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise ProfilerError(
                f"no command given: use one of {', '.join(COMMANDS)}, such as 'python -m profiler "
                "run'"
            )
        code = COMMANDS[args.command].run(args, console)
        raise_lost_stop()  # one a finalizer swallowed after the last place that would raise it
        return code
    except ProfilerError as error:
        error_console.print(
            f"error: {terminal_text(shortened(error.message))}", markup=False, soft_wrap=True
        )
        return error.exit_code
    except KeyboardInterrupt as stop:
        error_console.print(f"interrupted: {stop_reason(stop)}", markup=False)
        return stop.exit_code if isinstance(stop, Terminated) else EXIT_INTERRUPTED
    except OSError as error:
        if error.errno not in (errno.EIO, errno.EPIPE):
            raise
        # The terminal or the pipe is gone (a hangup, `| head`): everything was saved before
        # printing.
        return exit_code_after_stop() if stopped() else EXIT_FAILED
