"""``measure_sweep``: ``measure_run`` at each dataset size, smallest first, as one series.

Before a target starts at a larger size, its peak there is forecast from the smaller sizes, and a
target that would not fit in the memory available is skipped instead of started. The ceiling is
measured once, at the smallest size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from profiler.analysis.forecast import forecast_peak
from profiler.analysis.sweep_result import SweepResult
from profiler.base.metadata import collect_metadata
from profiler.base.settings import Target
from profiler.drivers.run import RunEvents, RunPlan, measure_run
from profiler.drivers.series import Series, measure_series
from profiler.measuring.admission import available_memory_mib
from profiler.results.files import now
from profiler.results.records import RunResult


@dataclass(frozen=True)
class SweepPlan:
    run: RunPlan  # its spec sets everything but the size
    sizes: tuple[int, ...]  # ascending
    target_samples: int | None = None
    memory_budget_mib: float = 0.0
    budget_basis: str = ""


def sized_targets(targets: tuple[Target, ...], size: int) -> tuple[Target, ...]:
    """A sweep's targets at one size: a user's pipeline builds that many samples (its ``samples``
    keyword)."""
    return tuple(
        Target.pipeline(t.reference, {**t.arguments, "samples": size}) if t.is_pipeline else t
        for t in targets
    )


def measure_sweep(
    plan: SweepPlan,
    *,
    events: RunEvents | None = None,
    save: Callable[[SweepResult], None] | None = None,
    log_dir: Path | None = None,
    available_mib: Callable[[], float] = available_memory_mib,
) -> SweepResult:
    """``measure_run`` at each size; ``save`` gets the sweep after every target.

    Ctrl-C ends the sweep with what was measured.
    """
    assert plan.run.spec is not None, "a sweep measures at sizes of a dataset"
    spec = plan.run.spec
    first = SweepResult(
        metadata=collect_metadata(),
        settings=plan.run.settings,
        targets=plan.run.targets,
        spec=replace(spec, samples=plan.sizes[0]),
        sizes=plan.sizes,
        created=now(),
        target_samples=plan.target_samples,
        memory_budget_mib=plan.memory_budget_mib,
        budget_basis=plan.budget_basis,
        data_dir=str(plan.run.cache_root),
    )

    def steps(series: Series[SweepResult]) -> None:
        for number, size in enumerate(plan.sizes):
            measured = series.result.runs
            run = measure_run(
                replace(
                    plan.run,
                    spec=replace(spec, samples=size),
                    measure_ceiling=plan.run.measure_ceiling and number == 0,  # once, at the first
                    targets=sized_targets(plan.run.targets, size),
                ),
                events=events,
                save=lambda run: series.keep(_with_run(series.result, run)),
                log_dir=None if log_dir is None else log_dir / str(size),
                ceiling=series.result.ceiling,
                available_mib=available_mib,
                forecast=lambda name, size=size, measured=measured: forecast_peak(
                    measured, name, size
                ),
            )
            if run.interrupted:
                return

    return measure_series(first, steps, save, nothing_measured=lambda sweep: not sweep.runs)


def _with_run(sweep: SweepResult, run: RunResult) -> SweepResult:
    """The sweep with ``run``, the size measured now, in place of its earlier state."""
    earlier = tuple(r for r in sweep.runs if r.samples != run.samples)
    # a size stopped before any result adds nothing
    runs = (*earlier, run) if run.scenarios else earlier
    return replace(sweep, runs=runs, ceiling=run.ceiling, interrupted=run.interrupted)
