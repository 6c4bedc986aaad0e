"""``measure_scale``: a tf.data service strategy measured by ``measure_run`` with 1, 2, ... local
workers, or once against a cluster of the user's, then fitted and turned into advice
(profiler.analysis.scale_result).

Every count runs in a fresh worker as a run measures it, so its servers start, serve and stop as
they do in ``run``. The growing ScaleResult goes to ``save`` after every count: nothing measured is
lost to Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from profiler.analysis.scale_result import ScaleResult, advise, advise_cluster, fit, point_of
from profiler.base.metadata import collect_metadata, usable_cpus
from profiler.base.moved import left_behind
from profiler.drivers.run import RunEvents, RunPlan, measure_run
from profiler.drivers.series import Series, measure_series
from profiler.results.files import now
from profiler.results.records import RunResult


@dataclass(frozen=True)
class ScalePlan:
    # the data, the settings (its service's workers are set per count), one service target
    run: RunPlan
    counts: tuple[int, ...]  # local worker counts, ascending; empty with a dispatcher of the user's
    accelerators: int = 1
    worker_cores: int = 1  # cores of each worker machine the advice is for


def measure_scale(
    plan: ScalePlan,
    *,
    events: RunEvents | None = None,
    save: Callable[[ScaleResult], None] | None = None,
    log_dir: Path | None = None,
) -> ScaleResult:
    """Measure every count of ``plan`` (or the user's cluster); Ctrl-C ends it with what was
    measured."""
    events = events or RunEvents()
    settings = plan.run.settings
    first = ScaleResult(
        collect_metadata(),
        settings,
        None,
        now(),
        usable_cpus(),
        plan.counts,
        dispatcher=settings.service.dispatcher,
    )
    return measure_series(first, lambda series: _counts(plan, series, events, log_dir), save)


def _counts(
    plan: ScalePlan, series: Series[ScaleResult], events: RunEvents, log_dir: Path | None
) -> None:
    settings = plan.run.settings
    events.steps_planned([1] * len(plan.counts or (0,)))
    for count in plan.counts or (0,):  # 0: the user's cluster, whose workers the scenario counts
        where = (
            f"the cluster at {settings.service.dispatcher}"
            if not count
            else f"{count} local worker(s)"
        )
        events.step_started(f"{plan.run.targets[0].name} with {where}")
        service = replace(settings.service, workers=count or settings.service.workers)
        before = series.result

        def keep(run: RunResult, before: ScaleResult = before, count: int = count) -> None:
            # Kept as soon as the count's row is, before its worker is ended: a SIGKILL then
            # would lose the count.
            points = (*before.points, *(point_of(count, r) for r in run.scenarios[:1]))
            update = replace(before, data=run.data, points=points, interrupted=run.interrupted)
            series.keep(_with_fit(update, plan))

        run = measure_run(
            replace(plan.run, settings=replace(settings, service=service), measure_ceiling=False),
            events=events,
            save=keep,
            log_dir=None if log_dir is None else log_dir / f"workers-{count}",
        )
        keep(run)
        if run.interrupted:
            return


def _with_fit(result: ScaleResult, plan: ScalePlan) -> ScaleResult:
    settings = result.settings
    if result.dispatcher:
        point = next((p for p in result.points if p.ok), None)
        if point is None:
            return result
        return replace(
            result,
            advice=advise_cluster(
                point, settings.step_ms, settings.batch_size, plan.accelerators, result.cores
            ),
        )
    scale = fit(result.points, result.cores)
    if scale is None:
        return result
    return replace(
        result,
        fit=scale,
        advice=advise(
            scale, settings.step_ms, settings.batch_size, plan.accelerators, plan.worker_cores
        ),
    )


# Names that lived here in 0.2 and moved since, still found (with a DeprecationWarning).
__getattr__ = left_behind(__name__)
