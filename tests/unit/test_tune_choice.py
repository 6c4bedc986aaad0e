"""Which strategies ``tune`` searches when none is named, from constructed results at their
defaults.

The quick run's results are built here: rates with intervals of known reach, a strategy that
delivered other samples, one that crashed. ``_chosen`` must take the ``top`` whose interval reaches
highest among those usable; ``tunable`` every registered strategy with knobs that can read the data;
and ``measure_tune``, with ``measure_run`` replaced by a script, must search exactly those, in that
order.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from profiler.analysis import tune_result
from profiler.analysis.tune_result import TuneResult
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.data.synthetic import DataSpec
from profiler.drivers import tune, tune_search
from profiler.drivers.run import RunEvents, RunPlan
from profiler.drivers.tune import TunePlan, measure_tune, tunable
from profiler.results.records import RunResult, ScenarioResult
from profiler.strategy.scenario import Knob, Scenario

SPEC = DataSpec(kind="images", samples=64, height=8, width=8)


def _result(
    name: str, rate: float | None, ci: tuple[float, float] | None = None, **extra
) -> ScenarioResult:
    return ScenarioResult(
        **{
            "name": name,
            "status": "ok",
            "samples_per_s": rate,
            "samples_per_s_ci": ci,
            "samples_match": True,
            **extra,
        }
    )


# Reach (the interval's high end, or the rate where there is none): noisy 1,100 > no_interval 1,050
# > steady 1,010 > unchecked 700 > slow 510. The faster ones are not usable: other samples, or no
# result.
DEFAULTS = (
    _result("steady", 1000.0, (990.0, 1010.0)),
    _result("noisy", 950.0, (800.0, 1100.0)),
    _result("wrong_data", 2000.0, (1900.0, 2100.0), samples_match=False),
    _result("crashed", None, status="crashed", error="worker killed by SIGKILL"),
    _result("not_measured", None),
    _result("no_interval", 1050.0),
    # pixels may round apart: usable
    _result("unchecked", 600.0, (500.0, 700.0), samples_match=None),
    _result("slow", 500.0, (490.0, 510.0)),
)
USABLE_IN_RUN_ORDER = ["steady", "noisy", "no_interval", "unchecked", "slow"]


def _quick(results=DEFAULTS) -> RunResult:
    return RunResult(
        Metadata(),
        MeasureSettings(),
        tuple(Target.scenario(r.name) for r in results),
        None,
        scenarios=tuple(results),
    )


def _plan(named: bool = False, top: int = 2) -> TunePlan:
    targets = tuple(Target.scenario(r.name) for r in DEFAULTS)
    return TunePlan(RunPlan(MeasureSettings(), targets, SPEC), named=named, top=top)


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        (1, ["noisy"]),
        (2, ["noisy", "no_interval"]),
        (3, ["noisy", "no_interval", "steady"]),
        (20, ["noisy", "no_interval", "steady", "unchecked", "slow"]),
    ],
)
def test_the_top_by_the_reach_of_their_interval_are_chosen_among_the_usable(top, expected):
    assert [r.name for r in tune._chosen(_quick(), _plan(top=top))] == expected


def test_named_strategies_are_all_tuned_in_run_order_where_usable():
    assert [r.name for r in tune._chosen(_quick(), _plan(named=True, top=1))] == USABLE_IN_RUN_ORDER


def test_nothing_usable_means_nothing_is_chosen():
    assert tune._chosen(_quick(DEFAULTS[2:5]), _plan()) == []


class _Fake(Scenario):
    summary = description = "constructed"

    def __init__(
        self, name: str, knobs=(), opt_in: str = "", data_kinds=("images", "records", "arrays")
    ) -> None:
        self.name, self.knobs, self.opt_in, self.data_kinds = (
            name,
            tuple(knobs),
            opt_in,
            tuple(data_kinds),
        )


THREADS = Knob("threads", 1, (2, 4))


def test_tunable_strategies_have_knobs_read_the_data_and_are_not_opt_in_unless_asked(monkeypatch):
    found = {
        "tunable": _Fake("tunable", [THREADS]),
        "no_knobs": _Fake("no_knobs"),
        "opt_in": _Fake("opt_in", [THREADS], opt_in="slow to start"),
        "arrays_only": _Fake("arrays_only", [THREADS], data_kinds=("arrays",)),
        "also_tunable": _Fake("also_tunable", [THREADS]),
    }
    monkeypatch.setattr(tune, "registered", lambda: found)
    assert tunable(SPEC) == (Target.scenario("tunable"), Target.scenario("also_tunable"))
    assert tunable(SPEC, opt_in=True) == (
        Target.scenario("tunable"),
        Target.scenario("opt_in"),
        Target.scenario("also_tunable"),
    )
    arrays = DataSpec(kind="arrays", samples=64, height=8, width=8)
    assert [t.reference for t in tunable(arrays)] == ["tunable", "arrays_only", "also_tunable"]


class ScriptedRuns:
    """measure_run replaced: every target's rate from DEFAULTS, 1.5 times it with threads=2, else
    the same; every call's target names recorded."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.precisions: list[float] = []

    def __call__(self, plan: RunPlan, **_: object) -> RunResult:
        self.calls.append([target.name for target in plan.targets])
        self.precisions.append(plan.settings.precision)
        defaults = {r.name: r for r in DEFAULTS}
        results = []
        for target in plan.targets:
            default = defaults[target.reference]
            if not target.knobs:
                results.append(
                    replace(default, window_samples_per_s=(default.samples_per_s or 0.0,) * 6)
                )
                continue
            rate = (default.samples_per_s or 0.0) * (
                1.5 if target.knobs.get("threads") == 2 else 1.0
            )
            results.append(
                _result(
                    target.name, rate, (rate * 0.99, rate * 1.01), window_samples_per_s=(rate,) * 6
                )
            )
        return replace(_quick(results), targets=plan.targets)


@pytest.fixture
def scripted(monkeypatch) -> ScriptedRuns:
    runs = ScriptedRuns()
    monkeypatch.setattr(tune, "measure_run", runs)
    monkeypatch.setattr(tune_search, "measure_run", runs)
    monkeypatch.setattr(tune_search, "usable_cpus", lambda: 2)
    monkeypatch.setattr(tune, "prepare_source", lambda *args: None)
    monkeypatch.setattr(tune, "collect_metadata", Metadata)
    monkeypatch.setattr(tune, "usable_cpus", lambda: 2)
    monkeypatch.setattr(tune, "resolve", lambda name: _Fake(name, [THREADS]))
    # The confirming rounds pool two workers with a bootstrap of 2,000 resamples: not what is tested
    # here, and most of the time it takes; the range of the pooled windows stands in for it.
    monkeypatch.setattr(
        tune_result,
        "pooled_median_interval",
        lambda groups: (min(map(min, groups)), max(map(max, groups))),
    )
    return runs


def test_with_none_named_the_search_covers_the_top_two_by_reach_and_nothing_else(scripted):
    result = measure_tune(_plan())
    assert [strategy.name for strategy in result.tuned] == ["noisy", "no_interval"]
    assert result.candidates == {
        "steady": 1000.0,
        "noisy": 950.0,
        "no_interval": 1050.0,
        "unchecked": 600.0,
        "slow": 500.0,
    }
    searched = {name.split("[")[0] for call in scripted.calls[1:] for name in call}
    assert searched == {"noisy", "no_interval"}
    # The quick run measures every strategy given, once; each search measures its best so far again
    # beside the values of its knob, then the defaults and the best alternately.
    assert scripted.calls[0] == [r.name for r in DEFAULTS]
    assert scripted.calls[1] == ["noisy", "noisy[threads=2]", "noisy[threads=4]"]
    assert scripted.calls[2] == ["noisy", "noisy[threads=2]"] * 2
    noisy = result.tuned[0]
    assert (
        noisy.best.settings == {"threads": 2}
        and noisy.gain == pytest.approx(1.5)
        and noisy.complete
    )


def test_named_strategies_are_each_searched(scripted):
    result = measure_tune(_plan(named=True, top=1))
    assert [strategy.name for strategy in result.tuned] == USABLE_IN_RUN_ORDER


def test_the_quick_run_stops_at_the_precision_asked_and_every_configuration_runs_to_the_cap(
    scripted,
):
    # A value is kept on its ratio to the best, round by round: one that stopped early at its own
    # precision would share fewer rounds, and its ratio's interval would be the wider for it.
    plan = _plan()
    measure_tune(replace(plan, run=replace(plan.run, settings=MeasureSettings(precision=0.05))))
    assert scripted.precisions[0] == 0.05
    assert len(scripted.precisions) > 1 and set(scripted.precisions[1:]) == {0.0}


class StepLog(RunEvents):
    """The steps a tuning plans, begins and adds, in order."""

    def __init__(self) -> None:
        self.log: list[tuple] = []

    def steps_planned(self, targets) -> None:
        self.log.append(("planned", list(targets)))

    def step_started(self, text: str) -> None:
        self.log.append(("started",))

    def step_added(self, targets: int, after: int) -> None:
        self.log.append(("added", targets, after))


def test_a_confirmation_joins_the_plan_when_a_value_is_first_kept_and_only_then(
    scripted, monkeypatch
):
    # noisy: a knob that changes nothing, then threads, whose 2 is kept (1.5 times as fast);
    # no_interval: one value of threads that changes nothing, so no confirmation follows.
    knobs = {
        "noisy": [Knob("other", 1, (3,)), THREADS],
        "no_interval": [Knob("threads", 1, (4,))],
    }
    monkeypatch.setattr(tune, "resolve", lambda name: _Fake(name, knobs.get(name, [])))
    events = StepLog()
    measure_tune(_plan(), events=events)
    started = ("started",)
    assert events.log == [
        # Before the defaults are measured, the steps of an average candidate for each of the
        # two to be chosen: 3 knob steps and 7 targets among 8 candidates, so 1 step of 2.
        ("planned", [len(DEFAULTS), 2]),
        started,  # the defaults, before the strategies to tune are known
        ("planned", [len(DEFAULTS), 2, 3, 2]),
        started,  # noisy: other
        started,  # noisy: threads
        ("added", 2 * tune_search.CONFIRM_ROUNDS, 0),  # right after this step
        started,  # noisy: the confirmation
        started,  # no_interval: threads, and nothing after it
    ]


def test_each_configuration_is_saved_as_its_row_is_kept_before_its_workers_end(
    scripted, monkeypatch
):
    """A SIGKILL between a round's last row and the end of its workers must not cost the round:
    when each measure_run returns, the tune saved already holds every row it measured."""
    saved: list[TuneResult] = []
    seen: list[TuneResult | None] = []

    def measure_run(plan: RunPlan, save=None, **rest: object) -> RunResult:
        run = scripted(plan, **rest)
        for count in range(1, len(run.scenarios) + 1):  # as the Keeper saves, row by row
            if save is not None:
                save(replace(run, scenarios=run.scenarios[:count]))
        seen.append(saved[-1] if saved else None)  # what a SIGKILL now would leave
        return run

    monkeypatch.setattr(tune, "measure_run", measure_run)
    monkeypatch.setattr(tune_search, "measure_run", measure_run)
    result = measure_tune(_plan(), save=saved.append)
    quick, noisy_threads, noisy_confirmed = seen[:3]
    assert quick is not None and quick.candidates == result.candidates
    rounds = [t for t in noisy_threads.tuned[0].trials if t.knob == "threads"]
    assert [(t.value, t.result.samples_per_s) for t in rounds] == [
        (1, 950.0),  # the best so far, again
        (2, 1425.0),
        (4, 950.0),
    ]
    assert noisy_confirmed.tuned[0].complete and noisy_confirmed.tuned[0].gain == pytest.approx(1.5)
    assert seen[-1].tuned == result.tuned
