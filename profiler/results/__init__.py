"""Layer 4, both sides: the records a measurement produces and their versioned JSON files."""

from profiler.base.moved import forward_to

# ``profiler.results`` was one module before it was a folder; its names still resolve, with a
# warning.
__getattr__ = forward_to(__name__, "profiler.results.records", __path__)
