"""``measure_tune``: the best settings of a strategy's knobs, each configuration measured by
``measure_run``.

A quick run measures every strategy that has knobs (or those named) at their defaults; the best one
or two are tuned one knob at a time (profiler.analysis.tune_result.SEARCH says how and why), every
configuration in a fresh worker as a run measures it, against the ceiling of the quick run. The
growing TuneResult goes to ``save`` as each configuration is measured, so nothing measured is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from profiler.analysis.tune_result import (
    TunedStrategy,
    TuneResult,
    usable,
)
from profiler.base.metadata import collect_metadata, usable_cpus
from profiler.base.moved import left_behind
from profiler.base.settings import Target
from profiler.data.synthetic import DataSource
from profiler.drivers.run import RunEvents, RunPlan, measure_run, prepare_source
from profiler.drivers.series import Series, measure_series
from profiler.drivers.tune_search import Search, under
from profiler.results.files import now
from profiler.results.records import RunResult, ScenarioResult
from profiler.strategy.registry import registered, resolve
from profiler.strategy.scenario import Scenario


@dataclass(frozen=True)
class TunePlan:
    # the data, the settings, and as targets the strategies to measure at their defaults
    run: RunPlan
    named: bool = (
        False  # the strategies were named: tune each; else the best ``top`` of the quick run
    )
    top: int = 2


def tunable(spec: Any, opt_in: bool = False) -> tuple[Target, ...]:
    """Every scenario of --scenario all (``opt_in``: everything) that has knobs and can read the
    data."""
    return tuple(
        Target.scenario(name)
        for name, scenario in registered().items()
        if scenario.knobs
        and (opt_in or not scenario.opt_in)
        and scenario.cannot_serve(spec) is None
    )


def measure_tune(
    plan: TunePlan,
    *,
    events: RunEvents | None = None,
    save: Callable[[TuneResult], None] | None = None,
    log_dir: Path | None = None,
) -> TuneResult:
    """Tune ``plan``'s strategies; Ctrl-C ends it with what was measured (``interrupted``)."""
    events = events or RunEvents()
    first = TuneResult(collect_metadata(), plan.run.settings, None, None, now())
    return measure_series(first, lambda series: _tune(plan, series, events, log_dir), save)


def _tune(
    plan: TunePlan, series: Series[TuneResult], events: RunEvents, log_dir: Path | None
) -> None:
    """The strategies at their defaults, then each chosen one's knobs, round by round."""
    events.steps_planned(_expected_steps(plan))
    events.step_started(
        "The strategies named, at their defaults"
        if plan.named
        else "Every strategy that has settings to tune, at its defaults"
    )
    first = series.result

    def keep_quick(quick: RunResult) -> None:
        series.keep(
            replace(
                first,
                data=quick.data,
                ceiling=quick.ceiling,
                candidates={r.name: r.samples_per_s for r in quick.scenarios if usable(r)},
                interrupted=quick.interrupted,
                targets=plan.run.targets,
            )
        )

    quick = measure_run(
        plan.run, events=events, save=keep_quick, log_dir=under(log_dir, "defaults")
    )
    keep_quick(quick)
    if quick.interrupted:
        return
    assert plan.run.spec is not None, "tuning measures the built-in strategies on a dataset"
    source = prepare_source(plan.run.spec, plan.run.cache_root, RunEvents())
    chosen = _chosen(quick, plan)
    events.steps_planned(_planned_steps(plan, chosen, source))
    for default in chosen:
        done = series.result.tuned  # the strategies tuned before this one; its record follows them

        def keep(tuned: TunedStrategy, done: tuple[TunedStrategy, ...] = done) -> None:
            series.keep(replace(series.result, tuned=(*done, tuned)))

        search = Search(
            resolve(default.name),
            default,
            plan.run,
            quick.ceiling,
            source,
            events,
            under(log_dir, Target.scenario(default.name).file_name),
            keep,
        )
        for tuned in search.rounds():
            keep(tuned)
        if search.interrupted:
            series.stopped()
            return


def _chosen(quick: RunResult, plan: TunePlan) -> list[ScenarioResult]:
    """The strategies to tune: those named, or the ``top`` whose rate's interval reaches highest, so
    that a fast strategy measured on a noisy stretch is not passed over for a steadier, slower
    one."""
    measured = [r for r in quick.scenarios if usable(r)]
    if plan.named:
        return measured
    return sorted(measured, key=_reach, reverse=True)[: plan.top]


def _planned_steps(plan: TunePlan, chosen: list[ScenarioResult], source: DataSource) -> list[int]:
    """The targets of each step: the defaults, then each knob's values beside the best so far. A
    strategy's alternating confirmation joins the plan once one of its values is kept
    (``_Search.rounds``): counted from the start, it over-told the time left by a minute for every
    strategy whose defaults nothing beat, pydataset in three tunes of four on the default data."""
    cores = usable_cpus()
    steps = [len(plan.run.targets)]
    for default in chosen:
        steps += _knob_steps(resolve(default.name), plan, source, cores)
    return steps


def _knob_steps(
    scenario: Scenario, plan: TunePlan, source: DataSource | None, cores: int
) -> list[int]:
    """The targets of each of a strategy's knob steps: its values beside the best so far."""
    steps = []
    for knob in scenario.knobs:
        current = plan.run.settings.workers if knob.default is None else knob.default
        values = scenario.knob_choices(knob, source, cores, current)
        if values:
            steps.append(1 + len(values))
    return steps


def _expected_steps(plan: TunePlan) -> list[int]:
    """The steps as expected before the defaults are measured, so the count and the time left show
    from the start (the first step is a fifth of a default tune): the knob steps of every strategy
    named, else of an average candidate for each of the ``top`` to be chosen, with the values
    chosen blind to the data. The plan made after the first step replaces it."""
    cores = usable_cpus()
    each = [_knob_steps(resolve(t.reference), plan, None, cores) for t in plan.run.targets]
    if plan.named or not each:
        return [len(plan.run.targets)] + [n for steps in each for n in steps]
    chosen = min(plan.top, len(each))
    count = round(chosen * sum(len(steps) for steps in each) / len(each))
    targets = round(chosen * sum(sum(steps) for steps in each) / len(each))
    if count < 1:
        return [len(plan.run.targets)]
    return [len(plan.run.targets)] + [
        targets // count + (1 if number < targets % count else 0) for number in range(count)
    ]


def _reach(result: ScenarioResult) -> float:
    """What the strategy could reach: the top of its rate's interval, or, where more is higher,
    every usable core doing its work at the CPU per sample it paid (a pool or a parallel map left
    at one worker can reach that with its knobs; a rate alone would pass it over)."""
    high = result.samples_per_s_ci[1] if result.samples_per_s_ci else result.samples_per_s or 0.0
    if not result.cpu_s or not result.samples_per_epoch:
        return high
    return max(high, usable_cpus() * result.samples_per_epoch / result.cpu_s)


# Names that lived here in 0.2 and moved since, still found (with a DeprecationWarning).
__getattr__ = left_behind(__name__)
