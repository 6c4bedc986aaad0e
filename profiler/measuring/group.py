"""A group of targets measured together: their workers, and what each delivered."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from profiler.analysis.forecast import MemoryForecast
from profiler.base.settings import Target
from profiler.base.units import MIB
from profiler.measuring.procedure import Measurements
from profiler.measuring.reference import ReferenceWorkload
from profiler.measuring.turns import Conductor
from profiler.measuring.worker_session import WorkerFailure, WorkerSession
from profiler.results.records import STATUS_OK, ScenarioResult


def files_mib(folder: Path, leave_out: Path) -> float:
    """MiB of the files under ``folder`` (what a scenario wrote to its scratch folder), its log left
    out."""
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and path != leave_out:
                total += path.stat().st_size
        except OSError:
            continue  # removed while walking: it is no longer on the disk
    return total / MIB


@dataclass
class Member:
    """One worker of a group and what it delivered, filled in by its thread."""

    target: Target
    process: int
    session: WorkerSession
    item: int = 0  # which of the group's items it measures: a target may be listed twice
    measured: Measurements = field(default_factory=Measurements)
    status: str = STATUS_OK
    error: str | None = None
    traceback: str | None = None
    written_mib: float | None = None
    driven: bool = False  # its thread was started, and cleans it up
    ready: bool = False  # imported, waiting for its first turn
    finished: bool = False  # its thread is done with it: its figures are final
    failure: WorkerFailure | None = None  # it failed before it was ready


@dataclass
class Group:
    """Targets measured together: their workers, taking turns at one conductor, and a reference."""

    items: list[tuple[Target, MemoryForecast | None]]
    conductor: Conductor
    reference: ReferenceWorkload
    members: list[Member] = field(default_factory=list)
    skipped: dict[int, ScenarioResult] = field(default_factory=dict)  # by item
    # False where a member cannot be frozen: it would work on through the reference's turns (a
    # pool, a cluster's buffers), and neither's figures would hold, so it is measured alone.
    beside_reference: bool = True


def end_undriven(group: Group) -> None:
    """End the workers of a group whose threads never started (their threads end the others)."""
    for member in group.members:
        if member.session.started and not member.driven:
            member.session.__exit__()
