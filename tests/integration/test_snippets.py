"""The code printed for a pick runs as printed: each built-in's script, on a folder of images with a
subfolder per class, on TFRecord files and on a .npy pair, delivers the samples that load()
decodes, every one once, and load() decodes them as the profiler did."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from profiler.reporters.advice import script_for
from profiler.reporters.script_headers import ScriptData
from scenarios._snippets import SNIPPETS

# Needs a tf.data service cluster to connect to: measured by the data_service scenario instead.
NOT_RUN_HERE = {"data_service"}

CHECK = """

def report(dataset):
    if isinstance(dataset, tf.data.Dataset):
        batches = [(np.asarray(x), np.asarray(y)) for x, y in dataset]
    else:  # a keras.utils.PyDataset: Model.fit indexes it
        batches = [dataset[i] for i in range(len(dataset))]
    images = np.concatenate([b[0] for b in batches])
    found = np.concatenate([b[1] for b in batches])
    expected = np.stack([load(p) for p in paths])
    np.save("loaded.npy", expected)  # for the test to hold against the profiler's own decode
    # Each delivered image against each decoded one: the closest must be a different one for each.
    pairs = images.reshape(len(images), 1, -1) - expected.reshape(1, len(expected), -1)
    distance = np.abs(pairs).max(axis=2)
    closest = distance.argmin(axis=1)
    distinct = len(set(closest.tolist())) == len(expected)
    difference = float(distance.min(axis=1).max()) if distinct else 1.0
    print(json.dumps({"first": list(batches[0][0].shape), "dtype": str(images.dtype),
                      "samples": len(images), "paths": paths,
                      "labels": sorted(found.tolist()), "expected": sorted(labels.tolist()),
                      "order": closest.tolist(), "difference": difference,
                      "labels_right": bool((found == labels[closest]).all())}))
"""


def _photos(root: Path, classes: tuple[str, ...], seed: int) -> Path:
    """Images in a folder per class (5, 6, ... of them) and, beside them, what a real folder holds:
    a .DS_Store, a text file named .jpg, an empty .png, a PNG cut short, and a hidden folder."""
    import cv2

    root.mkdir()
    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        (root / name).mkdir()
        for number in range(5 + label):
            cv2.imwrite(
                str(root / name / f"{number}.png"),
                rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
            )
    first = root / classes[0]
    (first / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (first / "notes.jpg").write_text("not an image")
    (first / "empty.png").write_bytes(b"")
    whole = (first / "0.png").read_bytes()
    (first / "cut.png").write_bytes(whole[: len(whole) // 2])
    (root / ".thumbnails").mkdir()
    return root


@dataclass(frozen=True)
class Measured:
    """A folder and what the profiler read of it: the files it measured and those it left out."""

    root: Path
    paths: tuple[str, ...]
    skipped: tuple[str, ...]

    @property
    def data(self) -> ScriptData:
        return ScriptData("folder", str(self.root), self.skipped)


def _measured(root: Path, cache: Path) -> Measured:
    from profiler.data.synthetic import DataSpec
    from profiler.data.user_data import prepare_user_data

    source = prepare_user_data(DataSpec(path=str(root), samples=0), cache)
    return Measured(root, tuple(source.image_paths()), source.summary().skipped_paths)


# The printed script's own main runs, and hands its dataset to a check in place of training.
MAIN = '\nif __name__ == "__main__":'
TRAINING = "    # model.fit(dataset, epochs=...)"


def _script(
    snippet: str, measured: Measured, channels: int, check: str, shuffle_buffer: int = 0
) -> str:
    script = script_for(snippet, 16, 16, channels, 4, measured.data, shuffle_buffer, 7)
    main = script.index(MAIN)
    assert script.count(TRAINING) == 1
    return (
        "import json\n"
        + script[:main]
        + check
        + script[main:].replace(TRAINING, "    report(dataset)")
    )


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory: pytest.TempPathFactory) -> Measured:
    root = _photos(
        tmp_path_factory.mktemp("photos") / 'my "best" photos\\2026', ("cats", "dogs"), 3
    )
    measured = _measured(root, tmp_path_factory.mktemp("cache"))
    # The text file, the empty file and the cut PNG do not decode; the .DS_Store is no image.
    assert len(measured.paths) == 11 and len(measured.skipped) == 3, measured
    return measured


# Grey images through the strategies that decode in different ways: OpenCV, TensorFlow, TFRecords.
GREY = ("generator", "parallel_map", "tfrecord", "snapshot")


@pytest.mark.parametrize(
    ("name", "channels"),
    [(name, 3) for name in sorted(set(SNIPPETS) - NOT_RUN_HERE)] + [(name, 1) for name in GREY],
)
def test_the_snippet_runs_and_delivers_the_folder(name, channels, class_folder, tmp_path):
    script = tmp_path / "pipeline.py"
    # A folder name that must be quoted as Python: a quote, a backslash and a space.
    script.write_text(_script(SNIPPETS[name], class_folder, channels, CHECK))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["first"] == [4, 16, 16, channels] and report["dtype"] == "float32"
    assert report["samples"] == 11 and report["labels"] == report["expected"] == [0] * 5 + [1] * 6
    assert report["paths"] == list(class_folder.paths)  # the files the profiler measured
    # The same pixels as load() (TensorFlow's decoders may round one level apart at a 2x area
    # resize).
    assert report["difference"] <= 1.01 / 255
    _decoded_as_measured(tmp_path / "loaded.npy", _source(str(class_folder.root), channels))


def _source(data: str, channels: int = 3):
    """The user's data as the profiler indexes it for a run at 16x16."""
    from profiler.data.synthetic import DataSpec
    from profiler.data.user_data import prepare_user_data
    from profiler.data.user_scan import locate

    kind, path = locate(data)
    spec = DataSpec(kind=kind, path=path, samples=0, height=16, width=16, channels=channels)
    return prepare_user_data(spec, Path(data.split(",")[0].split("*")[0]).parent / "index")


def _decoded_as_measured(loaded: Path, source) -> None:
    """The script's load() gives the pixels the profiler's strategies delivered, sample by
    sample."""
    theirs = np.stack([source.load_sample(i) for i in range(source.num_samples)])
    mine = np.load(loaded)
    assert mine.shape == theirs.shape
    assert np.abs(mine - theirs).max() <= 1e-6


CHECK_ENDLESS = """

def report(dataset):
    batches = [(np.asarray(x), np.asarray(y)) for x, y in dataset.take(3 * STEPS)]
    images = np.concatenate([b[0] for b in batches])
    found = np.concatenate([b[1] for b in batches])
    expected = np.stack([load(p) for p in paths])
    pairs = images.reshape(len(images), 1, -1) - expected.reshape(1, len(expected), -1)
    distance = np.abs(pairs).max(axis=2)
    closest = distance.argmin(axis=1)
    print(json.dumps({"first": list(batches[0][0].shape), "dtype": str(images.dtype),
                      "counts": np.bincount(closest, minlength=len(expected)).tolist(),
                      "labels_right": bool((found == labels[closest]).all()),
                      "difference": float(distance.min(axis=1).max())}))
"""


def test_the_data_service_snippet_serves_every_sample_once_an_epoch_from_two_workers(
    class_folder, tmp_path
):
    from scenarios._service_cluster import LocalCluster

    script = tmp_path / "pipeline.py"
    cluster = LocalCluster(workers=2).start()
    try:
        snippet = SNIPPETS["data_service"].replace("grpc://HOST:PORT", cluster.target)
        script.write_text(_script(snippet, class_folder, 3, CHECK_ENDLESS))
        done = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=240
        )
    finally:
        cluster.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["first"][1:] == [16, 16, 3] and report["dtype"] == "float32"
    # Three epochs of 11 samples: each sample three times, give or take the chunks that a worker
    # still held when the next epoch's came first; two workers that each served every sample would
    # give six.
    assert sum(report["counts"]) >= 3 * 11 - 4 and all(
        2 <= count <= 4 for count in report["counts"]
    ), report
    assert report["labels_right"]
    assert report["difference"] <= 1.01 / 255


@pytest.mark.parametrize("name", ["cache_file", "snapshot"])
def test_a_cache_made_from_one_folder_is_never_read_for_another(name, class_folder, tmp_path):
    # The same script, in the same folder, pointed at another folder after one epoch of the first:
    # it delivers the second folder's samples, not the first's from the cache it left.
    other = _measured(_photos(tmp_path / "other", ("a", "b", "c"), 9), tmp_path / "cache")
    reports = []
    for measured in (class_folder, other):
        script = tmp_path / "pipeline.py"
        script.write_text(_script(SNIPPETS[name], measured, 3, CHECK))
        done = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, done.stderr[-3000:]
        reports.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert reports[0]["samples"] == 11 and reports[1]["samples"] == 5 + 6 + 7
    assert reports[1]["labels"] == reports[1]["expected"] == [0] * 5 + [1] * 6 + [2] * 7
    assert reports[1]["difference"] <= 1.01 / 255  # its own pixels, not the first folder's


@pytest.mark.parametrize("name", ["generator_prefetch", "parallel_map"])
def test_a_run_with_a_shuffle_buffer_prints_a_script_that_shuffles_the_same_samples(
    name, class_folder, tmp_path
):
    script = tmp_path / "pipeline.py"
    script.write_text(_script(SNIPPETS[name], class_folder, 3, CHECK, shuffle_buffer=64))
    assert ".unbatch().shuffle(64, seed=7).batch(BATCH)" in script.read_text()
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # Every sample once, its label with it, in another order than the files' (both strategies
    # deliver the files' order unshuffled: their snippets map in order).
    assert report["samples"] == 11 and report["labels"] == report["expected"]
    assert report["labels_right"]
    assert sorted(report["order"]) == list(range(11)) and report["order"] != list(range(11))
    assert report["difference"] <= 1.01 / 255


def _kinds(form: str) -> list[str]:
    from profiler.strategy.registry import registered

    return sorted(name for name, scenario in registered().items() if form in scenario.data_kinds)


# The scripts that decode with TensorFlow's ops, where OpenCV's load() is only the reference.
TF_DECODED = {"parallel_map", "tfrecord"}


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> str:
    """TFRecord shards of the user-data photos (three of their records do not decode), a copy of
    one whose payload fails its checksum, and one cut short: TFRecordDataset fails on both."""
    from tests import userfiles

    root = userfiles.record_shards(tmp_path_factory.mktemp("records") / "shards")
    whole = (root / "train-00.tfrecord").read_bytes()
    damaged = bytearray(whole)
    damaged[len(whole) // 2] ^= 0x01
    (root / "train-02.tfrecord").write_bytes(bytes(damaged))
    (root / "train-03.tfrecord").write_bytes(whole[:-9])
    return str(root / "*.tfrecord")


@pytest.mark.parametrize("name", sorted(set(_kinds("records")) - NOT_RUN_HERE))
def test_the_script_on_tfrecords_delivers_the_records_measured(name, records, tmp_path):
    source = _source(records)
    spec, summary = source.spec, source.summary()
    data = ScriptData("tfrecord", spec.path, summary.skipped_paths, spec.image_key, spec.label_key)
    done = _ran(script_for(SNIPPETS[name], 16, 16, 3, 4, data), tmp_path)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    files, _, _ = source.record_plan()
    index = source._index()
    measured = [[files[f], int(o)] for f, o in zip(index["files"], index["offsets"], strict=True)]
    assert [entry[:2] for entry in report["paths"]] == measured  # the same records, in order
    assert report["samples"] == source.num_samples == 10
    assert report["labels"] == report["expected"] == sorted(source.labels.tolist())
    # These photos shrink by factors that are not whole numbers (120x90 to 16x16), where
    # TensorFlow's area resize rounds a few levels apart from OpenCV's.
    allowed = 8 / 255 if name in TF_DECODED else 1.01 / 255
    assert report["labels_right"] and report["difference"] <= allowed
    _decoded_as_measured(tmp_path / "loaded.npy", source)


@pytest.fixture(scope="module")
def arrays(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests import userfiles

    images, labels = userfiles.npy_pair(tmp_path_factory.mktemp("arrays") / "npy", count=13)
    return f"{images},{labels}"


@pytest.mark.parametrize("name", _kinds("arrays"))
def test_the_script_on_arrays_delivers_the_rows_measured(name, arrays, tmp_path):
    source = _source(arrays)
    done = _ran(script_for(SNIPPETS[name], 16, 16, 3, 4, ScriptData("npy", arrays)), tmp_path)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["paths"] == list(range(13)) and report["samples"] == source.num_samples == 13
    assert report["labels"] == report["expected"] == sorted(source.labels.tolist())
    assert report["labels_right"] and report["difference"] <= 1e-6
    _decoded_as_measured(tmp_path / "loaded.npy", source)


def _ran(script: str, folder: Path) -> subprocess.CompletedProcess:
    main = script.index(MAIN)
    path = folder / "pipeline.py"
    path.write_text(
        "import json\n"
        + script[:main]
        + CHECK
        + script[main:].replace(TRAINING, "    report(dataset)")
    )
    done = subprocess.run(
        [sys.executable, str(path)], cwd=folder, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
