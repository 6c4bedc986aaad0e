"""Each strategy as the few lines a user pastes to build it on their own files.

A snippet defines ``make_dataset()``; it runs after ``profiler.reporters.advice.SNIPPET_HEADER``,
which lists the user's files as ``paths`` and ``labels`` and defines ``load(path)`` (OpenCV decode,
resize, scale to [0, 1]). Building happens inside the function, never at import time, because
spawned worker processes import the script again.
"""

from __future__ import annotations

import textwrap

_SIGNATURE = (
    "    signature = (tf.TensorSpec((None, HEIGHT, WIDTH, CHANNELS), tf.float32), tf.TensorSpec((None,), tf.int32))\n"
)

_OPENCV_MAP = '''    def decode(index):
        image = tf.numpy_function(lambda i: load(paths[i]), [index], tf.float32)
        return tf.ensure_shape(image, (HEIGHT, WIDTH, CHANNELS)), tf.gather(labels, index)

    samples = tf.data.Dataset.range(len(paths)).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
'''

_TF_DECODE = '''    def decode(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=CHANNELS, expand_animations=False)
        return tf.image.resize(image, (HEIGHT, WIDTH), method="area") / 255.0, label

'''

SNIPPETS = {
    "preload": '''def make_dataset():
    images = np.stack([load(path) for path in paths])  # the whole decoded dataset in memory
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH).prefetch(tf.data.AUTOTUNE)
''',
    "generator": '''def make_dataset():
    def batches():
        for start in range(0, len(paths), BATCH):
            yield np.stack([load(p) for p in paths[start:start + BATCH]]), labels[start:start + BATCH]

''' + _SIGNATURE + '''    return tf.data.Dataset.from_generator(batches, output_signature=signature)
''',
    "generator_prefetch": '''def make_dataset():
    def batches():
        for start in range(0, len(paths), BATCH):
            yield np.stack([load(p) for p in paths[start:start + BATCH]]), labels[start:start + BATCH]

''' + _SIGNATURE + '''    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return dataset.prefetch(tf.data.AUTOTUNE)
''',
    "multiprocessing": '''import multiprocessing

WORKERS = 2


def make_dataset():
    # spawn: never fork a process that has imported TensorFlow.
    pool = multiprocessing.get_context("spawn").Pool(WORKERS)

    def batches():
        starts = range(0, len(paths), BATCH)
        pending = [pool.map_async(load, paths[s:s + BATCH]) for s in starts[:2]]
        for number, start in enumerate(starts):
            if number + 2 < len(starts):  # keep two batches decoding ahead
                pending.append(pool.map_async(load, paths[starts[number + 2]:starts[number + 2] + BATCH]))
            yield np.stack(pending.pop(0).get()), labels[start:start + BATCH]

''' + _SIGNATURE + '''    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return dataset.prefetch(tf.data.AUTOTUNE)
''',
    "cache": '''def make_dataset():
''' + _OPENCV_MAP + '''    # Decoded once, then served from memory: it must fit in RAM.
    return samples.cache().batch(BATCH).prefetch(tf.data.AUTOTUNE)
''',
    "threaded_generator": '''from concurrent.futures import ThreadPoolExecutor

WORKERS = 2


def make_dataset():
    pool = ThreadPoolExecutor(WORKERS)

    def batches():
        starts = list(range(0, len(paths), BATCH))
        pending = [pool.submit(load, p) for p in paths[starts[0]:starts[0] + BATCH]]
        for number, start in enumerate(starts):
            ahead = starts[number + 1] if number + 1 < len(starts) else None
            following = [] if ahead is None else [pool.submit(load, p) for p in paths[ahead:ahead + BATCH]]
            yield np.stack([future.result() for future in pending]), labels[start:start + BATCH]
            pending = following

''' + _SIGNATURE + '''    return tf.data.Dataset.from_generator(batches, output_signature=signature)
''',
    "parallel_map": '''def make_dataset():
''' + _TF_DECODE + '''    dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
    return dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH).prefetch(tf.data.AUTOTUNE)
''',
    "parallel_map_opencv": '''def make_dataset():
''' + _OPENCV_MAP + '''    return samples.batch(BATCH).prefetch(tf.data.AUTOTUNE)
''',
    "tfrecord": '''SHARDS = "shards"  # a folder on a disk with room for the encoded files once more


def write_shards(count=8):
    pathlib.Path(SHARDS).mkdir()
    for shard in range(count):
        with tf.io.TFRecordWriter(f"{SHARDS}/part-{shard:04d}.tfrecord") as writer:
            for path, label in list(zip(paths, labels))[shard::count]:
                feature = {
                    "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[pathlib.Path(path).read_bytes()])),
                    "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
                }
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def make_dataset():
    if not pathlib.Path(SHARDS).exists():
        write_shards()
    features = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}

    def decode(record):
        parsed = tf.io.parse_single_example(record, features)
        image = tf.io.decode_image(parsed["image"], channels=CHANNELS, expand_animations=False)
        image = tf.image.resize(image, (HEIGHT, WIDTH), method="area") / 255.0
        return image, tf.cast(parsed["label"], tf.int32)

    files = tf.data.Dataset.list_files(f"{SHARDS}/*.tfrecord", shuffle=False)
    records = files.interleave(tf.data.TFRecordDataset, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE)
    return records.map(decode, num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH).prefetch(tf.data.AUTOTUNE)
''',
    "cache_file": '''CACHE = "decoded.cache"  # a file on a disk with room for the whole decoded dataset


def make_dataset():
''' + _OPENCV_MAP + '''    # Decoded in the first epoch, read back from the file in every later one.
    return samples.cache(CACHE).batch(BATCH).prefetch(tf.data.AUTOTUNE)
''',
    "snapshot": '''SNAPSHOT = "decoded-snapshot"  # a folder on a disk with room for the whole decoded dataset


def make_dataset():
    if not pathlib.Path(SNAPSHOT).exists():
''' + textwrap.indent(_OPENCV_MAP, "    ") + '''        samples.save(SNAPSHOT)
    return tf.data.Dataset.load(SNAPSHOT).batch(BATCH).prefetch(tf.data.AUTOTUNE)
''',
    "pydataset": '''import keras


class Images(keras.utils.PyDataset):
    def __len__(self):
        return -(-len(paths) // BATCH)

    def __getitem__(self, index):
        part = slice(index * BATCH, (index + 1) * BATCH)
        return np.stack([load(p) for p in paths[part]]), labels[part]


def make_dataset():
    # Model.fit runs __getitem__ in a pool of 2 threads.
    return Images(workers=2, use_multiprocessing=False, max_queue_size=10)
''',
    "pydataset_processes": '''import multiprocessing

import keras


class Images(keras.utils.PyDataset):
    def __len__(self):
        return -(-len(paths) // BATCH)

    def __getitem__(self, index):
        part = slice(index * BATCH, (index + 1) * BATCH)
        return np.stack([load(p) for p in paths[part]]), labels[part]


def make_dataset():
    # Keras starts its pool from the default context, fork on Linux: never fork a process that has
    # imported TensorFlow.
    multiprocessing.set_start_method("spawn", force=True)
    return Images(workers=2, use_multiprocessing=True, max_queue_size=10)
''',
    "data_service": '''DISPATCHER = "grpc://HOST:PORT"  # your tf.data service cluster's dispatcher


def make_dataset():
''' + _TF_DECODE + '''    samples = tf.data.Dataset.from_tensor_slices((paths, labels))
    samples = samples.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    # The workers decode; this process batches what they send.
    distributed = samples.apply(tf.data.experimental.service.distribute("parallel_epochs", DISPATCHER))
    return distributed.batch(BATCH).prefetch(tf.data.AUTOTUNE)
''',
}
