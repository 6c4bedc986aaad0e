"""Facts about the machine and the libraries, stored with every result so runs can be compared."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata

import psutil

import profiler
from profiler.base.units import MIB

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


@dataclass(frozen=True)
class Machine:
    hostname: str = "?"
    platform: str = "?"
    cpu_model: str = "?"
    cpu_count: int = 0
    usable_cpus: int = 0
    memory_total_mib: int = 0
    machine_id: str = ""  # a hash of the fields that identify the machine, for comparing runs


@dataclass(frozen=True)
class Metadata:
    profiler_version: str = "?"
    python: str = "?"
    python_implementation: str = "?"
    executable: str = ""
    machine: Machine = field(default_factory=Machine)
    packages: dict[str, str | None] = field(default_factory=dict)


def package_version(*distributions: str) -> str | None:
    """Installed version of the first distribution found, read without importing it."""
    for name in distributions:
        try:
            return importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return None


def usable_cpus() -> int:
    """CPUs this process may run on (a container or taskset may allow fewer than the machine
    has)."""
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


def collect_metadata() -> Metadata:
    hostname, model, cpus = platform.node(), cpu_model(), os.cpu_count() or 1
    memory_mib = round(psutil.virtual_memory().total / MIB)
    identity = "|".join(str(part) for part in (hostname, model, cpus, memory_mib))
    machine = Machine(
        hostname=hostname,
        platform=platform.platform(),
        cpu_model=model,
        cpu_count=cpus,
        usable_cpus=usable_cpus(),
        memory_total_mib=memory_mib,
        machine_id=hashlib.sha256(identity.encode()).hexdigest()[:16],
    )
    return Metadata(
        profiler_version=profiler.__version__,
        python=platform.python_version(),
        python_implementation=platform.python_implementation(),
        executable=sys.executable,
        machine=machine,
        packages={key: package_version(*names) for key, names in _PACKAGES.items()},
    )
