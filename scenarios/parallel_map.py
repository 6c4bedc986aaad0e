"""Native tf.data: file paths sliced, decoded and resized by TensorFlow's own image ops in
parallel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.strategy import DataSource, Knob, PipelineContext, Scenario, reduction
from scenarios._shared import tensorflow_decode_map
from scenarios._tuning import MAP_PARALLELISM, PREFETCH, RAM_BUDGET, THREADPOOL, with_tuned_options

DECODE_RATIO = Knob(
    "decode_ratio",
    1,
    code="image = tf.io.decode_jpeg(data, channels=CHANNELS, ratio={value})  # for decode_image",
    what="JPEGs decoded at 1/ratio scale before the resize (pixels close to, not equal to, "
    "the full decode's)",
)


class ParallelMapScenario(Scenario):
    name = "parallel_map"
    summary = "from_tensor_slices(paths).map(TensorFlow decode + resize, AUTOTUNE), batch, prefetch"
    description = (
        "Dataset.from_tensor_slices(file paths).map(load, num_parallel_calls=AUTOTUNE) where load "
        "reads and decodes each file with TensorFlow's own ops (tf.io.decode_jpeg with the "
        "accurate integer DCT that OpenCV uses, or tf.io.decode_png) and resizes it with "
        "tf.image.resize(method='area'), rounding as OpenCV does; then .batch() and "
        ".prefetch(AUTOTUNE). No Python runs per sample, so tf.data's threads use every core "
        "without the interpreter lock. The decoded pixels equal OpenCV's at whole-number downscale "
        "factors such as the default 2x; at others TensorFlow's resize rounds some pixels one "
        "level apart. Reads encoded images: files, or TFRecords through TFRecordDataset (which "
        "reads every record and keeps the run's samples); not arrays. tf.data options: defaults "
        "(autotune on, deterministic order)."
    )
    pixels_may_differ = True
    data_kinds = ("images", "records")
    knobs = (MAP_PARALLELISM, DECODE_RATIO, PREFETCH, THREADPOOL, RAM_BUDGET)

    def knob_choices(
        self, knob: Knob, source: DataSource | None, cores: int, default: Any
    ) -> tuple[Any, ...]:
        if knob is DECODE_RATIO:  # only where the JPEG is at least twice the target size
            most = reduction(source) if source is not None else 1
            return tuple(ratio for ratio in (2, 4, 8) if ratio <= most and ratio != default)
        return super().knob_choices(knob, source, cores, default)

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        samples = tensorflow_decode_map(
            tf, ctx.source, ctx.setting(MAP_PARALLELISM, tf), ctx.setting(DECODE_RATIO)
        )
        dataset = samples.batch(ctx.batch_size).prefetch(ctx.setting(PREFETCH, tf))
        yield with_tuned_options(tf, dataset, ctx)


SCENARIO = ParallelMapScenario()
