"""``import tensorflow`` for a process that measures, without the plotting library it drags in.

Importing TensorFlow 2.21 imports Keras, and Keras imports ``matplotlib.pyplot`` for its image
gallery, behind ``except ImportError``. Measured on 2 cores, three imports each: 5.2 to 5.6 s of
CPU and 560 MiB with it kept out, 6.0 to 6.7 s and 589 MiB with it. Every worker imports
TensorFlow, all at once, before anything is timed; twelve of them spend 12 s of CPU less. Nothing
a pipeline does is touched: where matplotlib is already imported (a pipeline's module did), or
once TensorFlow is in, it imports as usual.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType


class _NoPlotting(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: object = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"{name} is not imported while TensorFlow is")
        return None


def import_tensorflow(module: str = "tensorflow") -> None:
    """Import TensorFlow (ImportError where it is not installed), matplotlib left out meanwhile;
    ``module``: another package to import so (the tests' stand-in)."""
    if module in sys.modules or "matplotlib" in sys.modules:
        importlib.import_module(module)
        return
    finder = _NoPlotting()
    sys.meta_path.insert(0, finder)
    try:
        importlib.import_module(module)
    finally:
        sys.meta_path.remove(finder)
