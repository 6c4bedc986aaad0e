"""A keras.utils.PyDataset over the synthetic data.

It lives in a module of its own, importable by name, because Keras's process workers receive it
pickled; the scenarios import it only inside ``open``, because importing Keras imports TensorFlow.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from profiler.strategy import DataSource


class SyntheticPyDataset(keras.utils.PyDataset):
    """Batch ``index`` is samples [index * batch_size, ...), decoded on demand."""

    def __init__(self, source: DataSource, batch_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.bounds = source.batch_bounds(batch_size)

    def __len__(self) -> int:
        return len(self.bounds)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.source.load_range(*self.bounds[index])
