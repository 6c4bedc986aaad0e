"""What consumes the batches of an idle epoch: a simulated device step, or a real Keras training
step.

Runs inside the worker. Keras and TensorFlow are imported only when the Keras consumer is built.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any

# Labels of a user's pipeline have no known range; the Keras consumer's output layer covers this
# many.
_FALLBACK_CLASSES = 1000
_GPU_SAMPLE_S = 0.05


class SleepStep:
    """A device step of fixed length that leaves the host CPU free, as a GPU computing does."""

    device = "simulated"

    def __init__(self, step_s: float) -> None:
        self.step_s = step_s

    def prepare(self, batch: Any) -> None:
        """Nothing to build."""

    def __call__(self, batch: Any) -> None:
        deadline = time.perf_counter() + self.step_s
        remaining = self.step_s
        while remaining > 0:
            time.sleep(remaining)
            remaining = deadline - time.perf_counter()


class KerasStep:
    """One SGD step of a small convolutional classifier per batch, on the device TensorFlow picks.

    ``train_on_batch`` returns the loss as a number, which waits for the device to finish the
    step: the step time measured around it is the real one, also on a GPU.
    """

    def __init__(self, classes: int | None) -> None:
        self.classes = classes
        self.model: Any = None
        self.device = ""
        self.losses: list[float] = []

    def prepare(self, batch: Any) -> None:
        """Build and compile the model for this batch's shape and run one step, so tracing is not
        timed."""
        if self.model is not None:
            return
        import keras
        import numpy as np

        images, labels = batch
        classes = max(self.classes or _FALLBACK_CLASSES, int(np.max(np.asarray(labels))) + 1)
        self.model = keras.Sequential(
            [
                keras.Input(shape=tuple(images.shape[1:])),
                # "same" padding: any image size works, down to a pixel or two.
                keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
                keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(classes),
            ]
        )
        self.model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        self.model.train_on_batch(images, labels)
        self.device = _device_of(self.model)

    def __call__(self, batch: Any) -> None:
        if self.model is None:  # no batch was seen before: build on this one, inside its step
            self.prepare(batch)
        images, labels = batch
        self.losses.append(float(self.model.train_on_batch(images, labels)))


def _device_of(model: Any) -> str:
    """'GPU:0' or 'CPU:0': where the first weight lives, so where the step runs."""
    try:
        name = str(model.weights[0].value.device)
    except (AttributeError, IndexError):
        return "unknown"
    return name.rsplit("device:", 1)[-1] if "device:" in name else name or "unknown"


class GpuUtilization:
    """Samples the GPU's utilization through NVML while running; ``mean()`` is None without a GPU.

    NVML reports the share of the last sample period in which any kernel ran on the device.
    """

    def __init__(self, interval_s: float = _GPU_SAMPLE_S) -> None:
        self.interval_s = interval_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._read = _nvml_reader()

    @property
    def available(self) -> bool:
        return self._read is not None

    def __enter__(self) -> GpuUtilization:
        if self._read is not None:
            self._thread = threading.Thread(target=self._sample, name="gpu-sampler", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _sample(self) -> None:
        assert self._read is not None
        while not self._stop.wait(self.interval_s):
            value = self._read()
            if value is not None:
                self.samples.append(value)

    def mean(self) -> float | None:
        return statistics.fmean(self.samples) if self.samples else None


def _nvml_reader() -> Any:
    """A function returning the first visible GPU's utilization in %, or None without NVML or a
    GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
        handle = pynvml.nvmlDeviceGetHandleByIndex(int(visible) if visible.isdigit() else 0)
    # No library, no driver or no device: there is nothing to sample.
    except Exception:  # noqa: BLE001
        return None

    def read() -> float | None:
        try:
            return float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:  # noqa: BLE001 - a failed read loses one sample, not the measurement
            return None

    return read
