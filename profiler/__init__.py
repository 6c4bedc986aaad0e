"""tf-pipeline-profiler: measure TensorFlow input-pipeline strategies on your own machine."""

__version__ = "0.2.0"
