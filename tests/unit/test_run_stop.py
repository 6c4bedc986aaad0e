"""A stop signal that lands after a group's last row was kept still ends the run as interrupted:
the run's record says so, the file saved says so, and no later group or size is begun."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from profiler.base.settings import MeasureSettings, Target
from profiler.drivers import run as run_driver
from profiler.drivers.run import RunPlan, measure_run
from profiler.results.records import STATUS_OK, ScenarioResult


class _Runner:
    """One group per target; the stop comes while the first group's last row is told, so its
    member had already finished and no row is marked interrupted."""

    def __init__(self) -> None:
        self.interrupted = False
        self.on_left = None
        self.source = None
        self.reference = SimpleNamespace(
            unit="x", split=lambda: ((), ()), split_work=lambda: ((), ())
        )
        self.measured: list[str] = []

    def __enter__(self) -> _Runner:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def plan_groups(self, items):
        return [[item] for item in items]

    def start_group(self, group):
        return group

    def wait_ready(self, group) -> None:
        return None

    def measure_group(self, group, driver, on_done):
        ((target, _),) = group
        self.measured.append(target.name)
        on_done(0, ScenarioResult(name=target.name, status=STATUS_OK))
        self.interrupted = True  # as _measure_together does when Ctrl-C lands in its last tell()
        return []


def test_a_stop_after_a_groups_last_row_ends_the_run_as_interrupted(monkeypatch):
    runner = _Runner()
    monkeypatch.setattr(run_driver, "Runner", lambda *args, **kwargs: runner)
    saved = []
    targets = (Target.scenario("generator"), Target.scenario("parallel_map"))
    plan = replace(RunPlan(MeasureSettings(), targets, None), measure_ceiling=False)
    result = measure_run(plan, save=saved.append)
    assert runner.measured == ["generator"]  # the second group is never begun
    assert result.interrupted and saved[-1].interrupted
    assert [row.name for row in result.scenarios] == ["generator"]
    assert not saved[0].interrupted  # kept before the stop, then saved again as interrupted
