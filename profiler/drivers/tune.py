"""``measure_tune``: the best settings of a strategy's knobs, each configuration measured by
``measure_run``.

A quick run measures every strategy that has knobs (or those named) at their defaults; the best one
or two are tuned one knob at a time (profiler.analysis.tune_result.SEARCH says how and why), every
configuration in a fresh worker as a run measures it, against the ceiling of the quick run. The
growing TuneResult goes to ``save`` after every round, so nothing measured is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from profiler.analysis.tune_result import (
    KnobRecord,
    Trial,
    TunedStrategy,
    TuneResult,
    configuration,
    gain_of,
    kept,
    pooled,
    usable,
)
from profiler.base.metadata import collect_metadata, usable_cpus
from profiler.base.moved import left_behind
from profiler.base.settings import Target
from profiler.ceiling.limit import Ceiling
from profiler.data.synthetic import DataSource
from profiler.drivers.run import RunEvents, RunPlan, measure_run, prepare_source
from profiler.drivers.series import Series, measure_series
from profiler.results.files import now
from profiler.results.records import RunResult, ScenarioResult
from profiler.strategy.registry import registered, resolve
from profiler.strategy.scenario import Scenario

CONFIRM_ROUNDS = 2  # fresh workers each for the defaults and the best, alternating, at the end


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
    quick = measure_run(plan.run, events=events, log_dir=_under(log_dir, "defaults"))
    candidates = {r.name: r.samples_per_s for r in quick.scenarios if usable(r)}
    series.keep(
        replace(
            series.result,
            data=quick.data,
            ceiling=quick.ceiling,
            candidates=candidates,
            interrupted=quick.interrupted,
            targets=plan.run.targets,
        )
    )
    if quick.interrupted:
        return
    assert plan.run.spec is not None, "tuning measures the built-in strategies on a dataset"
    source = prepare_source(plan.run.spec, plan.run.cache_root, RunEvents())
    chosen = _chosen(quick, plan)
    events.steps_planned(_planned_steps(plan, chosen, source))
    for default in chosen:
        done = series.result.tuned  # the strategies tuned before this one; its record follows them
        search = _Search(
            resolve(default.name),
            default,
            plan.run,
            quick.ceiling,
            source,
            events,
            _under(log_dir, Target.scenario(default.name).file_name),
        )
        for tuned in search.rounds():
            series.keep(replace(series.result, tuned=(*done, tuned)))
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


def _under(log_dir: Path | None, name: str) -> Path | None:
    return None if log_dir is None else log_dir / name


class _Search:
    """One strategy's knobs, one at a time from the best so far; each round yields the record so
    far."""

    def __init__(
        self,
        scenario: Scenario,
        default: ScenarioResult,
        plan: RunPlan,
        ceiling: Ceiling | None,
        source: DataSource,
        events: RunEvents,
        log_dir: Path | None,
    ) -> None:
        self.scenario, self.plan, self.ceiling, self.source = scenario, plan, ceiling, source
        self.reference = default.name  # a registered name, or module:ATTRIBUTE
        self.events, self.log_dir = events, log_dir
        self.defaults = {
            knob.name: plan.settings.workers if knob.default is None else knob.default
            for knob in scenario.knobs
        }
        self.default = default
        self.best, self.best_settings = default, dict(self.defaults)
        self.trials = [Trial("", None, default)]
        self.knobs: list[KnobRecord] = []
        self.interrupted = False

    def rounds(self) -> Any:
        cores = usable_cpus()
        # Each knob's values from its default: a knob's own setting changes only in its own step.
        choices = [
            (knob, self.scenario.knob_choices(knob, self.source, cores, self.defaults[knob.name]))
            for knob in self.scenario.knobs
        ]
        for number, (knob, values) in enumerate(choices):
            current = self.best_settings[knob.name]
            self.knobs.append(
                KnobRecord(knob.name, self.defaults[knob.name], values, knob.what, knob.code)
            )
            if not values:
                continue
            self.events.step_started(
                f"{self.reference}: {knob.name} = {', '.join(map(str, values))}, beside "
                f"{_shown(self._changed(self.best_settings)) or 'the defaults'} again"
            )
            # The best so far is measured again first: this machine's speed drifts, and each value
            # is compared with the best as measured beside it, in the same round.
            targets = [
                Target.tuned(
                    self.reference, self._changed({**self.best_settings, knob.name: value})
                )
                for value in (current, *values)
            ]
            run = self._measure(targets, knob.name)
            again, *tried = run.scenarios
            self.trials.append(Trial(knob.name, current, again, again=True))
            best = again if usable(again) else self.best
            self.trials += [
                Trial(knob.name, value, r) for value, r in zip(values, tried, strict=False)
            ]
            chosen = kept(tried, best, run.reference, same_run=best is not self.best)
            if chosen is not None:
                if not self._changed(self.best_settings):  # the first kept: a confirmation follows
                    left = sum(1 for _, later in choices[number + 1 :] if later)
                    self.events.step_added(2 * CONFIRM_ROUNDS, after=left)
                best = tried[chosen]
                self.best_settings = {**self.best_settings, knob.name: values[chosen]}
            self.best = best
            yield self._record(self.default, self.best, None)
            if run.interrupted:
                self.interrupted = True
                return
        yield self._confirmed()

    def _confirmed(self) -> TunedStrategy:
        """The defaults and the best measured again, alternating (ABAB: the machine's drift falls on
        both), for the gain; where nothing beat the defaults, nothing more is measured."""
        changed = self._changed(self.best_settings)
        if not changed:
            return self._record(self.default, self.default, (1.0, None), complete=True)
        self.events.step_started(
            f"{self.reference}: the defaults and {_shown(changed)}, alternating"
        )
        pair = [Target.scenario(self.reference), Target.tuned(self.reference, changed)]
        run = self._measure(pair * CONFIRM_ROUNDS, "confirm")
        defaults, bests = list(run.scenarios[0::2]), list(run.scenarios[1::2])
        if run.interrupted or len(bests) < CONFIRM_ROUNDS or not all(map(usable, defaults + bests)):
            self.interrupted = run.interrupted
            return self._record(self.default, self.best, None)
        return self._record(
            pooled(defaults), pooled(bests), gain_of(pooled(defaults), pooled(bests)), complete=True
        )

    def _measure(self, targets: list[Target], name: str) -> RunResult:
        # A value is kept on its rate over the best's, round by round: every configuration is
        # measured to the time cap, and so shares every round. Stopped at its own precision, 3
        # threads shared 13 rounds of 4 threads' 27; its ratio's interval began at 1.029, under
        # the 1.03 it needed, and 4 was kept, though the two read 6,444 and 6,447 samples/s.
        settings = replace(self.plan.settings, precision=0.0)
        plan = replace(self.plan, settings=settings, targets=tuple(targets), measure_ceiling=False)
        return measure_run(
            plan, events=self.events, ceiling=self.ceiling, log_dir=_under(self.log_dir, name)
        )

    def _changed(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in settings.items() if self.defaults[name] != value}

    def _record(
        self,
        default: ScenarioResult,
        best: ScenarioResult,
        gain: tuple[float | None, tuple[float, float] | None] | None,
        complete: bool = False,
    ) -> TunedStrategy:
        # With no knob changed, "best" is the defaults: their figures, not a later measurement of
        # the same.
        best = best if self._changed(self.best_settings) else default
        return TunedStrategy(
            name=self.reference,
            knobs=tuple(self.knobs),
            default=configuration(self.defaults, default),
            best=configuration(self.best_settings, best),
            trials=tuple(self.trials),
            gain=None if gain is None else gain[0],
            gain_ci=None if gain is None else gain[1],
            autotune=self.default.autotune,
            snippet=self.scenario.snippet,
            best_result=best,
            complete=complete,
        )


def _shown(settings: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in settings.items())


# Names that lived here in 0.2 and moved since, still found (with a DeprecationWarning).
__getattr__ = left_behind(__name__)
