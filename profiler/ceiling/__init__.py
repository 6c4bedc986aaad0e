"""Layer 3, in a spawned child of its own: what this machine can do at most for this data, by
decoder and by stage."""

from profiler.base.moved import forward_to

# ``profiler.ceiling`` was one module before it was a folder; its names still resolve, with a
# warning.
__getattr__ = forward_to(__name__, "profiler.ceiling.limit", __path__)
