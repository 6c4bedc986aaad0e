"""CPU-bound pipelines with a known, steady cost, for measuring the measurement itself.

Each element sorts a fixed array in numpy, which releases the interpreter lock, so a parallel map
keeps both cores of a small machine busy with work whose cost does not drift.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

_ARRAY = np.random.default_rng(0).random(60_000)


def _sort_element(index: Any) -> np.ndarray:
    np.sort(_ARRAY)  # about 2 ms of compiled work, the interpreter lock released
    return np.full((8, 8, 3), float(index % 7), dtype=np.float32)


def sorting_map(samples: int = 640, batch_size: int = 32, parallel: int = 2) -> Any:
    """range(samples).map(sort, parallel).batch().prefetch(): CPU-bound on every core it is
    given."""
    import tensorflow as tf

    def element(index: Any) -> tuple[Any, Any]:
        image = tf.numpy_function(_sort_element, [index], tf.float32)
        return tf.ensure_shape(image, (8, 8, 3)), tf.cast(index % 10, tf.int32)

    return (
        tf.data.Dataset.range(samples)
        .map(element, num_parallel_calls=parallel)
        .batch(batch_size)
        .prefetch(2)
    )


def spinning_generator(batches: int = 40, spin_s: float = 0.004, batch_size: int = 32) -> Any:
    """A generator that spins ``spin_s`` of pure Python per batch: one core, the interpreter lock
    held."""
    import tensorflow as tf

    images = np.zeros((batch_size, 8, 8, 3), np.float32)
    labels = np.zeros(batch_size, np.int32)

    def generate() -> Any:
        for _ in range(batches):
            deadline = time.perf_counter() + spin_s
            while time.perf_counter() < deadline:
                pass
            yield images, labels

    signature = (tf.TensorSpec((None, 8, 8, 3), tf.float32), tf.TensorSpec((None,), tf.int32))
    return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)
