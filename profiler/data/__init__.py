"""Layer 2, both sides: the data a pipeline reads. Generated datasets and their cache, sample work,
fingerprints, a user's own data."""

from profiler.base.moved import forward_to

# ``profiler.data`` was one module before it was a folder; its names still resolve, with a warning.
__getattr__ = forward_to(__name__, "profiler.data.synthetic", __path__)
