"""Speed claims that hold on any machine: ratios between scenarios measured in one session.

Absolute rates vary with the machine and its load, but on the same machine, in the same minute,
a prefetching generator must leave the step waiting far less than the plain one, and reading
decoded samples from memory must be far faster than decoding them.
"""

from __future__ import annotations

import pytest

from profiler.base.settings import MeasureSettings, Target
from profiler.data.synthetic import prepare_data
from profiler.measuring.runner import Runner
from profiler.pytest_plugin import SMALL_DATA
from profiler.results.records import STATUS_OK


@pytest.fixture(scope="module")
def measured(data_cache):
    source, _ = prepare_data(SMALL_DATA, data_cache)
    settings = MeasureSettings(
        batch_size=32, workers=2, epochs=5, idle_epochs=2, step_ms=20.0, timeout_s=180.0
    )
    with Runner(source, settings) as runner:
        results = {
            name: runner.run(Target.scenario(name))
            for name in ("generator", "generator_prefetch", "preload")
        }
    for result in results.values():
        assert result.status == STATUS_OK, result.error
    return results


def test_prefetch_lowers_the_idle_time_of_the_plain_generator(measured):
    # Even with both cores taken by another job, decoding while the step runs cannot wait longer.
    plain, prefetched = measured["generator"], measured["generator_prefetch"]
    assert plain.idle_fraction > 0.10, "the plain generator must be measurably input-bound at 20 ms"
    assert prefetched.idle_fraction < plain.idle_fraction


@pytest.mark.bench
def test_prefetch_at_least_halves_the_idle_time_of_the_plain_generator(measured):
    # With a core to spare (a quiet machine): a loaded one leaves prefetch no core to decode on.
    plain, prefetched = measured["generator"], measured["generator_prefetch"]
    assert prefetched.idle_fraction < 0.5 * plain.idle_fraction


def test_preloaded_batches_come_several_times_faster_than_decoded_ones(measured):
    # The best epoch of each, as timeit takes the best run: a preloaded epoch of 320 samples lasts
    # about 10 ms, and a neighbour's burst on a shared machine can double one of them, never halve
    # it.
    preload, generator = measured["preload"], measured["generator"]
    assert preload.batches_per_s_max > 3 * generator.batches_per_s_max


@pytest.mark.bench
def test_always_ready_pipelines_idle_at_most_one_percent_above_the_fetch_floor(measured):
    # On a quiet machine the floor takes off all of a preloaded pipeline's wait but a point at most.
    preload = measured["preload"]
    assert preload.idle_fraction <= 0.01, (
        f"preload idles {preload.idle_fraction:.2%} above the floor"
    )


@pytest.mark.bench
def test_known_per_sample_cost_is_measured_within_ten_percent(data_cache):
    from profiler.ceiling.limit import measure_ceiling
    from tests.integration.test_ceiling import spin_2ms

    source, _ = prepare_data(SMALL_DATA, data_cache)
    ceiling = measure_ceiling(source, cores=2, work=spin_2ms)
    assert ceiling.work_per_sample_s == pytest.approx(0.002, rel=0.10)
