"""The one library call that measures: ``measure_run``, used by ``run``, by each step of a sweep,
a tuning and a scale measurement (``profiler.drivers``), and by the pytest fixture.

It prepares the synthetic data, works out the fingerprint every scenario must deliver, measures
the machine's ceiling, runs each target in a fresh worker, checks the data each delivered,
recommends, and hands the growing RunResult to ``save`` after every target, so nothing measured
is lost. What to show while it works goes to a ``RunEvents`` object; it prints nothing itself.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from profiler.analysis.forecast import MemoryForecast
from profiler.base.errors import ProfilerError
from profiler.base.metadata import collect_metadata, usable_cpus
from profiler.base.moved import left_behind
from profiler.base.settings import MeasureSettings, Target
from profiler.ceiling.limit import Ceiling, CeilingError, measure_ceiling
from profiler.data.dataset_cache import (
    DamagedCache,
    NotEnoughDisk,
    check_room,
    damaged_files,
    repair,
)
from profiler.data.fingerprint import dataset_fingerprint
from profiler.data.synthetic import DataSource, DataSpec, default_cache_root, prepare_data
from profiler.data.user_data import UserDataSource, prepare_user_data
from profiler.drivers.kept_results import Keeper, with_results
from profiler.measuring.admission import available_memory_mib
from profiler.measuring.group import GroupClock
from profiler.measuring.procedure import WindowDriver, until_precise
from profiler.measuring.runner import Runner
from profiler.results.files import now
from profiler.results.records import DataRecord, RunResult, ScenarioResult
from profiler.strategy.pipeline_source import check_pipeline
from profiler.system.page_cache import drop, resident_fraction


@dataclass(frozen=True)
class RunPlan:
    """What to measure and on which data; ``spec`` None: only pipelines that bring their own
    data."""

    settings: MeasureSettings
    targets: tuple[Target, ...]
    spec: DataSpec | None
    cache_root: Path = field(default_factory=default_cache_root)  # as the command line's default
    measure_ceiling: bool = True
    on_bad_file: str = "skip"  # a user's sample that does not decode: "skip" it, or "fail" the run


class RunEvents:
    """What a measurement reports while it works; subclasses show it (see
    profiler.reporters.progress)."""

    def preparing_data(self, spec: DataSpec) -> None: ...
    def data_progress(self, done: int, total: int) -> None: ...
    def data_ready(self, source: DataSource, generated: bool) -> None: ...
    def measuring_ceiling(self) -> None: ...
    def ceiling_measured(self, ceiling: Ceiling | None, problem: str | None) -> None: ...
    def run_started(self, run: RunResult) -> None: ...
    def target_started(self, target: Target, samples: int | None) -> None: ...
    def phase(self, name: str, phase: str, samples: int | None) -> None: ...
    def warning(self, name: str, text: str, samples: int | None) -> None: ...
    def target_finished(self, result: ScenarioResult, samples: int | None) -> None: ...
    def finished(self) -> None: ...
    def time_left(self, seconds: float | None) -> None:
        """The time the group under way has left, told every fraction of a second (None: not yet
        known)."""

    def steps_planned(self, targets: Sequence[int]) -> None:
        """A series' steps, each as the number of targets it measures, the steps done included."""

    def step_added(self, targets: int, after: int) -> None:
        """A step of ``targets`` targets joins the plan, ``after`` planned steps after the one
        under way."""

    def step_started(self, text: str) -> None:
        """A series (a sweep, a tuning, a scale measurement) starts its next step."""
        # Events written for 0.2 named this event after their series.
        for earlier in ("round_started", "count_started"):
            if hasattr(self, earlier):
                getattr(self, earlier)(text)


class DataCacheError(ProfilerError):
    """The synthetic dataset could not be written; a sweep's command adds where the sizes so far
    are."""

    def __init__(
        self,
        samples: int,
        cache_root: Path,
        reason: str,
        fix: str = ": pass --data-dir with a writable folder",
    ) -> None:
        super().__init__(f"cannot write the dataset cache in '{cache_root}' ({reason}){fix}")
        self.samples, self.cache_root, self.reason = samples, cache_root, reason


def measure_run(
    plan: RunPlan,
    *,
    events: RunEvents | None = None,
    save: Callable[[RunResult], None] | None = None,
    log_dir: Path | None = None,
    ceiling: Ceiling | None = None,
    forecast: Callable[[str], MemoryForecast | None] | None = None,
    driver: WindowDriver = until_precise,
    available_mib: Callable[[], float] = available_memory_mib,
    trace_dir: Path | None = None,
) -> RunResult:
    """Measure every target of ``plan``, each in a fresh worker; Ctrl-C ends it with what was
    measured.

    ``ceiling``: reuse one measured before (a sweep measures it once); ``forecast``: a target's
    expected peak from earlier sizes, so one that would not fit is skipped; ``trace_dir``:
    TensorBoard profiles.
    """
    events = events or RunEvents()
    save = save or (lambda run: None)
    results: list[ScenarioResult] = []
    try:
        source = _prepare(plan, events)
        samples = None if source is None else source.spec.samples

        def on_phase(name: str, phase: str) -> None:
            events.phase(name, phase, samples)

        def on_warning(name: str, text: str) -> None:
            events.warning(name, text, samples)

        with Runner(
            source, plan.settings, log_dir, on_phase, available_mib, on_warning, trace_dir
        ) as runner:
            items = [(t, forecast(t.name) if forecast else None) for t in plan.targets]
            groups = runner.plan_groups(items)
            clock = GroupClock([len(group) for group in groups], events.time_left)
            runner.on_left = lambda seconds: clock.left(seconds, time.monotonic())
            # The first group's workers import TensorFlow while this process, which needs none,
            # fingerprints the data; the ceiling is timed once they all wait, idle.
            clock.group_started(0, time.monotonic())
            first = runner.start_group(groups[0]) if groups else None
            run = _begin(plan, events, ceiling, source, lambda: first and runner.wait_ready(first))
            keeper = Keeper(run, runner, plan.targets, results, save, events, samples)
            offset = 0
            for number, group in enumerate(groups):
                for target, _ in group:
                    events.target_started(target, samples)
                if number:
                    clock.group_started(number, time.monotonic())
                started = first if number == 0 and first else runner.start_group(group)
                runner.measure_group(started, driver, keeper.at(offset))
                run, offset = keeper.latest(runner.interrupted), offset + len(group)
                if runner.interrupted:
                    break
    except KeyboardInterrupt:
        if not results:  # nothing measured yet: there is nothing to keep
            raise
        run = with_results(run, results, interrupted=True)
        save(run)
    finally:
        events.finished()
    return run


def _prepare(plan: RunPlan, events: RunEvents) -> DataSource | None:
    """The pipelines checked, then the data ready."""
    for target in plan.targets:
        if target.is_pipeline:
            check_pipeline(target.reference)  # before any data is prepared or worker started
    if plan.spec is None:
        return None
    return prepare_source(plan.spec, plan.cache_root, events, plan.on_bad_file)


def _begin(
    plan: RunPlan,
    events: RunEvents,
    ceiling: Ceiling | None,
    source: DataSource | None,
    quiet: Callable[[], None],
) -> RunResult:
    """The fingerprint the data must arrive with and the ceiling, timed once ``quiet`` returns:
    an empty run, ready for results."""
    expected = dataset_fingerprint(source, plan.settings.batch_size) if source is not None else None
    if plan.settings.cold and source is not None:
        _check_cold(source, events)
    if ceiling is None and plan.measure_ceiling and source is not None:
        ceiling = _measure_ceiling(source, events, plan.settings, quiet)
    else:
        quiet()
    run = RunResult(
        metadata=collect_metadata(),
        settings=plan.settings,
        targets=plan.targets,
        data=None if source is None else data_record(source),
        expected_fingerprint=expected,
        created=now(),
        ceiling=ceiling,
        data_dir=str(plan.cache_root),
    )
    events.run_started(run)
    return run


def prepare_source(
    spec: DataSpec, cache_root: Path, events: RunEvents, on_bad_file: str = "skip"
) -> DataSource:
    """The dataset for ``spec``: a user's, indexed, or a synthetic one, generated unless it is
    cached."""
    events.preparing_data(spec)
    if spec.is_user_data:
        try:
            source: DataSource = prepare_user_data(
                spec, cache_root, on_bad_file, events.data_progress
            )
        except OSError as error:
            raise DataCacheError(spec.samples, cache_root, error.strerror or str(error)) from None
        events.data_ready(source, True)
        return source
    try:
        check_room(cache_root, spec)
        source, generated = prepare_data(spec, cache_root, on_progress=events.data_progress)
        if not generated:
            source, generated = _intact(source, cache_root, events)
    except NotEnoughDisk as error:
        raise DataCacheError(
            spec.samples,
            cache_root,
            str(error),
            fix=": use fewer --samples or a smaller --image-size, or pass --data-dir on a disk "
            "with room",
        ) from None
    except OSError as error:
        raise DataCacheError(spec.samples, cache_root, error.strerror or str(error)) from None
    events.data_ready(source, generated)
    return source


def _intact(source: DataSource, cache_root: Path, events: RunEvents) -> tuple[DataSource, bool]:
    """The cached dataset, checked, with damaged files written again; or, if it cannot be trusted,
    anew."""
    try:
        damaged = damaged_files(source)
        if damaged:
            repair(source, damaged)
            events.warning(
                "data",
                f"{len(damaged)} damaged file(s) of the cached dataset in '{source.root}' "
                f"({', '.join(damaged[:3])}{', ...' if len(damaged) > 3 else ''}) were written "
                "again, and what was derived from them will be rebuilt",
                None,
            )
        return source, False
    except DamagedCache as problem:
        events.warning(
            "data", f"the cached dataset cannot be trusted ({problem}): generating it again", None
        )
        shutil.rmtree(source.root, ignore_errors=True)
        check_room(cache_root, source.spec)
        return prepare_data(source.spec, cache_root, on_progress=events.data_progress)


def _check_cold(source: DataSource, events: RunEvents) -> None:
    """Say so where the system keeps the data's pages after a drop (tmpfs): cold figures would be
    warm."""
    sample = source.files()[:64]
    drop(sample)
    resident = resident_fraction(sample)
    if resident is not None and resident > 0.5:
        events.warning(
            "data",
            f"{resident:.0%} of the data's pages stayed in memory after the drop (a filesystem "
            "kept in memory, such as tmpfs?): the --cold figures are warm ones here",
            None,
        )


def data_record(source: DataSource) -> DataRecord:
    """What the results say of the data: the spec, where it is, and for a user's data what it
    holds."""
    if not isinstance(source, UserDataSource):
        return DataRecord(source.spec, str(source.root))
    summary = source.summary()
    return DataRecord(
        source.spec,
        source.spec.path,
        found=summary.found,
        skipped_files=summary.skipped_files,
        skipped_examples=summary.skipped_examples,
        skipped_paths=summary.skipped_paths,
        typical_size=summary.typical_size,
        bytes_per_file=summary.bytes_per_file,
        formats=summary.formats,
        index=str(source.root),
    )


def _measure_ceiling(
    source: DataSource, events: RunEvents, settings: MeasureSettings, quiet: Callable[[], None]
) -> Ceiling | None:
    """This machine's most samples/s for this data, timed once ``quiet`` returns (its process
    imports before); a failure costs the percentages, not the run."""

    def timing_begins() -> None:
        quiet()
        events.measuring_ceiling()

    try:
        ceiling = measure_ceiling(
            source,
            usable_cpus(),
            cold=settings.cold,
            batch_size=settings.batch_size,
            quiet=timing_begins,
        )
    except CeilingError as error:
        events.ceiling_measured(None, str(error))
        return None
    events.ceiling_measured(ceiling, None)
    return ceiling


# Names that lived here in 0.2 and moved since, still found (with a DeprecationWarning).
__getattr__ = left_behind(__name__)
