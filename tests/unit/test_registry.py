from __future__ import annotations

import pkgutil

import pytest

import scenarios
from profiler.errors import ProfilerError
from scenarios import REGISTRY, Scenario, parse_selection, resolve

_NOT_SCENARIOS = {"base"}


def test_every_scenario_module_is_registered():
    modules = {info.name for info in pkgutil.iter_modules(scenarios.__path__)} - _NOT_SCENARIOS
    registered = {type(s).__module__.rsplit(".", 1)[1] for s in REGISTRY.values()}
    assert modules == registered


def test_core_scenarios_in_order():
    assert list(REGISTRY)[:5] == ["preload", "generator", "generator_prefetch", "multiprocessing", "cache"]


@pytest.mark.parametrize("scenario", list(REGISTRY.values()), ids=list(REGISTRY))
def test_each_scenario_describes_itself(scenario):
    assert isinstance(scenario, Scenario)
    assert scenario.name and scenario.summary and scenario.description
    assert "tf.data options:" in scenario.description
    assert scenario.requires_tensorflow


def test_selection():
    assert parse_selection("all") == list(REGISTRY)
    assert parse_selection(" cache , preload") == ["cache", "preload"]
    assert resolve("tests.fakes:QUICK").name == "quick"
    with pytest.raises(ProfilerError, match="is not a Scenario object"):
        resolve("tests.fakes:SlowBatches")
