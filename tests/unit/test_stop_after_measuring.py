"""A stop after the last measurement, while the report is written or the table printed, still says
where the results and the report went: the folder is named by the time, and a user who stopped
the command should not have to look for it."""

from __future__ import annotations

import argparse
import io
import os
import signal
from pathlib import Path

import pytest
from rich.console import Console

from profiler.commands.measure_command import MeasureCommand
from profiler.drivers.run import RunEvents
from profiler.system.stopping import Terminated, termination_handled


class _Table:
    def __init__(self, file, stop: bool) -> None:
        self.file, self.stop = file, stop

    def render(self, result) -> None:
        if self.stop:
            os.kill(os.getpid(), signal.SIGTERM)  # acts at once: nothing holds it back here
        self.file.write(f"table of {result}\n")


class _Command(MeasureCommand):
    """A command whose measurement is one saved result; the stop comes where ``stop_in`` says."""

    name, results_file = "fake", "results.json"

    def __init__(self, stop_in: str) -> None:
        self.stop_in = stop_in
        self.terminal_reporter = lambda file: _Table(file, stop_in == "table")

    def plan(self, args):
        return None

    def progress(self, console, path, plan):
        return RunEvents()

    def measure(self, args, plan, events, save, folder):
        save("result")
        return "result"

    def save(self, result, path: Path) -> None:
        path.write_text(result)

    def write_report(self, result, folder: Path) -> Path:
        if self.stop_in == "report":
            os.kill(os.getpid(), signal.SIGTERM)  # held back until the report is written
        (folder / "report.md").write_text(result)
        return folder / "report.md"

    def exit_code(self, result) -> int:
        return 0


@pytest.mark.parametrize("stop_in", ["report", "table"])
def test_a_stop_after_the_last_measurement_still_says_where_everything_went(tmp_path, stop_in):
    out = io.StringIO()
    console = Console(file=out, width=200)
    command = _Command(stop_in)
    with termination_handled(), pytest.raises(Terminated):
        command.run(argparse.Namespace(output=tmp_path), console)
    (folder,) = tmp_path.iterdir()
    assert (folder / "results.json").read_text() == "result"
    assert (folder / "report.md").read_text() == "result"
    lines = out.getvalue().splitlines()
    assert f"Results: {folder / 'results.json'}" in lines
    assert any(line.startswith(f"Report: {folder / 'report.md'}") for line in lines)
    assert "table of result" not in lines  # the stop ends the command before the table is whole


def test_without_a_stop_the_table_comes_before_where_everything_went(tmp_path):
    out = io.StringIO()
    _Command("nowhere").run(argparse.Namespace(output=tmp_path), Console(file=out, width=200))
    lines = out.getvalue().splitlines()
    assert lines[0] == "table of result"
    assert lines[1].startswith("Results: ") and lines[2].startswith("Report: ")
