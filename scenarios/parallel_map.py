"""Native tf.data: file paths sliced, decoded and resized by TensorFlow's own image ops in parallel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.scenario import PipelineContext, Scenario
from scenarios._shared import tensorflow_decode_map


class ParallelMapScenario(Scenario):
    name = "parallel_map"
    summary = "from_tensor_slices(paths).map(TensorFlow decode + resize, AUTOTUNE), batch, prefetch"
    description = (
        "Dataset.from_tensor_slices(file paths).map(load, num_parallel_calls=AUTOTUNE) where load "
        "reads and decodes each file with TensorFlow's own ops (tf.io.decode_jpeg with the "
        "accurate integer DCT that OpenCV uses, or tf.io.decode_png) and resizes it with "
        "tf.image.resize(method='area'), rounding as OpenCV does; then .batch() and "
        ".prefetch(AUTOTUNE). No Python runs per sample, so tf.data's threads use every core "
        "without the interpreter lock. The decoded pixels equal OpenCV's at whole-number "
        "downscale factors such as the default 2x; at others TensorFlow's resize rounds some "
        "pixels one level apart. Reads encoded images: files, or TFRecords through TFRecordDataset "
        "(which reads every record and keeps the run's samples); not arrays. "
        "tf.data options: defaults (autotune on, deterministic order)."
    )
    pixels_may_differ = True
    data_kinds = ("images", "records")

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        dataset = tensorflow_decode_map(tf, ctx.source).batch(ctx.batch_size).prefetch(tf.data.AUTOTUNE)
        yield dataset


SCENARIO = ParallelMapScenario()
