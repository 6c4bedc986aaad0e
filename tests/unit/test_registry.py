from __future__ import annotations

import importlib
import pkgutil

import pytest

import scenarios
from profiler.errors import ProfilerError
from scenarios import REGISTRY, Scenario, parse_selection, resolve

_NOT_SCENARIOS = {"base"}


def test_every_scenario_module_is_registered():
    modules = {info.name for info in pkgutil.iter_modules(scenarios.__path__)} - _NOT_SCENARIOS
    registered = list(REGISTRY.values())
    for name in modules:
        module = importlib.import_module(f"scenarios.{name}")
        assert any(module.SCENARIO is scenario for scenario in registered), f"scenarios/{name}.py is not in REGISTRY"
    assert len(registered) == len(modules)


def test_core_scenarios_in_order():
    assert list(REGISTRY)[:5] == ["preload", "generator", "generator_prefetch", "multiprocessing", "cache"]


@pytest.mark.parametrize("scenario", list(REGISTRY.values()), ids=list(REGISTRY))
def test_each_scenario_describes_itself(scenario):
    assert isinstance(scenario, Scenario)
    assert scenario.name and scenario.summary and scenario.description
    assert "tf.data options:" in scenario.description
    assert scenario.requires_tensorflow


def test_selection():
    assert parse_selection("everything") == list(REGISTRY)
    assert parse_selection("all") == [name for name, scenario in REGISTRY.items() if not scenario.opt_in]
    assert {"pydataset_processes", "data_service"} == set(REGISTRY) - set(parse_selection("all"))
    assert parse_selection(" cache , preload") == ["cache", "preload"]
    assert resolve("tests.fakes:QUICK").name == "quick"
    with pytest.raises(ProfilerError, match="is not a Scenario object"):
        resolve("tests.fakes:SlowBatches")
