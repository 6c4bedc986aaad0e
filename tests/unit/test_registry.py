from __future__ import annotations

import importlib
import pkgutil

import pytest

import scenarios
from profiler.base.errors import ProfilerError
from profiler.strategy.registry import parse_selection, registered, resolve
from profiler.strategy.scenario import Scenario


def test_every_scenario_module_is_registered():
    # Modules whose names start with an underscore hold helpers, not strategies.
    modules = {
        info.name
        for info in pkgutil.iter_modules(scenarios.__path__)
        if not info.name.startswith("_")
    }
    registered_ = list(registered().values())
    for name in modules:
        module = importlib.import_module(f"scenarios.{name}")
        assert any(module.SCENARIO is scenario for scenario in registered_), (
            f"scenarios/{name}.py is not registered"
        )
    assert len(registered_) == len(modules)


def test_core_scenarios_in_order():
    assert list(registered())[:5] == [
        "preload",
        "generator",
        "generator_prefetch",
        "multiprocessing",
        "cache",
    ]


@pytest.mark.parametrize("scenario", list(registered().values()), ids=list(registered()))
def test_each_scenario_describes_itself(scenario):
    assert isinstance(scenario, Scenario)
    assert scenario.name and scenario.summary and scenario.description
    assert "tf.data options:" in scenario.description
    assert scenario.requires_tensorflow


def test_selection():
    assert parse_selection("everything") == list(registered())
    assert parse_selection("all") == [
        name for name, scenario in registered().items() if not scenario.opt_in
    ]
    assert {"pydataset_processes", "data_service"} == set(registered()) - set(
        parse_selection("all")
    )
    assert parse_selection(" cache , preload") == ["cache", "preload"]
    assert resolve("tests.fakes:QUICK").name == "quick"
    with pytest.raises(ProfilerError, match="is not a Scenario object"):
        resolve("tests.fakes:SlowBatches")
