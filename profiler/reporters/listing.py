"""The table of registered scenarios that ``profiler list`` prints."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from profiler.reporters.safe import terminal_text
from profiler.scenario import Scenario


class ScenarioListReporter:
    def __init__(self, console: Console) -> None:
        self.console = console

    def render(self, scenarios: Sequence[Scenario], verbose: bool) -> None:
        table = Table(title="Scenarios, in run order", title_justify="left")
        table.add_column("Name", no_wrap=True)
        table.add_column("Memory", no_wrap=True)
        table.add_column("In 'all'", no_wrap=True)
        table.add_column("tf.data options set")
        table.add_column("Description" if verbose else "Summary")
        for scenario in scenarios:
            memory = "grows with data" if scenario.memory_grows_with_data else "flat"
            text = terminal_text(scenario.description if verbose else scenario.summary)
            if scenario.opt_in:
                text += f". Opt-in, {scenario.opt_in}"
            table.add_row(terminal_text(scenario.name), memory, "opt-in" if scenario.opt_in else "yes",
                          scenario.tf_data_options or "defaults", text)
        self.console.print(table)
