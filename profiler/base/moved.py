"""Import paths of earlier releases, kept working: each old module name is its new module.

A strategy written against ``profiler.scenario`` or ``profiler.settings`` still loads. The old flat
modules are found by a finder on ``sys.meta_path``, which hands back the module at its new path (one
module object under two names, so ``isinstance`` and patches agree), with a DeprecationWarning that
names the new path. A name that moved to another module or was renamed is found through
``ELSEWHERE`` by the ``__getattr__`` of the module it left (``left_behind``). The old modules whose
names are now folders (``profiler.data``, say) forward their names from the folder's ``__init__``
instead.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import pkgutil
import sys
import warnings
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

# Old module -> its module now. Old names that are folders now are forwarded by forward_to.
MOVED = {
    "units": "base.units",
    "errors": "base.errors",
    "settings": "base.settings",
    "codec": "base.codec",
    "stats": "base.stats",
    "metadata": "base.metadata",
    "memory": "system.memory",
    "isolation": "system.network_namespace",
    "confine": "system.namespace_launcher",
    "lifeline": "system.lifeline",
    "stopping": "system.stopping",
    "scratch": "system.scratch",
    "pagecache": "system.page_cache",
    "datacache": "data.dataset_cache",
    "fingerprint": "data.fingerprint",
    "decode": "data.sample_work",
    "records": "data.tfrecord_reader",
    "userdata": "data.user_data",
    "userindex": "data.user_index",
    "userscan": "data.user_scan",
    "scenario": "strategy.scenario",
    "pipeline": "strategy.pipeline_adapter",
    "pipesource": "strategy.pipeline_source",
    "registry": "strategy.registry",
    "decoders": "ceiling.decoder_rates",
    "stages": "ceiling.stage_times",
    "storage": "results.files",
    "measure": "worker.loops",
    "consumer": "worker.consumer",
    "fits": "analysis.fits",
    "forecast": "analysis.forecast",
    "recommend": "analysis.recommend",
    "compare": "analysis.comparison",
    "sweep": "analysis.sweep_result",
    "tuned": "analysis.tune_result",
    "scaled": "analysis.scale_result",
    "runner": "measuring.runner",
    "session": "measuring.worker_session",
    "procedure": "measuring.procedure",
    "metrics": "measuring.metrics",
    "measure_run": "drivers.run",
    "tune": "drivers.tune",
    "scale": "drivers.scale",
}
# (old module, name) -> (the module it is in now, its name there): what left its old module.
ELSEWHERE = {
    ("measure", "bad_batch"): ("worker.batches", "bad_batch"),
    ("measure", "batch_length"): ("worker.batches", "batch_length"),
    ("measure_run", "checked"): ("drivers.kept_results", "checked"),
    ("measure_run", "with_results"): ("drivers.kept_results", "with_results"),
    ("recommend", "pick_at_target"): ("analysis.target_pick", "pick_at_target"),
    ("recommend", "TARGET_TIE_RULE"): ("analysis.target_pick", "TARGET_TIE_RULE"),
    ("recommend", "seconds"): ("analysis.target_pick", "seconds"),
    ("storage", "load_results"): ("analysis.sweep_result", "load_results"),
    ("storage", "load_sweep"): ("analysis.sweep_result", "load_sweep"),
    ("storage", "save_sweep"): ("analysis.sweep_result", "save_sweep"),
    ("storage", "sweep_to_json"): ("analysis.sweep_result", "sweep_to_json"),
    ("storage", "update_to_2"): ("results.upgrade", "update_to_2"),
    ("measure_run", "measure_sweep"): ("drivers.sweep", "measure_sweep"),
    ("measure_run", "SweepPlan"): ("drivers.sweep", "SweepPlan"),
    ("measure_run", "sized_targets"): ("drivers.sweep", "sized_targets"),
    ("tune", "TuneEvents"): ("drivers.run", "RunEvents"),
    ("scale", "ScaleEvents"): ("drivers.run", "RunEvents"),
    ("results", "TRAINER"): ("strategy.scenario", "TRAINER"),
    ("results", "DISPATCHER"): ("strategy.scenario", "DISPATCHER"),
    ("results", "SERVICE_WORKERS"): ("strategy.scenario", "SERVICE_WORKERS"),
    ("measure", "percentile"): ("base.stats", "percentile"),
    ("procedure", "MIN_WINDOWS"): ("measuring.procedure", "WINDOWS_FOR_PRECISION"),
    ("procedure", "FEWEST_WINDOWS"): ("measuring.procedure", "WINDOWS_BEFORE_CAP"),
    ("compare", "Threshold"): ("analysis.thresholds", "Threshold"),
    ("compare", "parse_thresholds"): ("analysis.thresholds", "parse_thresholds"),
    ("compare", "DEFAULT_FAIL_ON"): ("analysis.thresholds", "DEFAULT_FAIL_ON"),
    ("compare", "MAX_RELATIVE_LIMIT"): ("analysis.thresholds", "MAX_RELATIVE_LIMIT"),
    ("compare", "MAX_ABSOLUTE_LIMIT"): ("analysis.thresholds", "MAX_ABSOLUTE_LIMIT"),
}
PACKAGE = "profiler"


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} moved to {new}: import it from there (the old path will be removed)",
        DeprecationWarning,
        stacklevel=3,
    )


def old_name(old: str, new: str, name: str) -> Any:
    """``name`` of old module ``old`` (short), read from ``new`` or where it went since."""
    found = vars(importlib.import_module(new))  # not getattr: that would come back here
    if name in found:
        return found[name]
    if (old, name) not in ELSEWHERE:
        raise AttributeError(f"module '{PACKAGE}.{old}' has no attribute {name!r}")
    where, renamed = ELSEWHERE[old, name]
    _warn(f"{PACKAGE}.{old}.{name}", f"{PACKAGE}.{where}.{renamed}")
    return getattr(importlib.import_module(f"{PACKAGE}.{where}"), renamed)


def left_behind(module: str) -> Callable[[str], Any]:
    """A module's ``__getattr__`` for the names that left it (or its old path) since 0.2."""
    old = next((o for o, n in MOVED.items() if f"{PACKAGE}.{n}" == module), None)

    def __getattr__(name: str) -> Any:
        if old is None or (old, name) not in ELSEWHERE:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return old_name(old, module, name)

    return __getattr__


class _Alias(importlib.abc.Loader):
    """Loads an old name as the module at its new path: one module object under two names, so
    ``isinstance`` and patches agree."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        _warn(spec.name, self.new)
        module = importlib.import_module(self.new)
        self.own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system set the alias's spec on the shared module; the module keeps its own.
        module.__spec__ = self.own_spec


class MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        old = fullname.removeprefix(PACKAGE + ".")
        if fullname == old or old not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(f"{PACKAGE}.{MOVED[old]}"))


def install() -> None:
    if not any(isinstance(finder, MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedFinder())


def moved_module(name: str) -> ModuleType | None:
    """``profiler.<name>`` of an earlier release, for ``from profiler import <name>``."""
    if name not in MOVED:
        return None
    return importlib.import_module(f"{PACKAGE}.{name}")


def forward_to(package: str, module: str, path: Iterable[str]) -> Callable[[str], Any]:
    """A folder's ``__getattr__`` that hands out the names of the module its name once was."""
    own = {info.name for info in pkgutil.iter_modules(list(path))}
    old = package.removeprefix(PACKAGE + ".")

    def __getattr__(name: str) -> Any:
        if name in own or name.startswith("__"):
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        found = vars(importlib.import_module(module))
        if name in found:
            _warn(f"{package}.{name}", f"{module}.{name}")
            return found[name]
        try:
            return old_name(old, module, name)  # moved on since; it says where
        except AttributeError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    return __getattr__
