"""pytest plugin: the ``pipeline_benchmark`` fixture.

It measures an input pipeline with the same machinery as ``profiler run`` (a fresh worker
process, a warm-up epoch left out, several flat-out epochs, peak memory of the process tree above
the baseline, idle time at a step time the test chooses) and hands the epoch times to
pytest-benchmark, whose own timer times each epoch, so its tables, ``--benchmark-autosave``,
``--benchmark-save`` and ``--benchmark-compare-fail`` work as usual. Memory, idle and first-batch
figures go into the benchmark's ``extra_info``. The fixture returns the ScenarioResult, so a test
can also assert budgets directly::

    def test_my_pipeline(pipeline_benchmark):
        result = pipeline_benchmark(make_dataset, step_ms=20)
        assert result.peak_rss_mb < 500
        assert result.idle_fraction < 0.05
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from profiler.data import DataSpec, prepare_data
from profiler.measure import EpochTiming
from profiler.pipeline import reference_of
from profiler.results import STATUS_OK, ScenarioResult
from profiler.runner import Measurements, Runner, RunSettings, scenario_result
from profiler.session import WorkerFailure, WorkerSession
from scenarios import load

# Figures copied into pytest-benchmark's extra_info, so they are saved with its results.
EXTRA_INFO = (
    "peak_rss_mb",
    "peak_pss_mb",
    "baseline_rss_mb",
    "idle_fraction",
    "wait_p50_ms",
    "wait_p95_ms",
    "epoch_start_wait_ms",
    "first_batch_s",
    "warmup_epoch_s",
    "samples_per_s",
    "batches_per_s",
    "cpu_s",
)

# Small synthetic data for benchmarking the built-in scenarios.
SMALL_DATA = DataSpec(kind="images", samples=320, height=32, width=32, source_size=64)


class PipelineBenchmark:
    """Callable fixture object; see the module docstring."""

    def __init__(self, benchmark: Any, cache_root: Path) -> None:
        self._benchmark = benchmark
        self._cache_root = cache_root
        self._used = False

    def __call__(
        self,
        pipeline: Callable[..., Any] | str,
        *,
        arguments: dict[str, Any] | None = None,
        step_ms: float = 20.0,
        epochs: int = 5,
        idle_epochs: int = 2,
        timeout_s: float = 300.0,
    ) -> ScenarioResult:
        """Measure a module-level function returning a tf.data.Dataset or (generator, signature)."""
        reference = reference_of(pipeline)
        settings = RunSettings(epochs=epochs, idle_epochs=idle_epochs, step_ms=step_ms, timeout_s=timeout_s)
        return self._measure(reference, dict(arguments or {}), None, settings)

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
    ) -> ScenarioResult:
        """Measure one of the built-in scenarios on synthetic data (generated once, cached)."""
        source, _ = prepare_data(data, self._cache_root)
        settings = RunSettings(batch_size=batch_size, workers=workers, epochs=epochs, idle_epochs=idle_epochs,
                               step_ms=step_ms, timeout_s=timeout_s)
        return self._measure(name, None, source, settings)

    def _measure(
        self, reference: str, arguments: dict[str, Any] | None, source: Any, settings: RunSettings
    ) -> ScenarioResult:
        if self._used:
            raise RuntimeError("pipeline_benchmark measures one pipeline per test; write one test per pipeline")
        self._used = True
        scenario = load(reference, arguments)
        benchmark = self._benchmark
        with Runner(source, settings) as runner:
            task = runner.new_task(reference, arguments)
            session = WorkerSession(task, settings.timeout_s)
            measured = Measurements()
            try:
                with session:
                    measured.build_s = session.build_s
                    timings: list[EpochTiming] = []
                    if getattr(benchmark, "disabled", False):
                        # --benchmark-disable: measure anyway, so budgets are still checked.
                        timings = [session.epoch() for _ in range(settings.epochs + 1)]
                    else:
                        # pytest-benchmark times each round with its own timer; the warm-up round
                        # (the first epoch, which builds caches and fills buffers) is not recorded.
                        benchmark.pedantic(
                            lambda: timings.append(session.epoch()),
                            rounds=settings.epochs,
                            warmup_rounds=1,
                            iterations=1,
                        )
                    measured.warmup, measured.epochs = timings[0], timings[1:]
                    for _ in range(settings.idle_epochs):
                        measured.paced.append(session.paced(settings.step_ms / 1000.0))
                    measured.fingerprint = session.fingerprint()
                    measured.closing = session.close()
            except WorkerFailure as failure:
                detail = f"\n{failure.traceback}" if failure.traceback else ""
                pytest.fail(f"pipeline {reference} {failure.status}: {failure.error}{detail}", pytrace=False)
        result = scenario_result(reference, scenario, session, measured, STATUS_OK, None)
        benchmark.extra_info.update(
            {key: getattr(result, key) for key in EXTRA_INFO if getattr(result, key) is not None}
        )
        benchmark.extra_info["step_ms"] = settings.step_ms
        return result


@pytest.fixture
def pipeline_benchmark(benchmark: Any, tmp_path_factory: pytest.TempPathFactory) -> PipelineBenchmark:
    """Measure an input pipeline in a fresh process and record it as a pytest-benchmark result."""
    return PipelineBenchmark(benchmark, _data_cache(tmp_path_factory))


def _data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One cache for the whole session, so every benchmark of the same data reuses it.
    root = tmp_path_factory.getbasetemp() / "tf-pipeline-profiler-data"
    root.mkdir(exist_ok=True)
    return root
