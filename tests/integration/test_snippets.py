"""The code printed for a pick runs as printed: each built-in's script, on a folder of images with a
subfolder per class, delivers the samples that load() decodes, every one once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from profiler.reporters.advice import script_for
from scenarios._snippets import SNIPPETS

# Needs a tf.data service cluster to connect to: measured by the data_service scenario instead.
NOT_RUN_HERE = {"data_service"}

CHECK = """

if __name__ == "__main__":
    dataset = make_dataset()
    if isinstance(dataset, tf.data.Dataset):
        batches = [(np.asarray(x), np.asarray(y)) for x, y in dataset]
    else:  # a keras.utils.PyDataset: Model.fit indexes it
        batches = [dataset[i] for i in range(len(dataset))]
    images = np.concatenate([b[0] for b in batches])
    found = np.concatenate([b[1] for b in batches])
    expected = np.stack([load(p) for p in paths])
    # Each delivered image against each decoded one: the closest must be a different one for each.
    pairs = images.reshape(len(images), 1, -1) - expected.reshape(1, len(expected), -1)
    distance = np.abs(pairs).max(axis=2)
    closest = distance.argmin(axis=1)
    distinct = len(set(closest.tolist())) == len(expected)
    difference = float(distance.min(axis=1).max()) if distinct else 1.0
    print(json.dumps({"first": list(batches[0][0].shape), "dtype": str(images.dtype),
                      "samples": len(images),
                      "labels": sorted(found.tolist()), "expected": sorted(labels.tolist()),
                      "difference": difference}))
"""


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import cv2

    root = tmp_path_factory.mktemp("photos") / 'my "best" photos\\2026'
    root.mkdir()
    rng = np.random.default_rng(3)
    for label, name in enumerate(("cats", "dogs")):
        (root / name).mkdir()
        for number in range(5 + label):
            cv2.imwrite(
                str(root / name / f"{number}.png"),
                rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
            )
    return root


# Grey images through the strategies that decode in different ways: OpenCV, TensorFlow, TFRecords.
GREY = ("generator", "parallel_map", "tfrecord", "snapshot")


@pytest.mark.parametrize(
    ("name", "channels"),
    [(name, 3) for name in sorted(set(SNIPPETS) - NOT_RUN_HERE)] + [(name, 1) for name in GREY],
)
def test_the_snippet_runs_and_delivers_the_folder(name, channels, class_folder, tmp_path):
    script = tmp_path / "pipeline.py"
    # A folder name that must be quoted as Python: a quote, a backslash and a space.
    script.write_text(
        "import json\n"
        + script_for(SNIPPETS[name], 16, 16, channels, 4, str(class_folder)).replace(
            'if __name__ == "__main__":\n    dataset = make_dataset()\n    # model.fit(dataset, '
            "epochs=...)\n",
            "",
        )
        + CHECK
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["first"] == [4, 16, 16, channels] and report["dtype"] == "float32"
    assert report["samples"] == 11 and report["labels"] == report["expected"] == [0] * 5 + [1] * 6
    # The same pixels as load() (TensorFlow's decoders may round one level apart at a 2x area
    # resize).
    assert report["difference"] <= 1.01 / 255


CHECK_ENDLESS = """

if __name__ == "__main__":
    dataset = make_dataset()
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
        script.write_text(
            "import json\n"
            + script_for(snippet, 16, 16, 3, 4, str(class_folder)).replace(
                'if __name__ == "__main__":\n    dataset = make_dataset()\n    # model.fit('
                "dataset, epochs=...)\n",
                "",
            )
            + CHECK_ENDLESS
        )
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
