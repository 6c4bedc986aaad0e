"""compare over the machine's reference, on constructed runs whose machine and pipeline speeds are
set apart: a slower machine is no regression, a dearer pipeline is; small memory growth is not."""

from __future__ import annotations

import random

from profiler.analysis.comparison import MEMORY_FLOOR_MIB, compare_runs
from profiler.analysis.thresholds import DEFAULT_FAIL_ON, parse_thresholds
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings
from profiler.reporters.compare import summary_lines
from profiler.results.records import ReferenceRecord, RunResult, ScenarioResult

ROUNDS = 15


def _interleaved_run(machine: float, pipeline: float, seed: int, peak_mib: float = 100.0):
    """A run whose machine runs at ``machine`` and whose pipeline costs 1/``pipeline`` per sample:
    in each round both the reference and the pipeline read the same moment of the machine (a
    wander of ±20% round to round), and each turn has its own noise of ±2%."""
    rng = random.Random(seed)
    moments = [machine * rng.uniform(0.8, 1.2) for _ in range(ROUNDS)]
    rounds = tuple(range(1, ROUNDS + 1))
    reference = tuple(2000.0 * m * rng.uniform(0.98, 1.02) for m in moments)
    rates = tuple(5000.0 * pipeline * m * rng.uniform(0.98, 1.02) for m in moments)
    ordered = sorted(rates)
    result = ScenarioResult(
        "p",
        "ok",
        samples_per_s=ordered[len(ordered) // 2],
        window_samples_per_s=rates,
        turn_rounds=rounds,
        peak_rss_mib=peak_mib,
    )
    record = ReferenceRecord("decodes/s", reference, rounds, sorted(reference)[ROUNDS // 2])
    return RunResult(Metadata(), MeasureSettings(), (), None, scenarios=(result,), reference=record)


GATE = parse_thresholds(DEFAULT_FAIL_ON)


def test_a_machine_20_percent_slower_is_not_a_regression_and_the_output_says_so():
    base = _interleaved_run(machine=1.0, pipeline=1.0, seed=1)
    slower_machine = _interleaved_run(machine=0.8, pipeline=1.0, seed=2)
    comparison = compare_runs(base, slower_machine, GATE)
    assert not comparison.failed
    (change,) = [c for c in comparison.scenarios[0].changes if c.metric == "samples_per_s"]
    assert change.change < -0.1  # the raw rate fell beyond the limit...
    assert abs(change.over_reference) < 0.05  # ...and over the machine it did not move
    assert comparison.machine_change < -0.1
    assert any(line.startswith("Machine: its reference") for line in summary_lines(comparison))


def test_a_pipeline_25_percent_dearer_is_a_regression_on_any_machine():
    for seed in range(20):
        base = _interleaved_run(machine=1.0, pipeline=1.0, seed=100 + seed)
        dearer = _interleaved_run(machine=1.0 + 0.01 * seed, pipeline=0.8, seed=200 + seed)
        assert compare_runs(base, dearer, GATE).failed, seed


def test_unchanged_runs_on_a_wandering_machine_are_not_regressions():
    runs = [_interleaved_run(machine=1.0, pipeline=1.0, seed=300 + n) for n in range(10)]
    alarms = sum(compare_runs(a, b, GATE).failed for i, a in enumerate(runs) for b in runs[i + 1 :])
    assert alarms == 0


def test_memory_growth_within_the_floor_is_not_a_regression():
    base = _interleaved_run(1.0, 1.0, seed=5, peak_mib=46.0)
    grown = _interleaved_run(1.0, 1.0, seed=6, peak_mib=58.0)  # +26%, but 12 MiB
    assert not compare_runs(base, grown, GATE).failed
    # cache's peak between two unchanged runs: 146 and 185 MiB
    held = _interleaved_run(1.0, 1.0, seed=8, peak_mib=146.0)
    assert not compare_runs(held, _interleaved_run(1.0, 1.0, seed=9, peak_mib=185.0), GATE).failed
    much = _interleaved_run(1.0, 1.0, seed=7, peak_mib=46.0 + MEMORY_FLOOR_MIB + 1.0)
    assert compare_runs(base, much, GATE).failed
