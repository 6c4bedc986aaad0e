"""A sweep: one run per dataset size, and what follows from them, derived once per result.

The fits, the predictions at the target size and the pick are worked out from the runs the first
time they are asked for and kept: a sweep's renderings read them many times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from profiler.analysis.forecast import Prediction, ScenarioGrowth, growths, predict
from profiler.analysis.recommend import pick_at_target
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.ceiling.limit import Ceiling
from profiler.data.synthetic import DataSpec
from profiler.results.records import Pick, RunResult

# Without --memory-budget, this share of the memory available when the sweep starts.
DEFAULT_BUDGET_SHARE = 0.8


@dataclass(frozen=True)
class SweepResult:
    metadata: Metadata
    settings: MeasureSettings
    targets: tuple[Target, ...]
    spec: DataSpec  # the data at the smallest size; each run holds its own size
    sizes: tuple[int, ...]
    runs: tuple[RunResult, ...] = ()  # one per size measured, ascending
    created: str = ""
    ceiling: Ceiling | None = None
    target_samples: int | None = None
    memory_budget_mib: float = 0.0
    budget_basis: str = ""
    interrupted: bool = False
    data_dir: str = ""

    @cached_property
    def growths(self) -> tuple[ScenarioGrowth, ...]:
        return growths(self.runs)

    @cached_property
    def predictions(self) -> tuple[Prediction, ...]:
        if self.target_samples is None:
            return ()
        return tuple(
            predict(growth, self.target_samples, self.memory_budget_mib, self.spec.sample_bytes)
            for growth in self.growths
        )

    @cached_property
    def advice(self) -> Pick | None:
        """The pick at the target size; None without a target."""
        if self.target_samples is None:
            return None
        usable = {growth.name for growth in self.growths if growth.data_usable}
        return pick_at_target(self.predictions, usable, self.memory_budget_mib, self.settings.idle_condition())
