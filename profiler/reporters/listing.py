"""The registered scenarios that ``profiler list`` prints: each with its facts and its whole text,
wrapped to the console's width (a table's cell would cut or squeeze a long description)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from profiler.reporters.safe import terminal_text
from profiler.strategy.scenario import Scenario


class ScenarioListReporter:
    def __init__(self, console: Console) -> None:
        self.console = console

    def render(self, scenarios: Sequence[Scenario], verbose: bool) -> None:
        self.console.print(Text("Scenarios, in run order", style="bold"))
        for scenario in scenarios:
            memory = "grows with the data" if scenario.memory_grows_with_data else "flat"
            facts = [
                f"memory {memory}",
                "opt-in" if scenario.opt_in else "in 'all'",
                f"tf.data options: {scenario.tf_data_options or 'defaults'}",
            ]
            if scenario.disk_grows_with_data:
                facts.insert(1, "writes the decoded dataset to disk")
            if scenario.knobs:
                facts.append("tune sets: " + ", ".join(knob.name for knob in scenario.knobs))
            text = terminal_text(scenario.description if verbose else scenario.summary)
            if scenario.opt_in:
                text = f"{text.rstrip('.')}. Opt-in, {scenario.opt_in}"
            self.console.print(
                Text.assemble((terminal_text(scenario.name), "bold"), f"  ({'; '.join(facts)})")
            )
            self.console.print(Padding(Text(text), (0, 0, 1 if verbose else 0, 4), expand=False))
