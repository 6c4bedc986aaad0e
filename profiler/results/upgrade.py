"""Older results files in today's layout: each step upgrades one format version to the next.

A file is upgraded on read, never refused for its age (``profiler.results.files`` calls these).
"""

from __future__ import annotations

from typing import Any

KIND_RUN = "run"
KIND_SWEEP = "sweep"


class UpgradeError(ValueError):
    """An older file's field of a type its version never wrote: named, as the decoder names one."""


def results_kind(data: dict[str, Any]) -> str:
    return str(data.get("kind", KIND_RUN))  # a version 1 run's file may predate the key


# Version 1 named MiB figures "_mb" and kept the settings, targets and data as loose dicts.
_RENAMED_1 = {
    "baseline_rss_mb": "baseline_rss_mib",
    "baseline_pss_mb": "baseline_pss_mib",
    "peak_rss_mb": "peak_rss_mib",
    "peak_pss_mb": "peak_pss_mib",
    "ru_maxrss_mb": "ru_maxrss_mib",
    "gpu_utilization": "gpu_utilization_percent",
}
_SETTINGS_1 = ("batch_size", "workers", "epochs", "idle_epochs", "step_ms", "timeout_s", "consumer")
_SPEC_1 = (
    "kind",
    "samples",
    "height",
    "width",
    "channels",
    "source_size",
    "image_format",
    "classes",
    "seed",
)


def update_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 file's content in the version 2 layout."""
    if results_kind(data) == KIND_SWEEP:
        return _sweep_1_to_2(data)
    return _run_1_to_2(data)


def _run_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    upgraded = {
        **data,
        **_options_1_to_2(data.get("options")),
        "format_version": 2,
        "kind": results_kind(data),  # another kind than a run's is refused by name on load
    }
    upgraded.pop("options", None)
    upgraded["metadata"] = _metadata_1_to_2(data.get("metadata"))
    old = data.get("data")
    if isinstance(old, dict):
        spec = {key: old[key] for key in _SPEC_1 if key in old}
        upgraded["data"] = {"spec": spec, "path": str(old.get("path", ""))} if spec else None
    scenarios = data.get("scenarios")
    if isinstance(scenarios, list):
        upgraded["scenarios"] = [_renamed(entry) for entry in scenarios]
    return upgraded


def _sweep_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    options = _mapping(data.get("options"))
    upgraded = {
        **data,
        **_options_1_to_2(data.get("options")),
        "format_version": 2,
        "kind": KIND_SWEEP,
    }
    for old_key in ("options", "data", "fits", "predictions", "advice"):
        upgraded.pop(old_key, None)
    if "memory_budget_mb" in upgraded:
        upgraded["memory_budget_mib"] = upgraded.pop("memory_budget_mb")
    upgraded["metadata"] = _metadata_1_to_2(data.get("metadata"))
    upgraded["sizes"] = options.get("sizes", [])
    # A field of the wrong type goes on as it is, where the decoder refuses it, naming it.
    runs = data.get("runs", [])
    if isinstance(runs, list):
        upgraded["runs"] = [_run_1_to_2(run) if isinstance(run, dict) else run for run in runs]
    sizes = upgraded["sizes"]
    whole = isinstance(sizes, list) and all(type(n) is int for n in sizes)
    if not whole or not isinstance(data.get("data", {}), dict):
        upgraded["spec"] = data.get("data")
        return upgraded
    old = _mapping(data.get("data"))
    first = upgraded["runs"][0] if isinstance(runs, list) and runs else None
    first_spec = _mapping(_mapping(_mapping(first).get("data")).get("spec"))
    samples = first_spec.get("samples", min(sizes or [0]))
    upgraded["spec"] = {**{key: old[key] for key in _SPEC_1 if key in old}, "samples": samples}
    return upgraded


def _options_1_to_2(options: Any) -> dict[str, Any]:
    if not isinstance(options, dict):
        return {"settings": options}  # the decoder refuses it, naming the field
    for key in ("scenario_options", "pipeline_arguments"):
        if not isinstance(options.get(key, {}), dict):
            raise UpgradeError(f"options.{key}: expected a mapping, got {_type_name(options[key])}")
    service = _mapping(options.get("scenario_options"))
    settings = {key: options[key] for key in _SETTINGS_1 if key in options}
    settings["service"] = {
        "workers": service.get("service_workers", 2),
        "dispatcher": service.get("dispatcher"),
    }
    arguments = _mapping(options.get("pipeline_arguments"))
    names = options.get("scenarios", [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return {"settings": settings, "targets": names}  # the decoder refuses it, naming the field
    targets = [
        {"kind": "pipeline", "reference": name, "arguments": arguments[name]}
        if name in arguments
        else {"kind": "scenario", "reference": name}
        for name in names
    ]
    return {"settings": settings, "targets": targets, "data_dir": str(options.get("data_dir", ""))}


def _metadata_1_to_2(metadata: Any) -> Any:
    if not isinstance(metadata, dict) or not isinstance(metadata.get("machine"), dict):
        return metadata if metadata is not None else {}
    machine = dict(metadata["machine"])
    if "memory_total_mb" in machine:
        machine["memory_total_mib"] = machine.pop("memory_total_mb")
    return {**metadata, "machine": machine}


def _renamed(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    return {_RENAMED_1.get(key, key): value for key, value in entry.items()}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def update_to_3(data: dict[str, Any]) -> dict[str, Any]:
    """A version 2 file's content in the version 3 layout.

    Version 3 added fields with defaults only: the round of each window's turn, the group, the rate
    over the machine's reference, and the reference itself. A version 2 file's windows were taken
    one after another in one moment, so it has none of them, and ``compare`` gates its rates raw.
    """
    return {**data, "format_version": 3}
