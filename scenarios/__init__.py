"""The input-pipeline strategies, one module each, listed in an explicit order.

Add a strategy by writing a module with a ``SCENARIO`` object and listing it in ``REGISTRY``;
a test fails when a module in this package is missing from the registry.
"""

from __future__ import annotations

import importlib
from typing import Any

from profiler.errors import ProfilerError
from scenarios import (
    cache,
    cache_file,
    data_service,
    generator,
    generator_prefetch,
    multiprocessing_pool,
    parallel_map,
    parallel_map_opencv,
    preload,
    pydataset,
    pydataset_processes,
    snapshot,
    tfrecord,
    threaded_generator,
)
from scenarios.base import Batch, PipelineContext, Scenario

REGISTRY: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        preload.SCENARIO,
        generator.SCENARIO,
        generator_prefetch.SCENARIO,
        multiprocessing_pool.SCENARIO,
        cache.SCENARIO,
        threaded_generator.SCENARIO,
        parallel_map.SCENARIO,
        parallel_map_opencv.SCENARIO,
        tfrecord.SCENARIO,
        cache_file.SCENARIO,
        snapshot.SCENARIO,
        pydataset.SCENARIO,
        pydataset_processes.SCENARIO,
        data_service.SCENARIO,
    )
}

__all__ = ["REGISTRY", "Batch", "PipelineContext", "Scenario", "load", "parse_selection", "resolve"]


def load(reference: str, pipeline_arguments: dict[str, Any] | None = None) -> Scenario:
    """A scenario by reference, or, given arguments (even none), a user's pipeline function."""
    if pipeline_arguments is None:
        return resolve(reference)
    from profiler.pipeline import PipelineFunction

    return PipelineFunction(reference, pipeline_arguments)


def resolve(reference: str) -> Scenario:
    """A registered name, or ``package.module:attribute`` naming a Scenario object."""
    if reference in REGISTRY:
        return REGISTRY[reference]
    if ":" not in reference:
        raise ProfilerError(
            f"unknown scenario '{reference}': choose from {', '.join(REGISTRY)}, 'all' or 'everything' "
            "(see 'python -m profiler list')"
        )
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ProfilerError(
            f"cannot import scenario module '{module_name}' ({error}): "
            "check the module path and that it is importable from the current folder"
        ) from None
    scenario = getattr(module, attribute, None)
    if not isinstance(scenario, Scenario):
        raise ProfilerError(
            f"'{reference}' is not a Scenario object: point it at an instance of scenarios.Scenario"
        )
    return scenario


ALL = "all"  # every scenario but the opt-in ones
EVERYTHING = "everything"  # the opt-in ones too


def parse_selection(selection: str) -> list[str]:
    """'all', 'everything', one name, or a comma list, checked and returned in run order."""
    if selection.strip() == ALL:
        return [name for name, scenario in REGISTRY.items() if not scenario.opt_in]
    if selection.strip() == EVERYTHING:
        return list(REGISTRY)
    references = [part.strip() for part in selection.split(",") if part.strip()]
    if not references:
        raise ProfilerError("--scenario is empty: pass 'all', a name, or a comma list of names")
    for reference in references:
        resolve(reference)
    return references
