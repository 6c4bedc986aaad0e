"""A sweep: one run per dataset size, and what follows from them, derived once per result.

The fits, the predictions at the target size and the pick are worked out from the runs the first
time they are asked for and kept: a sweep's renderings read them many times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from profiler.analysis.forecast import Prediction, ScenarioGrowth, growths, predict
from profiler.analysis.target_pick import pick_at_target
from profiler.base.codec import encode
from profiler.base.errors import ProfilerError
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.ceiling.limit import Ceiling
from profiler.data.synthetic import DataSpec
from profiler.results.files import (
    FORMAT_VERSION,
    ceiling_fields,
    decoded,
    expect_kind,
    read_results_json,
    run_fields,
    run_to_json,
    write_json,
)
from profiler.results.records import Pick, RunResult
from profiler.results.upgrade import KIND_RUN, KIND_SWEEP, results_kind

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
        return pick_at_target(
            self.predictions, usable, self.memory_budget_mib, self.settings.idle_condition()
        )


# The keys sweep_to_json adds for readers: dropped on load, since they are derived.
_DERIVED_SWEEP = ("format_version", "kind", "fits", "predictions", "advice")


def sweep_to_json(sweep: SweepResult) -> dict[str, Any]:
    data = {"format_version": FORMAT_VERSION, "kind": KIND_SWEEP, **encode(sweep)}
    data["runs"] = [run_to_json(run) for run in sweep.runs]
    if sweep.ceiling is not None:
        data["ceiling"].update(
            samples_per_s=sweep.ceiling.samples_per_s, bound_by=sweep.ceiling.bound_by
        )
    data["fits"] = [
        {
            "name": g.name,
            "sizes": list(g.sizes),
            "memory": encode(g.memory),
            "epoch_s": encode(g.epoch),
            "baseline_rss_mib": g.baseline_rss_mib,
        }
        for g in sweep.growths
    ]
    data["predictions"] = encode(sweep.predictions)
    data["advice"] = encode(sweep.advice)
    return data


def save_sweep(sweep: SweepResult, path: Path) -> None:
    write_json(sweep_to_json(sweep), path)


def load_sweep(path: Path) -> SweepResult:
    data = read_results_json(path)
    expect_kind(data, KIND_SWEEP, path, "a sweep.json written by 'profiler sweep'")
    return _decoded_sweep(data, path)


def _decoded_sweep(data: dict[str, Any], path: Path) -> SweepResult:
    """The sweep ``data`` holds, once its ``sizes`` are seen to ascend and to be its runs' sizes:
    the report's title and every fit read them, and a file where they disagree was edited."""
    sweep: SweepResult = decoded(SweepResult, sweep_fields(data), path)
    measured = [run.data.spec.samples if run.data else None for run in sweep.runs]
    ascending = all(0 < a < b for a, b in zip(sweep.sizes, sweep.sizes[1:], strict=False))
    agree = len(measured) <= len(sweep.sizes) and all(
        samples in (None, size) for samples, size in zip(measured, sweep.sizes, strict=False)
    )
    if sweep.sizes and sweep.sizes[0] > 0 and ascending and agree:
        return sweep
    raise ProfilerError(
        f"'{path}' is malformed ('sizes' {list(sweep.sizes)[:8]} are not the ascending sizes of "
        f"its runs, {measured[:8]}): pass an unmodified sweep.json"
    )


def load_results(path: Path) -> RunResult | SweepResult:
    """A run's or a sweep's results, whichever the file holds."""
    data = read_results_json(path)
    if results_kind(data) == KIND_SWEEP:
        return _decoded_sweep(data, path)
    expect_kind(
        data,
        KIND_RUN,
        path,
        "a results.json or sweep.json (a tune's or scale's report is its report.md)",
    )
    return decoded(RunResult, run_fields(data), path)  # type: ignore[no-any-return]


def sweep_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields = {key: value for key, value in data.items() if key not in _DERIVED_SWEEP}
    fields["ceiling"] = ceiling_fields(fields.get("ceiling"))
    if isinstance(fields.get("runs"), list):
        fields["runs"] = [run_fields(run) for run in fields["runs"]]
    return fields
