"""What makes two runs' figures not compare directly, said before their changes are read."""

from __future__ import annotations

from profiler.results.records import RunResult


def run_differences(base: RunResult, new: RunResult) -> list[str]:
    """What differs between two runs beside their figures: machine, settings, data, TensorFlow."""
    warnings = []
    base_machine, new_machine = base.metadata.machine, new.metadata.machine
    if base_machine.machine_id != new_machine.machine_id:
        warnings.append(
            f"the runs come from different machines ({_machine_difference(base, new)}): "
            "differences may be the machines'"
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


def _machine_difference(base: RunResult, new: RunResult) -> str:
    """What tells the two machines apart, in words: the fields of the machine's identity that
    differ (a hostname alike on two VMs names no difference)."""
    old, now = base.metadata.machine, new.metadata.machine
    named = [
        (f"{old.hostname}, {old.cpu_count} CPUs", f"{now.hostname}, {now.cpu_count} CPUs"),
        (old.cpu_model, now.cpu_model),
        (f"{old.memory_total_mib:,} MiB", f"{now.memory_total_mib:,} MiB"),
    ]
    parts = [f"{a} against {b}" for a, b in named if a != b]
    return "; ".join(parts) or f"machine id {old.machine_id} against {now.machine_id}"
