"""A group of targets measured together: their workers, and what each delivered."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from profiler.analysis.forecast import MemoryForecast
from profiler.base.settings import MeasureSettings, Target
from profiler.base.units import MIB
from profiler.measuring.procedure import Measurements, budget_s
from profiler.measuring.reference import ReferenceWorkload
from profiler.measuring.turns import Conductor
from profiler.measuring.worker_session import WorkerFailure, WorkerSession
from profiler.results.records import STATUS_INTERRUPTED, STATUS_OK, ScenarioResult


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
    turns_began: float | None = None  # time.monotonic() once its turns began


def time_left_s(group: Group, settings: MeasureSettings, now: float) -> float | None:
    """How long the group's turns have left: each worker still measuring has its budget of turn
    seconds (procedure.budget_s) less what it took, scaled by the wall time each turn second has
    cost so far (the reference's turns, the switches between turns). None before every worker
    has timed its first epoch, which sizes its budget.

    A budget counts every phase to its cap, and a phase that turns precise first ends sooner: once
    workers have finished, what is left of the others' budgets is scaled by the share of theirs
    the finished ones used (on 2 cores, the last 10 s of a default run were told up to 70% too
    long without it)."""
    spent = sum(member.session.turns_s for member in group.members)
    if group.turns_began is None or spent <= 0:
        return None
    left = 0.0
    used, budgeted = 0.0, 0.0
    for member in group.members:
        first = member.session.first_epoch
        if member.failure is not None or (member.finished and first is None):
            continue
        if first is None:
            return None
        budget = budget_s(settings, first, member.session.epoch_start_s)
        if member.finished:
            if member.status == STATUS_OK:  # one that failed midway says nothing of the pace
                used, budgeted = used + member.session.turns_s, budgeted + budget
        else:
            left += max(budget - member.session.turns_s, 0.0)
    share = min(used / budgeted, 1.0) if budgeted > 0 else 1.0
    return left * share * (now - group.turns_began) / spent


class GroupClock:
    """The time left of targets measured in groups one after another (those that do not fit in
    memory together): the group under way's turns as its workers tell (``time_left_s``), and each
    later group at the wall time a target of the last one took, as its workers start, import and
    warm up the same way. Without it, a run split in groups told only its first group's time."""

    def __init__(self, sizes: Sequence[int], tell: Callable[[float | None], None]) -> None:
        self.sizes, self.tell = list(sizes), tell
        self.number, self.began = -1, 0.0
        self.per_target_s: float | None = None

    def group_started(self, number: int, now: float) -> None:
        self.number, self.began = number, now

    def left(self, seconds: float | None, now: float) -> None:
        """Tell the time left, given the group under way's (None: its turns cannot tell yet)."""
        size, later = self.sizes[self.number], sum(self.sizes[self.number + 1 :])
        if seconds is not None:
            self.per_target_s = (now - self.began + seconds) / size
        elif self.per_target_s is None:
            return self.tell(None)
        else:  # a later group whose workers are still warming up: the last one's pace
            seconds = max(self.per_target_s * size - (now - self.began), 0.0)
        self.tell(seconds + later * self.per_target_s)


def end_undriven(group: Group) -> None:
    """End the workers of a group whose threads never started (their threads end the others)."""
    for member in group.members:
        if member.session.started and not member.driven:
            member.session.__exit__()


def with_kept_log(
    result: ScenarioResult,
    log_path: Path,
    traceback: str | None,
    kept_as: Path | None,
) -> ScenarioResult:
    """Keep a failed worker's output at ``kept_as`` (where given), and quote its last line if it
    crashed."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    error = result.error
    last = [line.strip() for line in text.splitlines() if line.strip()]
    if result.status not in (STATUS_OK, STATUS_INTERRUPTED) and last and traceback is None:
        error = f"{error}; last output: {last[-1][:200]}"
    kept = None
    if kept_as is not None:
        try:
            kept_as.parent.mkdir(parents=True, exist_ok=True)
            # A traceback may quote an argument that was not UTF-8 (a lone surrogate): kept escaped.
            kept_as.write_text(
                text + ("\n" + traceback if traceback else ""), errors="backslashreplace"
            )
            kept = str(kept_as)
        except OSError:
            kept = None
    return replace(result, error=error, log_path=kept)
