"""Facts about the machine and the libraries, stored with every result so runs can be compared."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from importlib import metadata as importlib_metadata
from typing import Any

import psutil

import profiler

# Distribution names; the first one installed of each group is reported.
_PACKAGES = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tf-nightly"),
    "keras": ("keras",),
    "numpy": ("numpy",),
    "opencv": ("opencv-python-headless", "opencv-python", "opencv-contrib-python"),
    "psutil": ("psutil",),
    "memory-profiler": ("memory-profiler",),
    "rich": ("rich",),
    "matplotlib": ("matplotlib",),
    "nvidia-ml-py": ("nvidia-ml-py",),
}


def package_version(*distributions: str) -> str | None:
    """Installed version of the first distribution found, read without importing it."""
    for name in distributions:
        try:
            return importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return None


def usable_cpus() -> int:
    """CPUs this process may run on (a container or taskset may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect_metadata() -> dict[str, Any]:
    memory_total = psutil.virtual_memory().total
    cpus = os.cpu_count() or 1
    machine = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": cpus,
        "usable_cpus": usable_cpus(),
        "memory_total_mb": round(memory_total / (1 << 20)),
    }
    identity = "|".join(str(machine[key]) for key in ("hostname", "cpu_model", "cpu_count", "memory_total_mb"))
    machine["machine_id"] = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return {
        "profiler_version": profiler.__version__,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "machine": machine,
        "packages": {key: package_version(*names) for key, names in _PACKAGES.items()},
    }
