"""What makes two runs' figures not compare directly, said before their changes are read."""

from __future__ import annotations

from profiler.results.records import RunResult


def run_differences(base: RunResult, new: RunResult) -> list[str]:
    """What differs between two runs beside their figures: machine, settings, data, TensorFlow."""
    warnings = []
    base_machine, new_machine = base.metadata.machine, new.metadata.machine
    if base_machine.machine_id != new_machine.machine_id:
        warnings.append(
            f"the runs come from different machines ({base_machine.hostname}, "
            f"{base_machine.cpu_count} CPUs against {new_machine.hostname}, "
            f"{new_machine.cpu_count} CPUs): differences may be the machines'"
        )
    differing = [
        key
        for key in ("batch_size", "step_ms", "epochs", "idle_epochs", "workers")
        if getattr(base.settings, key) != getattr(new.settings, key)
    ]
    base_spec = base.data.spec if base.data else None
    new_spec = new.data.spec if new.data else None
    data_keys = (
        "kind",
        "samples",
        "height",
        "width",
        "channels",
        "source_size",
        "image_format",
        "seed",
    )
    differing += [
        f"data {key}"
        for key in data_keys
        if getattr(base_spec, key, None) != getattr(new_spec, key, None)
    ]
    if differing:
        warnings.append(
            f"the runs used different settings ({', '.join(differing)}): figures do not compare "
            "directly"
        )
    base_tf = base.metadata.packages.get("tensorflow")
    new_tf = new.metadata.packages.get("tensorflow")
    if base_tf != new_tf:
        warnings.append(f"TensorFlow changed between the runs ({base_tf} -> {new_tf})")
    return warnings
