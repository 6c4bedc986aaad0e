"""Where scenarios come from: the entry-point group every strategy package registers in.

The built-in strategies register exactly as a third party would, in ``pyproject.toml``::

    [project.entry-points."tf_pipeline_profiler.scenarios"]
    builtin = "scenarios:SCENARIOS"

An entry point names a Scenario object or an ordered sequence of them. The built-in group comes
first, the others follow by entry-point name, each in its own order. The core imports no strategy
by name: it only loads what is registered, or a ``package.module:ATTRIBUTE`` the user names.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from profiler.base.errors import ProfilerError
from profiler.base.settings import Target
from profiler.strategy.pipeline_adapter import PipelineFunction
from profiler.strategy.scenario import Scenario

ENTRY_POINT_GROUP = "tf_pipeline_profiler.scenarios"
BUILTIN = "builtin"
ALL = "all"  # every registered scenario but the opt-in ones
EVERYTHING = "everything"  # the opt-in ones too


def registered() -> dict[str, Scenario]:
    """Every registered scenario by name, in run order."""
    return _registry()[0]


def entry_point_of(name: str) -> str | None:
    """The entry point that registers the scenario ``name``, so a worker loads that one alone."""
    return None if ":" in name else _registry()[1].get(name)


@functools.cache
def _registry() -> tuple[dict[str, Scenario], dict[str, str]]:
    points = sorted(
        metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda p: (p.name != BUILTIN, p.name)
    )
    found: dict[str, Scenario] = {}
    origins: dict[str, str] = {}
    for point in points:
        for scenario in _load_point(point):
            if scenario.name in found:
                raise ProfilerError(
                    f"two registered scenarios are named '{scenario.name}' (one from "
                    f"{point.value}): rename one of them"
                )
            found[scenario.name] = scenario
            origins[scenario.name] = point.name
    if not found:
        raise ProfilerError(
            "no scenarios are registered: install the package (pip install .) so that its built-in "
            f"scenarios register in the entry-point group {ENTRY_POINT_GROUP}"
        )
    return found, origins


def _load_point(point: metadata.EntryPoint) -> list[Scenario]:
    if point.name == BUILTIN:
        _check_not_shadowed(point)
    try:
        loaded = point.load()
    except Exception as error:  # noqa: BLE001 - a broken plugin is named, not a traceback
        raise ProfilerError(
            f"cannot load the scenarios registered as '{point.name}' ({point.value}): "
            f"{type(error).__name__}: {error}; fix or uninstall that package"
        ) from None
    return _scenarios_in(loaded, point.value)


def _check_not_shadowed(point: metadata.EntryPoint) -> None:
    """Refuse a module of the user's with the built-ins' top-level name ("scenarios.py" in the
    working folder), found before them on the path; found, not imported: it may import
    TensorFlow."""
    top = point.module.split(".")[0]
    installed = point.dist.locate_file(f"{top}/__init__.py") if point.dist is not None else None
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return
    if installed is None or spec is None or not spec.origin:
        return
    found = Path(spec.origin)
    if found.resolve() == Path(str(installed)).resolve():
        return
    # A source tree of this project (its tests run from one) holds the same package beside
    # profiler/.
    source_tree = (
        found.name == "__init__.py" and (found.parent.parent / "profiler" / "__init__.py").is_file()
    )
    if not source_tree:
        raise ProfilerError(
            f"'{spec.origin}' hides the built-in strategies (the package '{top}' of "
            "tf-pipeline-profiler): rename it, or run from another folder"
        )


def _scenarios_in(loaded: object, where: str) -> list[Scenario]:
    if isinstance(loaded, Mapping):
        loaded = list(loaded.values())
    items = (
        [loaded]
        if isinstance(loaded, Scenario)
        else list(loaded)
        if isinstance(loaded, Iterable)
        else [loaded]
    )
    for item in items:
        if not isinstance(item, Scenario):
            raise ProfilerError(
                f"{where} registers {type(item).__name__}, not a Scenario: register instances of "
                "profiler.strategy.Scenario"
            )
    return items  # type: ignore[return-value]


def resolve(reference: str) -> Scenario:
    """A registered name, or ``package.module:attribute`` naming a Scenario object."""
    if ":" not in reference:  # a name: only the registry knows it
        scenarios = registered()
        if reference in scenarios:
            return scenarios[reference]
        if reference in ("all", "everything"):  # reached only from a list of several names
            raise ProfilerError(
                f"'{reference}' stands for every scenario and goes alone: pass --scenario "
                f"{reference} by itself, or list the names you want"
            )
        raise ProfilerError(
            f"unknown scenario '{reference}': choose from {', '.join(scenarios)}, 'all' or "
            "'everything' (see 'python -m profiler list')"
        )
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ProfilerError(
            f"cannot import scenario module '{module_name}' ({error}): check the module path and "
            "that it is importable from the current folder"
        ) from None
    except Exception as error:  # noqa: BLE001 - the user's module failed: name it, no traceback
        summary = f"{type(error).__name__}: {error}".splitlines()[0][:200]
        raise ProfilerError(
            f"scenario module '{module_name}' raised {summary} while being imported: fix the "
            "module, or leave it out of --scenario"
        ) from None
    scenario = getattr(module, attribute, None)
    if not isinstance(scenario, Scenario):
        raise ProfilerError(
            f"'{reference}' is not a Scenario object: point it at an instance of "
            "profiler.strategy.Scenario"
        )
    return scenario


def load(target: Target, entry_point: str | None = None) -> Scenario:
    """The scenario that measures ``target``: a registered one, or the adapter of a pipeline
    function.

    With ``entry_point`` (from ``entry_point_of``) only that entry point is loaded, as a worker
    does, so other installed plugins neither slow it down nor weigh on its memory.
    """
    if target.is_pipeline:
        return PipelineFunction(target.reference, target.arguments)
    if entry_point is not None:
        for point in metadata.entry_points(group=ENTRY_POINT_GROUP, name=entry_point):
            for scenario in _load_point(point):
                if scenario.name == target.reference:
                    return scenario
    return resolve(target.reference)


def parse_selection(selection: str) -> list[str]:
    """'all', 'everything', one name, or a comma list, checked and returned in run order."""
    scenarios = registered()
    if selection.strip() == ALL:
        return [name for name, scenario in scenarios.items() if not scenario.opt_in]
    if selection.strip() == EVERYTHING:
        return list(scenarios)
    references = [part.strip() for part in selection.split(",") if part.strip()]
    if not references:
        raise ProfilerError("--scenario is empty: pass 'all', a name, or a comma list of names")
    for reference in references:
        resolve(reference)
    return references
