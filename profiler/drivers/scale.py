"""``measure_scale``: a tf.data service strategy measured by ``measure_run`` with 1, 2, ... local workers,
or once against a cluster of the user's, then fitted and turned into advice (profiler.analysis.scale_result).

Every count runs in a fresh worker as a run measures it, so its servers start, serve and stop as
they do in ``run``. The growing ScaleResult goes to ``save`` after every count: nothing measured is
lost to Ctrl-C.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from profiler.analysis.scale_result import ScaleResult, advise, advise_cluster, fit, point_of
from profiler.base.metadata import collect_metadata, usable_cpus
from profiler.drivers.run import RunEvents, RunPlan, measure_run
from profiler.results.files import now


@dataclass(frozen=True)
class ScalePlan:
    run: RunPlan  # the data, the settings (its service's workers are set per count), one service target
    counts: tuple[int, ...]  # local worker counts, ascending; empty with a dispatcher of the user's
    accelerators: int = 1
    worker_cores: int = 1  # cores of each worker machine the advice is for


class ScaleEvents(RunEvents):
    """A run's events, and the start of each count."""

    def count_started(self, text: str) -> None: ...


def measure_scale(plan: ScalePlan, *, events: ScaleEvents | None = None,
                  save: Callable[[ScaleResult], None] | None = None, log_dir: Path | None = None) -> ScaleResult:
    """Measure every count of ``plan`` (or the user's cluster); Ctrl-C ends it with what was measured."""
    events = events or ScaleEvents()
    save = save or (lambda result: None)
    started = time.monotonic()
    settings = plan.run.settings
    cores = usable_cpus()
    result = ScaleResult(collect_metadata(), settings, None, now(), cores, plan.counts,
                         dispatcher=settings.service.dispatcher)

    def keep(update: ScaleResult) -> None:
        nonlocal result
        result = replace(update, wall_s=time.monotonic() - started)
        save(result)

    counts = plan.counts or (0,)  # 0: the user's cluster, whose workers the scenario counts
    try:
        for count in counts:
            where = f"the cluster at {settings.service.dispatcher}" if not count else f"{count} local worker(s)"
            events.count_started(f"{plan.run.targets[0].name} with {where}")
            service = replace(settings.service, workers=count or settings.service.workers)
            run = measure_run(replace(plan.run, settings=replace(settings, service=service), measure_ceiling=False),
                              events=events, log_dir=None if log_dir is None else log_dir / f"workers-{count}")
            points = (*result.points, *(point_of(count, r) for r in run.scenarios[:1]))
            keep(_with_fit(replace(result, data=run.data, points=points, interrupted=run.interrupted), plan))
            if run.interrupted:
                break
    except KeyboardInterrupt:
        keep(replace(result, interrupted=True))
    return result


def _with_fit(result: ScaleResult, plan: ScalePlan) -> ScaleResult:
    settings = result.settings
    if result.dispatcher:
        point = next((p for p in result.points if p.ok), None)
        if point is None:
            return result
        return replace(result, advice=advise_cluster(point, settings.step_ms, settings.batch_size, plan.accelerators,
                                                     result.cores))
    scale = fit(result.points, result.cores)
    if scale is None:
        return result
    return replace(result, fit=scale, advice=advise(scale, settings.step_ms, settings.batch_size, plan.accelerators,
                                                    plan.worker_cores))
