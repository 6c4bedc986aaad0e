"""tf-pipeline-profiler: measure TensorFlow input-pipeline strategies on your own machine.

The library in three lines::

    from profiler import DataSpec, MeasureSettings, RunPlan, Target, measure_run
    plan = RunPlan(MeasureSettings(), (Target.scenario("generator"),), DataSpec())
    run = measure_run(plan)

Every name below loads on first use, so ``import profiler`` stays cheap: a spawned worker and the
network-namespace launcher import this package before anything else and must not start threads.
The plugin API for strategies is ``profiler.strategy``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from profiler.base import moved

__version__ = "0.3.0"

# Public name -> the module that defines it.
_PUBLIC = {
    "measure_run": "drivers.run",
    "measure_sweep": "drivers.sweep",
    "measure_tune": "drivers.tune",
    "measure_scale": "drivers.scale",
    "RunPlan": "drivers.run",
    "SweepPlan": "drivers.sweep",
    "TunePlan": "drivers.tune",
    "ScalePlan": "drivers.scale",
    "RunEvents": "drivers.run",
    "MeasureSettings": "base.settings",
    "ServiceSettings": "base.settings",
    "Target": "base.settings",
    "DataSpec": "data.synthetic",
    "ProfilerError": "base.errors",
    "RunResult": "results.records",
    "ScenarioResult": "results.records",
    "Pick": "results.records",
    "SweepResult": "analysis.sweep_result",
    "TuneResult": "analysis.tune_result",
    "ScaleResult": "analysis.scale_result",
    "load_run": "results.files",
    "load_results": "analysis.sweep_result",
    "save_run": "results.files",
}
__all__ = [
    "DataSpec",
    "MeasureSettings",
    "Pick",
    "ProfilerError",
    "RunEvents",
    "RunPlan",
    "RunResult",
    "ScalePlan",
    "ScaleResult",
    "ScenarioResult",
    "ServiceSettings",
    "SweepPlan",
    "SweepResult",
    "Target",
    "TunePlan",
    "TuneResult",
    "__version__",
    "load_results",
    "load_run",
    "measure_run",
    "measure_scale",
    "measure_sweep",
    "measure_tune",
    "save_run",
]

moved.install()

if TYPE_CHECKING:
    from profiler.analysis.scale_result import ScaleResult
    from profiler.analysis.sweep_result import SweepResult, load_results
    from profiler.analysis.tune_result import TuneResult
    from profiler.base.errors import ProfilerError
    from profiler.base.settings import MeasureSettings, ServiceSettings, Target
    from profiler.data.synthetic import DataSpec
    from profiler.drivers.run import RunEvents, RunPlan, measure_run
    from profiler.drivers.scale import ScalePlan, measure_scale
    from profiler.drivers.sweep import SweepPlan, measure_sweep
    from profiler.drivers.tune import TunePlan, measure_tune
    from profiler.results.files import load_run, save_run
    from profiler.results.records import Pick, RunResult, ScenarioResult


class _Package(types.ModuleType):
    """This package, whose public names stay what they are: importing the old module path
    ``profiler.measure_run`` must not replace the function ``profiler.measure_run`` with it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PUBLIC and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(f"profiler.{_PUBLIC[name]}"), name)
    old = moved.moved_module(name)
    if old is None:
        raise AttributeError(f"module 'profiler' has no attribute {name!r}")
    return old
