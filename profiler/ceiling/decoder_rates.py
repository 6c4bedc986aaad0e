"""Every decoder the strategies (and their tuned settings) use on this data, timed on one core.

The ceiling takes the fastest, so that no strategy that decodes every epoch can beat it by
decoding another way: OpenCV as the Python strategies use it, TensorFlow's own ops as the native
ones use them, and, where the images are JPEGs at least twice the target size, TensorFlow's
decoding at a reduced scale (the DCT scaled down by 2, 4 or 8 while decoding, then the resize),
which skips most of the decoder's work and which ``tune`` tries on the native strategies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from profiler.data.sample_work import decoded_shape
from profiler.data.synthetic import DataSource

OPENCV = "opencv"
ARRAYS = "arrays"  # stored decoded: reading them is the whole work
TENSORFLOW = "tensorflow"
# Samples cycled over while timing: enough to leave one image's quirks out, few enough to hold.
_CYCLE = 256
_TF_BATCH = 256  # amortises the Python side of tf.data's iteration: the ops alone are timed


@dataclass(frozen=True)
class DecoderRate:
    """One decoder's work per sample (read + decode + resize + normalize) on one core."""

    name: str  # "opencv", "tensorflow", "tensorflow_reduced_2"
    work_per_sample_s: float
    measured_samples: int
    how: str = ""  # in words, for the report

    @property
    def samples_per_s(self) -> float:
        return 1.0 / self.work_per_sample_s


def reduction(source: DataSource) -> int:
    """The largest DCT scale-down (8, 4 or 2) a JPEG of this data allows before the resize; 1 where
    none."""
    spec = source.spec
    encoded = source.encoded(0)
    if not encoded.startswith(b"\xff\xd8"):
        return 1
    height, width = decoded_shape(encoded, spec.channels)[:2]
    for factor in (8, 4, 2):
        if height // factor >= spec.height and width // factor >= spec.width:
            return factor
    return 1


class Timing(NamedTuple):
    """Work timed in a tight loop: seconds per call, over how many calls."""

    seconds_per_call: float
    calls: int


def timed(work: Callable[[int], Any], count: int, min_s: float, min_calls: int = 20) -> Timing:
    """(seconds per call, calls) of ``work(index)`` in a tight loop over ``count`` indices."""
    done = 0
    started = time.perf_counter()
    while True:
        work(done % count)
        done += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_s and done >= min_calls:
            return Timing(elapsed / done, done)


def tensorflow_rate(source: DataSource, factor: int, min_s: float) -> Timing:
    """TensorFlow's read + decode + area resize + scaling in tf.data, held to one thread."""
    import tensorflow as tf

    spec = source.spec
    count = min(source.num_samples, _CYCLE)

    def decode(encoded: Any) -> Any:
        if factor > 1:
            image = tf.io.decode_jpeg(
                encoded, channels=spec.channels, ratio=factor, dct_method="INTEGER_ACCURATE"
            )
        else:  # as the native strategies decode
            image = tf.cond(
                tf.io.is_jpeg(encoded),
                lambda: tf.io.decode_jpeg(
                    encoded, channels=spec.channels, dct_method="INTEGER_ACCURATE"
                ),
                lambda: tf.io.decode_image(
                    encoded, channels=spec.channels, expand_animations=False
                ),
            )
        return tf.floor(tf.image.resize(image, (spec.height, spec.width), method="area") + 0.5) * (
            1.0 / 255.0
        )

    if spec.form == "images":
        paths = source.image_paths()[:count]
        dataset = (
            tf.data.Dataset.from_tensor_slices(paths)
            .repeat()
            .map(lambda path: decode(tf.io.read_file(path)))
        )
    # TFRecords: the encoded bytes, read beforehand (their parsing is the records' cost, not the
    # decoder's)
    else:
        encoded = [source.encoded(index) for index in range(count)]
        dataset = tf.data.Dataset.from_tensor_slices(encoded).repeat().map(decode)
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    batches = iter(dataset.batch(_TF_BATCH).with_options(options))
    next(batches)  # the graph is built and traced outside the timing
    per_batch, calls = timed(lambda index: next(batches), 1, min_s, min_calls=2)
    return per_batch / _TF_BATCH, calls * _TF_BATCH


def decoder_rates(
    source: DataSource, opencv: DecoderRate, min_s: float = 0.5
) -> tuple[DecoderRate, ...]:
    """``opencv`` (timed by the caller, as the strategies decode) and every other decoder for this
    data."""
    rates = [opencv]
    factor = reduction(source)
    for each in (1, factor) if factor > 1 else (1,):
        per_sample, calls = tensorflow_rate(source, each, min_s)
        name = TENSORFLOW if each == 1 else f"{TENSORFLOW}_reduced_{each}"
        how = "TensorFlow's decode and area resize in tf.data" + (
            f", decoding at 1/{each} scale" if each > 1 else ""
        )
        rates.append(DecoderRate(name, per_sample, calls, how))
    return tuple(rates)
