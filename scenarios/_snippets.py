"""Each strategy as the few lines a user pastes to build it on their own data.

A snippet defines ``make_dataset()``; it runs after a header (profiler.reporters.script_headers)
that reads the run's data, a folder of images, TFRecords or .npy arrays, into the same names:
``paths`` (one entry a sample) and ``labels``, ``load(entry)`` (OpenCV decode, resize, scale to
[0, 1]), ``stored_bytes(entry)`` and ``decode_bytes(data)`` (the sample as a TFRecord shard keeps
it, and TensorFlow's decode of that), ``stored_samples()`` and ``decode_item(item)`` (the samples
for TensorFlow's own ops), ``DATA_FILES``, and the constants HEIGHT, WIDTH, CHANNELS, BATCH and
AUTOTUNE. Building happens inside the function, never at import time, because spawned worker
processes import the script again. Lines stay within 79 columns, so the code reads in an
80-column log.
"""

from __future__ import annotations

import textwrap

_BATCHES = """    def batches():
        for start in range(0, len(paths), BATCH):
            part = slice(start, start + BATCH)
            yield np.stack([load(p) for p in paths[part]]), labels[part]

"""

_SIGNATURE = """    signature = (tf.TensorSpec((None, HEIGHT, WIDTH, CHANNELS), tf.float32),
                 tf.TensorSpec((None,), tf.int32))
"""

_OPENCV_MAP = """    def decode(index):
        image = tf.numpy_function(lambda i: load(paths[i]), [index],
                                  tf.float32)
        image = tf.ensure_shape(image, (HEIGHT, WIDTH, CHANNELS))
        return image, tf.gather(labels, index)

    indices = tf.data.Dataset.range(len(paths))
    samples = indices.map(decode, num_parallel_calls=AUTOTUNE)
"""

_TF_DECODE = """    def decode(item, label):  # read and decoded by TensorFlow's own ops
        return decode_item(item), label

    samples = stored_samples().map(decode, num_parallel_calls=AUTOTUNE)
"""

_DATA_KEY = """

def data_key():
    \"\"\"The files, their sizes and times, and the sample's shape, hashed: a
    cache made from other data is never read back.\"\"\"
    digest = hashlib.sha256(repr((HEIGHT, WIDTH, CHANNELS)).encode())
    for path in DATA_FILES:
        stat = os.stat(path)
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\\n".encode())
    return digest.hexdigest()[:16]
"""

_PYDATASET = """class Images(keras.utils.PyDataset):
    def __len__(self):
        return -(-len(paths) // BATCH)

    def __getitem__(self, index):
        part = slice(index * BATCH, (index + 1) * BATCH)
        return np.stack([load(p) for p in paths[part]]), labels[part]


"""

SNIPPETS = {
    "preload": """def make_dataset():
    # The whole decoded dataset in memory: it must fit in RAM.
    images = np.stack([load(path) for path in paths])
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    return dataset.batch(BATCH).prefetch(AUTOTUNE)
""",
    "generator": """def make_dataset():
"""
    + _BATCHES
    + _SIGNATURE
    + """    return tf.data.Dataset.from_generator(batches, output_signature=signature)
""",
    "generator_prefetch": """def make_dataset():
"""
    + _BATCHES
    + _SIGNATURE
    + """    dataset = tf.data.Dataset.from_generator(batches,
                                             output_signature=signature)
    return dataset.prefetch(AUTOTUNE)
""",
    "multiprocessing": """import multiprocessing

WORKERS = 2


def make_dataset():
    # spawn: never fork a process that has imported TensorFlow.
    pool = multiprocessing.get_context("spawn").Pool(WORKERS)

    def decode(start):
        return pool.map_async(load, paths[start:start + BATCH])

    def batches():
        starts = range(0, len(paths), BATCH)
        pending = [decode(start) for start in starts[:2]]
        for number, start in enumerate(starts):
            if number + 2 < len(starts):  # keep two batches decoding ahead
                pending.append(decode(starts[number + 2]))
            yield np.stack(pending.pop(0).get()), labels[start:start + BATCH]

"""
    + _SIGNATURE
    + """    dataset = tf.data.Dataset.from_generator(batches,
                                             output_signature=signature)
    return dataset.prefetch(AUTOTUNE)
""",
    "cache": """def make_dataset():
"""
    + _OPENCV_MAP
    + """    # Decoded once, then served from memory: it must fit in RAM.
    return samples.cache().batch(BATCH).prefetch(AUTOTUNE)
""",
    "threaded_generator": """from concurrent.futures import ThreadPoolExecutor

WORKERS = 2


def make_dataset():
    pool = ThreadPoolExecutor(WORKERS)

    def decode(start):
        return [pool.submit(load, p) for p in paths[start:start + BATCH]]

    def batches():
        starts = list(range(0, len(paths), BATCH))
        pending = decode(starts[0])
        for number, start in enumerate(starts):
            # The next batch decodes while this one is consumed.
            last = number + 1 == len(starts)
            ahead = [] if last else decode(starts[number + 1])
            images = np.stack([future.result() for future in pending])
            yield images, labels[start:start + BATCH]
            pending = ahead

"""
    + _SIGNATURE
    + """    return tf.data.Dataset.from_generator(batches, output_signature=signature)
""",
    "parallel_map": """def make_dataset():
"""
    + _TF_DECODE
    + """    return samples.batch(BATCH).prefetch(AUTOTUNE)
""",
    "parallel_map_opencv": """def make_dataset():
"""
    + _OPENCV_MAP
    + """    return samples.batch(BATCH).prefetch(AUTOTUNE)
""",
    "tfrecord": """import hashlib

SHARDS = "."  # a folder on a disk with room for the samples again
"""
    + _DATA_KEY
    + """

def example(entry, label):
    feature = {
        "image": tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[stored_bytes(entry)])),
        "label": tf.train.Feature(
            int64_list=tf.train.Int64List(value=[label])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_shards(folder, count=8):
    staging = pathlib.Path(f"{folder}.partial")
    staging.mkdir(exist_ok=True)
    for shard in range(count):
        name = f"{staging}/part-{shard:04d}.tfrecord"
        with tf.io.TFRecordWriter(name) as writer:
            for path, label in list(zip(paths, labels))[shard::count]:
                writer.write(example(path, int(label)).SerializeToString())
    staging.rename(folder)  # whole or not at all


def make_dataset():
    # Named after the data: shards written from other data are never read.
    shards = f"{SHARDS}/shards-{data_key()}"
    if not pathlib.Path(shards).exists():
        write_shards(shards)
    features = {"image": tf.io.FixedLenFeature([], tf.string),
                "label": tf.io.FixedLenFeature([], tf.int64)}

    def decode(record):
        parsed = tf.io.parse_single_example(record, features)
        label = tf.cast(parsed["label"], tf.int32)
        return decode_bytes(parsed["image"]), label

    files = tf.data.Dataset.list_files(f"{shards}/*.tfrecord", shuffle=False)
    records = files.interleave(tf.data.TFRecordDataset, cycle_length=4,
                               num_parallel_calls=AUTOTUNE)
    samples = records.map(decode, num_parallel_calls=AUTOTUNE)
    return samples.batch(BATCH).prefetch(AUTOTUNE)
""",
    "cache_file": """import hashlib

CACHES = "."  # a folder on a disk with room for the whole decoded dataset
"""
    + _DATA_KEY
    + """

def make_dataset():
"""
    + _OPENCV_MAP
    + """    # Decoded in the first epoch, read back from the file in every later one;
    # named after the data, as tf.data reads a cache file whatever it holds.
    cache = f"{CACHES}/decoded-{data_key()}.cache"
    return samples.cache(cache).batch(BATCH).prefetch(AUTOTUNE)
""",
    "snapshot": """import hashlib

SNAPSHOTS = "."  # a folder on a disk with room for the decoded dataset
"""
    + _DATA_KEY
    + """

def make_dataset():
    snapshot = f"{SNAPSHOTS}/decoded-snapshot-{data_key()}"
    if not pathlib.Path(snapshot).exists():
"""
    + textwrap.indent(_OPENCV_MAP, "    ")
    + """        samples.save(snapshot)
    return tf.data.Dataset.load(snapshot).batch(BATCH).prefetch(AUTOTUNE)
""",
    "pydataset": """import keras


"""
    + _PYDATASET
    + """def make_dataset():
    # Model.fit runs __getitem__ in a pool of 2 threads.
    return Images(workers=2, use_multiprocessing=False, max_queue_size=10)
""",
    "pydataset_processes": """import multiprocessing

import keras


"""
    + _PYDATASET
    + """def make_dataset():
    # Keras starts its pool from the default context, fork on Linux: never
    # fork a process that has imported TensorFlow.
    multiprocessing.set_start_method("spawn", force=True)
    return Images(workers=2, use_multiprocessing=True, max_queue_size=10)
""",
    "data_service": """DISPATCHER = "grpc://HOST:PORT"  # your tf.data service cluster's dispatcher
# Endless, one job for every epoch: model.fit(dataset, steps_per_epoch=STEPS)
STEPS = -(-len(paths) // BATCH)


def make_dataset():
    def decode(path):
        data = tf.io.read_file(path)
        image = tf.io.decode_image(data, channels=CHANNELS,
                                   expand_animations=False)
        image = tf.image.resize(image, (HEIGHT, WIDTH), method="area")
        return tf.cast(tf.floor(image + 0.5), tf.uint8)  # a quarter the bytes

    files, classes = tf.constant(paths), tf.constant(labels)

    def batch_of(chunk):  # a worker decodes and batches a batch's worth
        low = chunk * BATCH
        high = tf.minimum(low + BATCH, len(paths))
        images = tf.data.Dataset.from_tensor_slices(files[low:high])
        images = images.map(decode).batch(BATCH)
        return tf.data.Dataset.zip(
            (images, tf.data.Dataset.from_tensors(classes[low:high])))

    # Each split the dispatcher hands out is one chunk: one request a batch.
    chunks = tf.data.Dataset.range(STEPS).repeat()
    batches = chunks.interleave(batch_of, cycle_length=4, num_parallel_calls=4,
                                deterministic=False)
    service = tf.data.experimental.service
    distributed = batches.apply(service.distribute(
        service.ShardingPolicy.DYNAMIC, DISPATCHER, compression=None))
    scaled = distributed.map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y))
    return scaled.prefetch(AUTOTUNE)
""",
}
