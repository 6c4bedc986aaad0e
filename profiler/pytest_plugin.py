"""pytest plugin: the ``pipeline_benchmark`` fixture.

It measures an input pipeline through ``profiler.drivers.run``, the same call ``profiler run``
makes (a fresh worker process, a warm-up epoch left out, several flat-out epochs, peak memory of
the process tree above the baseline, idle time at a step time the test chooses), and hands the
epochs to pytest-benchmark, whose own timer times each one, so its tables, ``--benchmark-autosave``,
``--benchmark-save`` and ``--benchmark-compare-fail`` work as usual. The epochs alternate with turns
of a fixed reference workload (profiler.measuring.turns), whose rate goes into ``extra_info`` with
the pipeline's rate over it (``reference_ratio``): stored figures from different days compare on
that ratio where the raw rate moves with the machine. Memory, idle and first-batch
figures go into the benchmark's ``extra_info`` and into a table at the end of the session, beside
pytest-benchmark's. The fixture returns the ScenarioResult, so a test can also assert budgets
directly (a failed assertion shows the result's short summary)::

    def test_my_pipeline(pipeline_benchmark):
        result = pipeline_benchmark(make_dataset, step_ms=20)
        assert result.peak_rss_mib < 500
        assert result.idle_fraction < 0.05
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from profiler.base.settings import MeasureSettings, Target
from profiler.base.units import plain, significant
from profiler.data.synthetic import DataSpec
from profiler.drivers.run import RunPlan, measure_run
from profiler.measuring.procedure import FlatOut, WindowMeasure
from profiler.results.records import STATUS_INTERRUPTED, ScenarioResult
from profiler.strategy.pipeline_adapter import reference_of
from profiler.worker.loops import EpochTiming, WindowTiming

# Figures copied into pytest-benchmark's extra_info, so they are saved with its results.
EXTRA_INFO = (
    "peak_rss_mib",
    "peak_pss_mib",
    "baseline_rss_mib",
    "idle_fraction",
    "idle_fraction_raw",
    "fetch_floor_ms",
    "wait_p50_ms",
    "wait_p95_ms",
    "epoch_start_wait_ms",
    "first_batch_s",
    "warmup_epoch_s",
    "samples_per_s",
    "batches_per_s",
    "cpu_s",
    # The rate over the machine's reference, measured in alternating turns: it compares across days
    # where the raw rate moves with whatever else the machine does.
    "reference_ratio",
)

# Small synthetic data for benchmarking the built-in scenarios.
SMALL_DATA = DataSpec(kind="images", samples=320, height=32, width=32, source_size=64)


# Every pipeline measured in the session: (test id, step ms, result), for the summary table.
MEASURED = pytest.StashKey[list]()


class PipelineBenchmark:
    """Callable fixture object; see the module docstring."""

    def __init__(
        self,
        benchmark: Any,
        cache_root: Path,
        log_dir: Path,
        measured: list | None = None,
        test_id: str = "",
    ) -> None:
        self._measured = measured if measured is not None else []
        self._test_id = test_id
        self._benchmark = benchmark
        self._cache_root = cache_root
        self._log_dir = log_dir
        self._used = False
        self._timed = False

    def __call__(
        self,
        pipeline: Callable[..., Any] | str,
        *,
        arguments: dict[str, Any] | None = None,
        step_ms: float = 20.0,
        epochs: int = 5,
        idle_epochs: int = 2,
        timeout_s: float = 300.0,
        processes: int = 1,
    ) -> ScenarioResult:
        """Measure a module-level function returning a tf.data.Dataset or (generator, signature).

        ``epochs`` rounds of one epoch each go to pytest-benchmark; with ``processes`` above one,
        every process adds its own rounds and the figures are pooled.
        """
        target = Target.pipeline(reference_of(pipeline), arguments)
        settings = MeasureSettings(
            epochs=epochs,
            idle_epochs=idle_epochs,
            step_ms=step_ms,
            timeout_s=timeout_s,
            processes=processes,
        )
        return self._measure(RunPlan(settings, (target,), spec=None))

    def scenario(
        self,
        name: str,
        *,
        data: DataSpec = SMALL_DATA,
        batch_size: int = 32,
        workers: int = 2,
        step_ms: float = 20.0,
        epochs: int = 5,
        idle_epochs: int = 2,
        timeout_s: float = 300.0,
        processes: int = 1,
    ) -> ScenarioResult:
        """Measure one of the built-in scenarios on synthetic data (generated once, cached)."""
        settings = MeasureSettings(
            batch_size=batch_size,
            workers=workers,
            epochs=epochs,
            idle_epochs=idle_epochs,
            step_ms=step_ms,
            timeout_s=timeout_s,
            processes=processes,
        )
        plan = RunPlan(
            settings,
            (Target.scenario(name),),
            spec=data,
            cache_root=self._cache_root,
            measure_ceiling=False,
        )
        return self._measure(plan)

    def _measure(self, plan: RunPlan) -> ScenarioResult:
        if self._used:
            raise RuntimeError(
                "pipeline_benchmark measures one pipeline per test; write one test per pipeline"
            )
        self._used = True
        run = measure_run(plan, log_dir=self._log_dir, driver=self._time_epochs)
        (result,) = run.scenarios
        if result.status == STATUS_INTERRUPTED:
            # Ctrl-C stops the test session, as it would without the fixture
            raise KeyboardInterrupt
        if not result.ok:
            pytest.fail(
                f"pipeline {result.name} {result.status}: {result.error}{_traceback(result)}",
                pytrace=False,
            )
        self._benchmark.extra_info.update(
            {key: getattr(result, key) for key in EXTRA_INFO if getattr(result, key) is not None}
        )
        self._benchmark.extra_info["step_ms"] = plan.settings.step_ms
        if run.reference is not None:
            key = "machine_reference_" + run.reference.unit.replace("/", "_per_")
            self._benchmark.extra_info[key] = run.reference.rate
        self._measured.append((self._test_id, plan.settings.step_ms, result))
        return result

    def _time_epochs(
        self, measure: WindowMeasure, warmup: EpochTiming, settings: MeasureSettings
    ) -> FlatOut:
        """One window per round, each exactly an epoch, so rounds compare between runs of any
        length."""
        per_epoch = warmup.batches
        windows: list[WindowTiming] = []

        def one_epoch() -> None:
            windows.append(measure(per_epoch, not windows))

        if getattr(self._benchmark, "disabled", False) or self._timed:
            # --benchmark-disable, or a process after the first (pytest-benchmark times one series
            # per
            # test): measure anyway, so the result and its budgets have every process's epochs.
            for _ in range(settings.epochs):
                one_epoch()
        else:
            # pytest-benchmark times each round with its own timer; the warm-up epoch is already
            # behind. Its rounds alternate with the machine's reference (profiler.measuring.
            # turns): the wait for each turn falls in the untimed setup.
            self._benchmark.pedantic(
                one_epoch, setup=measure.claim, rounds=settings.epochs, iterations=1
            )
            self._timed = True
        return FlatOut(tuple(windows), per_epoch)


def _traceback(result: ScenarioResult) -> str:
    """The worker's traceback from its kept log, without the library noise before it."""
    log = Path(result.log_path).read_text(errors="replace") if result.log_path else ""
    start = log.rfind("Traceback (most recent call last)")
    return "" if start < 0 else "\n" + log[start:].strip()


@pytest.fixture
def pipeline_benchmark(
    benchmark: Any,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> PipelineBenchmark:
    """Measure an input pipeline in a fresh process and record it as a pytest-benchmark result."""
    measured = request.config.stash.setdefault(MEASURED, [])
    return PipelineBenchmark(
        benchmark,
        _data_cache(tmp_path_factory),
        tmp_path / "pipeline-logs",
        measured,
        request.node.nodeid,
    )


SUMMARY_HEADERS = (
    "test",
    "samples/s",
    "idle",
    "epoch start ms",
    "at step",
    "wait p95 ms",
    "peak MiB RSS",
    "first batch s",
)


# Why the epoch start has a column of its own.
EPOCH_START_LINE = (
    "idle: the steady state's waits; epoch start: the median wait for an epoch's first batch, "
    "kept apart, which a pipeline built or restarted every epoch pays once an epoch on top of idle."
)


def summary_rows(measured: list[tuple[str, float, ScenarioResult]]) -> list[tuple[str, ...]]:
    """One row of figures per measured pipeline, as the session's closing table shows them."""
    rows = []
    for test_id, step_ms, result in measured:
        idle = "-" if result.idle_fraction is None else f"{result.idle_fraction:.1%}"
        rows.append(
            (
                test_id,
                "-" if result.samples_per_s is None else significant(result.samples_per_s),
                idle,
                "-" if result.epoch_start_wait_ms is None else f"{result.epoch_start_wait_ms:,.0f}",
                f"{plain(step_ms)} ms",
                "-" if result.wait_p95_ms is None else f"{result.wait_p95_ms:.2f}",
                "-" if result.peak_rss_mib is None else f"{result.peak_rss_mib:+,.0f}",
                "-" if result.first_batch_s is None else f"{result.first_batch_s:.2f}",
            )
        )
    return rows


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own table
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """After pytest-benchmark's timing table: what its columns cannot hold, one line per
    pipeline."""
    measured = config.stash.get(MEASURED, [])
    if not measured:
        return
    rows = [SUMMARY_HEADERS, *summary_rows(measured)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(SUMMARY_HEADERS))]
    terminalreporter.section("pipeline_benchmark: idle, memory and first batch", sep="-")
    for row in rows:
        terminalreporter.write_line(
            "  ".join(
                cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            )
        )
    terminalreporter.write_line(EPOCH_START_LINE)


def _data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One cache for the whole session, so every benchmark of the same data reuses it.
    root = tmp_path_factory.getbasetemp() / "tf-pipeline-profiler-data"
    root.mkdir(exist_ok=True)
    return root
