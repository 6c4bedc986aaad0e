"""The Keras training step as the consumer of the idle epochs."""

from __future__ import annotations

import time

import pytest

from profiler.consumer import GpuUtilization
from profiler.results import STATUS_OK
from profiler.runner import Runner
from profiler.settings import CONSUMER_KERAS, MeasureSettings, Target
from tests.conftest import TINY_BATCH


def test_keras_step_trains_on_real_batches_and_waits_are_measured_against_it(tiny_images, no_leftover_children):
    # slow_30ms makes each batch on request in 30 ms, with nothing read ahead, so whatever the
    # training step costs, every steady-state wait is the 30 ms of making the next batch.
    settings = MeasureSettings(batch_size=TINY_BATCH, workers=1, epochs=1, idle_epochs=1, step_ms=200.0,
                               time_cap_s=0.3, idle_time_cap_s=0.3,
                           timeout_s=120.0, consumer=CONSUMER_KERAS)
    with Runner(tiny_images, settings) as runner:
        slow = runner.run(Target.scenario("tests.fakes:SLOW_30MS"))
        real = runner.run(Target.scenario("generator"))
        # Keras's PyDataset adapter allows one iterator at a time: the model must be built without a second.
        pydataset = runner.run(Target.scenario("pydataset"))
    assert slow.status == STATUS_OK, slow.error
    assert slow.step_device == "CPU:0"
    assert slow.wait_p50_ms == pytest.approx(30.0, abs=6.0)
    # A real step of a small model on 4 tiny images, not the 200 ms --step-ms of the simulated one.
    assert 0 < slow.step_p50_ms < 100
    assert slow.idle_fraction_raw == pytest.approx(slow.idle_s / (slow.idle_s + slow.compute_s))
    # The floor behind the same Keras step: a ready batch of the same shape from a plain iterator.
    assert slow.fetch_floor_ms is not None and slow.fetch_floor_ms < 5
    assert slow.idle_fraction <= slow.idle_fraction_raw
    assert slow.gpu_utilization_percent is None  # no GPU here
    assert real.status == STATUS_OK, real.error
    assert real.step_device == "CPU:0" and real.step_p50_ms < 100
    assert real.fingerprint.samples == tiny_images.num_samples
    assert pydataset.status == STATUS_OK, pydataset.error
    assert pydataset.step_device == "CPU:0"


def test_gpu_utilization_averages_what_the_device_reports():
    readings = iter([20.0, 60.0] * 1000)
    gpu = GpuUtilization(interval_s=0.005)
    gpu._read = lambda: next(readings)  # stands in for NVML, which this machine does not have
    with gpu:
        time.sleep(0.2)
    assert len(gpu.samples) >= 4
    assert gpu.mean() == pytest.approx(40.0, abs=20.0 / len(gpu.samples))


def test_real_nvml_reads_percentages_or_nothing_at_all():
    with GpuUtilization(interval_s=0.005) as gpu:
        time.sleep(0.05)
    if gpu.available:  # a machine with a GPU: real readings, each a percentage
        assert gpu.samples and all(0.0 <= value <= 100.0 for value in gpu.samples)
    else:  # no library, driver or device: no figure rather than a made-up 0%
        assert gpu.samples == [] and gpu.mean() is None
