"""The Keras training step as the consumer of the idle epochs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from profiler.base.settings import CONSUMER_KERAS, MeasureSettings, Target
from profiler.measuring.procedure import PACED_BLOCK
from profiler.measuring.runner import Runner
from profiler.results.records import STATUS_OK
from profiler.worker.consumer import GpuUtilization
from tests.conftest import TINY_BATCH
from tests.fakes import BATCH_LOG_ENV, recorded_paced


def _gpus_nvml_sees() -> int:
    """The GPUs NVML reports here: 0 without its library, a driver or a device."""
    try:
        import pynvml
    except ImportError:
        return 0
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return 0
    try:
        return pynvml.nvmlDeviceGetCount()
    finally:
        pynvml.nvmlShutdown()


def _gpus_tensorflow_sees() -> int:
    """In a child, so that TensorFlow stays out of this process."""
    count = subprocess.run(
        [
            sys.executable,
            "-c",
            "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert count.returncode == 0, count.stderr[-2000:]
    return int(count.stdout.split()[-1])


def test_keras_step_trains_on_real_batches_and_waits_are_measured_against_it(
    tiny_images, tmp_path, monkeypatch, no_leftover_children
):
    # slow_30ms makes each batch on request in 30 ms, with nothing read ahead, so whatever the
    # training step costs, every steady-state wait is the making of the next batch, which the fake
    # records.
    log = tmp_path / "batches.jsonl"
    monkeypatch.setenv(BATCH_LOG_ENV, str(log))
    settings = MeasureSettings(
        batch_size=TINY_BATCH,
        workers=1,
        epochs=1,
        idle_epochs=1,
        step_ms=200.0,
        time_cap_s=0.3,
        idle_time_cap_s=0.3,
        timeout_s=120.0,
        consumer=CONSUMER_KERAS,
    )
    with Runner(tiny_images, settings) as runner:
        slow = runner.run(Target.scenario("tests.fakes:SLOW_30MS"))
        real = runner.run(Target.scenario("generator"))
        # Keras's PyDataset adapter allows one iterator at a time: the model must be built without a
        # second.
        pydataset = runner.run(Target.scenario("pydataset"))
    assert slow.status == STATUS_OK, slow.error
    gpus = _gpus_nvml_sees()
    # Where TensorFlow places the model: its first GPU where it sees one.
    device = "GPU:0" if gpus and _gpus_tensorflow_sees() else "CPU:0"
    assert slow.step_device == device
    recorded = recorded_paced(log, slow.wait_ms, PACED_BLOCK)
    for wait, truth in zip(slow.wait_ms, recorded.steady_ms, strict=True):
        assert truth - 0.01 <= wait <= truth + 5.0, (wait, truth)
    # A real step of a small model on 4 tiny images, not the 200 ms --step-ms of the simulated one.
    assert 0 < slow.step_p50_ms < 100
    assert slow.idle_fraction_raw == pytest.approx(slow.idle_s / (slow.idle_s + slow.compute_s))
    # The floor behind the same Keras step: a ready batch of the same shape from a plain iterator.
    assert slow.fetch_floor_ms is not None and slow.fetch_floor_ms < 5
    assert slow.idle_fraction <= slow.idle_fraction_raw
    if gpus:  # the share of time a kernel ran, read while the paced steps ran
        assert slow.gpu_utilization_percent is not None and 0 <= slow.gpu_utilization_percent <= 100
    else:  # nothing to read: no figure rather than a made-up 0%
        assert slow.gpu_utilization_percent is None
    assert real.status == STATUS_OK, real.error
    assert real.step_device == device and real.step_p50_ms < 100
    assert real.fingerprint.samples == tiny_images.num_samples
    assert pydataset.status == STATUS_OK, pydataset.error
    assert pydataset.step_device == device


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
