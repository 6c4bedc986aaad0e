"""Which targets may start, and which may be held in memory together: decided before a worker
starts, from what the data and the earlier sizes say."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import psutil

from profiler.analysis.forecast import MemoryForecast
from profiler.base.settings import MeasureSettings, Target
from profiler.base.units import MIB
from profiler.data.dataset_cache import DISK_MARGIN_BYTES
from profiler.data.synthetic import DataSource
from profiler.strategy.registry import load
from profiler.strategy.scenario import Scenario


def available_memory_mib() -> float:
    """Memory the kernel can hand out now without swapping (MemAvailable), in MiB."""
    return psutil.virtual_memory().available / MIB


# What a worker holds before its pipeline holds anything (the interpreter, TensorFlow, the
# consumer), in MiB: the least one member of a group needs.
WORKER_MIB = 700.0
# A group's members together may hold this share of the memory available when it starts.
GROUP_MEMORY_SHARE = 0.6


class Admission(NamedTuple):
    """What the decisions rest on: the data, the settings, memory now, and the scratch folder."""

    source: DataSource | None
    settings: MeasureSettings
    available_mib: Callable[[], float]
    scratch: Path | None


def plan_groups(
    items: Sequence[tuple[Target, MemoryForecast | None]], admission: Admission
) -> list[list[tuple[Target, MemoryForecast | None]]]:
    """The targets in groups whose workers fit in memory together, in the order given."""
    budget = admission.available_mib() * GROUP_MEMORY_SHARE
    groups: list[list[tuple[Target, MemoryForecast | None]]] = []
    held = budget + 1.0
    for item in items:
        need = expected_mib(*item, admission.source) * admission.settings.processes
        if not _freezable(item[0], admission.settings):
            # It runs on through the others' turns: measured beside them, it would take their
            # machine, so it has a group of its own.
            groups.append([item])
            held = budget + 1.0
        elif groups and held + need <= budget:
            groups[-1].append(item)
            held += need
        else:
            groups.append([item])
            held = need
    return groups


def _freezable(target: Target, settings: MeasureSettings) -> bool:
    try:
        return load(target).can_freeze(settings.service)
    except Exception:  # noqa: BLE001 - its own group reports what is wrong with it
        return True


def refusal(
    target: Target, scenario: Scenario, forecast: MemoryForecast | None, admission: Admission
) -> str | None:
    """Why the target must not start (its data, its settings, memory, disk), or None."""
    source = admission.source
    cannot = None if target.is_pipeline or source is None else scenario.cannot_serve(source.spec)
    cannot = cannot or scenario.cannot_measure(admission.settings)
    return (
        cannot
        or memory_refusal(scenario, forecast, source, admission.available_mib())
        or disk_refusal(scenario, source, admission.scratch)
    )


def expected_mib(
    target: Target, forecast: MemoryForecast | None, source: DataSource | None
) -> float:
    """What one worker of the target is expected to hold at its peak."""
    if forecast is not None:
        return WORKER_MIB + forecast.peak_mib
    try:
        grows = load(target).memory_grows_with_data
    except Exception:  # noqa: BLE001 - its own group reports what is wrong with it
        return WORKER_MIB
    if grows and source is not None:
        return WORKER_MIB + source.spec.samples * source.spec.sample_bytes / MIB
    return WORKER_MIB


def memory_refusal(
    scenario: Scenario,
    forecast: MemoryForecast | None,
    source: DataSource | None,
    available: float,
) -> str | None:
    """Why the scenario must not start for lack of memory, or None when it may."""
    forecasts = [forecast] if forecast is not None else []
    if scenario.memory_grows_with_data and source is not None:
        spec = source.spec
        held = spec.samples * spec.sample_bytes / MIB
        forecasts.append(
            MemoryForecast(held, f"it holds the whole decoded dataset, {_mib(held)} MiB at least")
        )
    if not forecasts:
        return None
    largest = max(forecasts, key=lambda f: f.peak_mib)
    if largest.peak_mib <= available:
        return None
    return (
        f"not started: its predicted peak of {_mib(largest.peak_mib)} MiB ({largest.basis}) "
        f"exceeds the {_mib(available)} MiB of memory available now, and the kernel would kill "
        "it; measure it on fewer --samples or free memory first"
    )


def disk_refusal(scenario: Scenario, source: DataSource | None, scratch: Path | None) -> str | None:
    """Why a scenario that writes the decoded dataset to the scratch folder must not start, or
    None."""
    if not scenario.disk_grows_with_data or source is None or scratch is None:
        return None
    spec = source.spec
    needed = spec.samples * spec.sample_bytes
    free = shutil.disk_usage(scratch).free
    if needed + DISK_MARGIN_BYTES <= free:
        return None
    return (
        f"not started: it writes the decoded dataset, about {needed / 2**30:,.1f} GiB, to "
        f"'{scratch.parent}', which has {free / 2**30:,.1f} GiB free; set TMPDIR to a "
        "disk with room, or use fewer --samples"
    )


def _mib(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
