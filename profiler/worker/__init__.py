"""Layer 5, inside the spawned worker only: the process that builds a pipeline and answers the
parent's requests."""

from profiler.base.moved import forward_to

# ``profiler.worker`` was one module before it was a folder; its names still resolve, with a
# warning.
__getattr__ = forward_to(__name__, "profiler.worker.main", __path__)
