"""Sharded TFRecord files of encoded samples, read with interleave and a parallel decode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from profiler.strategy import (
    AUTOTUNE,
    DataSource,
    Knob,
    PipelineContext,
    Scenario,
    decode_encoded,
    publish_folder,
)
from scenarios._tuning import MAP_PARALLELISM, PREFETCH, RAM_BUDGET, THREADPOOL, with_tuned_options

SHARDS = 8
SHARD_COUNT = Knob(
    "shards",
    SHARDS,
    (2, 4, 16),
    code="write_shards(shards, count={value})",
    what="TFRecord files the data is written as",
)
INTERLEAVE_PARALLELISM = Knob(
    "interleave_parallelism",
    AUTOTUNE,
    threads=True,
    code="num_parallel_calls={value}  # in the interleave",
    what="threads reading shards, at most the cycle length",
)
CYCLE_LENGTH = Knob(
    "cycle_length",
    AUTOTUNE,
    threads=True,
    code="cycle_length={value}  # in the interleave",
    what="shards read at once (AUTOTUNE: all of them)",
)


def write_shards(tf: Any, source: DataSource, folder: Path, count: int = SHARDS) -> None:
    """Encoded images as they are stored, or decoded arrays as raw float32 bytes, plus label and
    index."""
    shards = min(count, source.num_samples)
    writers = [tf.io.TFRecordWriter(str(folder / f"shard-{n:02d}.tfrecord")) for n in range(shards)]
    try:

        def payload(index: int) -> bytes:
            return (
                source.load_sample(index).tobytes()
                if source.spec.form == "arrays"
                else source.encoded(index)
            )

        def integer(value: int) -> Any:
            return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

        for index in range(source.num_samples):
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "data": tf.train.Feature(
                            bytes_list=tf.train.BytesList(value=[payload(index)])
                        ),
                        "label": integer(int(source.labels[index])),
                        "index": integer(index),  # the sample's augmentation is seeded by it
                    }
                )
            )
            writers[index % shards].write(example.SerializeToString())
    finally:
        for writer in writers:
            writer.close()


class TFRecordScenario(Scenario):
    name = "tfrecord"
    knobs = (
        MAP_PARALLELISM,
        SHARD_COUNT,
        CYCLE_LENGTH,
        INTERLEAVE_PARALLELISM,
        PREFETCH,
        THREADPOOL,
        RAM_BUDGET,
    )
    summary = "sharded TFRecords, interleave(num_parallel_calls), parallel decode, batch, prefetch"
    description = (
        f"The dataset written once as {SHARDS} TFRecord shards (kept beside the generated data, so "
        "only the first run pays for writing them, in its build time), read with "
        "interleave(TFRecordDataset, num_parallel_calls=AUTOTUNE, deterministic=False), then a "
        "parallel map that parses each record and decodes it (OpenCV for encoded images, "
        "decode_raw for arrays), .batch() and .prefetch(AUTOTUNE). Few large files read "
        "sequentially suit network and spinning disks. Samples arrive in interleaved order. "
        "tf.data options: defaults (autotune on); interleave and map are non-deterministic."
    )

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        source = ctx.source
        spec = source.spec
        # Arrays are stored decoded, so augmented ones are stored apart.
        count = int(ctx.setting(SHARD_COUNT))
        name = f"tfrecord-v2-{count}" + (
            "-augmented" if spec.augment and spec.form == "arrays" else ""
        )
        folder = publish_folder(
            source.work_root / name, lambda staging: write_shards(tf, source, staging, count)
        )
        features = {
            "data": tf.io.FixedLenFeature([], tf.string),
            "label": tf.io.FixedLenFeature([], tf.int64),
            "index": tf.io.FixedLenFeature([], tf.int64),
        }

        def decode(record: Any) -> tuple[Any, Any]:
            parsed = tf.io.parse_single_example(record, features)
            if spec.form != "arrays":
                image = tf.numpy_function(
                    lambda data, index: decode_encoded(data, spec, int(index)),
                    [parsed["data"], parsed["index"]],
                    tf.float32,
                )
            else:
                image = tf.io.decode_raw(parsed["data"], tf.float32)
            return tf.ensure_shape(
                tf.reshape(image, spec.sample_shape), spec.sample_shape
            ), tf.cast(parsed["label"], tf.int32)

        shards = sorted(str(path) for path in folder.glob("shard-*.tfrecord"))
        cycle = (
            len(shards) if ctx.setting(CYCLE_LENGTH) == AUTOTUNE else int(ctx.setting(CYCLE_LENGTH))
        )
        readers = ctx.setting(INTERLEAVE_PARALLELISM, tf)
        # tf.data refuses more reading threads than shards read at once: those beyond would have
        # nothing to do.
        readers = readers if readers == tf.data.AUTOTUNE else min(int(readers), cycle)
        dataset = (
            tf.data.Dataset.from_tensor_slices(shards)
            .interleave(
                tf.data.TFRecordDataset,
                cycle_length=cycle,
                num_parallel_calls=readers,
                deterministic=False,
            )
            .map(decode, num_parallel_calls=ctx.setting(MAP_PARALLELISM, tf), deterministic=False)
            .batch(ctx.batch_size)
            .prefetch(ctx.setting(PREFETCH, tf))
        )
        yield with_tuned_options(tf, dataset, ctx)


SCENARIO = TFRecordScenario()
