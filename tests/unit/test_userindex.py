"""The index of a user's data in the cache, damaged or edited after it was built, is never used as
it is.

A folder of images (tests.userfiles) is indexed once; then, one at a time, its index file is cut
short, its labels or paths are changed in a valid file, its summary or settled spec is cut or
edited, or a file is deleted. Preparing the data again must build the index anew from the user's
files: the labels read back are then those the class folders give, as a fresh index has them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from profiler.base.errors import ProfilerError
from profiler.data import user_data
from profiler.data.synthetic import DataSpec
from profiler.data.user_data import SUMMARY, prepare_user_data
from profiler.data.user_scan import locate
from tests import userfiles


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return userfiles.image_folder(tmp_path_factory.mktemp("user") / "photos", with_bad=False)


def _spec(folder: Path) -> DataSpec:
    kind, located = locate(str(folder))
    return DataSpec(kind=kind, path=located, samples=0, height=16, width=16)


# The truth, from the folders themselves: each good file's label is its class folder's place in
# order.
def _truth(folder: Path) -> dict[str, int]:
    return {
        str((folder / label / name).resolve()): userfiles.CLASSES.index(label)
        for label, name, _, _ in userfiles.GOOD
    }


def _read(source) -> dict[str, int]:
    return dict(zip(source.image_paths(), source.labels.tolist(), strict=True))


@pytest.fixture
def built(folder, tmp_path, monkeypatch):
    """The index built once; ``builds`` counts every build after that."""
    cache = tmp_path / "cache"
    source = prepare_user_data(_spec(folder), cache)
    assert _read(source) == _truth(folder)
    builds = []
    real = user_data._build
    monkeypatch.setattr(user_data, "_build", lambda *args: builds.append(1) or real(*args))
    return source.root, cache, builds


def _rewrite_index(root: Path, **changed: np.ndarray) -> None:
    with np.load(root / "index.npz") as index:
        arrays = {name: index[name] for name in index.files}
    arrays.update(changed)
    np.savez(root / "index.npz", **arrays)


def test_an_untouched_index_is_reused_without_building_it_again(built, folder):
    root, cache, builds = built
    (root / "fingerprint-v3-derived.json").write_text("{}")  # files derived later are no damage
    source = prepare_user_data(_spec(folder), cache)
    assert source.root == root and builds == [] and _read(source) == _truth(folder)
    assert (root / "fingerprint-v3-derived.json").exists()


def _cut_index(root: Path) -> None:
    data = (root / "index.npz").read_bytes()
    (root / "index.npz").write_bytes(data[: len(data) // 2])


def _other_labels(root: Path) -> None:
    with np.load(root / "index.npz") as index:
        labels = index["labels"]
    # a valid file, every label wrong
    _rewrite_index(root, labels=(labels + 1) % len(userfiles.CLASSES))


def _other_paths(root: Path) -> None:
    with np.load(root / "index.npz") as index:
        paths = index["paths"]
    _rewrite_index(root, paths=np.array(paths[::-1]))  # the same files, their labels swapped about


def _cut_summary(root: Path) -> None:
    (root / SUMMARY).write_text((root / SUMMARY).read_text()[:20])


def _edited_summary(root: Path) -> None:
    summary = json.loads((root / SUMMARY).read_text())
    (root / SUMMARY).write_text(json.dumps({**summary, "skipped_files": 7}))


def _edited_spec(root: Path) -> None:
    settled = json.loads((root / "spec.json").read_text())
    (root / "spec.json").write_text(json.dumps({**settled, "samples": settled["samples"] - 3}))


def _deleted(name: str):
    return lambda root: (root / name).unlink()


@pytest.mark.parametrize(
    "damage",
    [
        _cut_index,
        _other_labels,
        _other_paths,
        _cut_summary,
        _edited_summary,
        _edited_spec,
        _deleted("index.npz"),
        _deleted(SUMMARY),
        _deleted("spec.json"),
    ],
    ids=[
        "index cut short",
        "labels edited",
        "paths edited",
        "summary cut short",
        "summary edited",
        "spec edited",
        "index deleted",
        "summary deleted",
        "spec deleted",
    ],
)
def test_a_damaged_or_edited_index_is_built_again_from_the_data(built, folder, damage):
    root, cache, builds = built
    # derived from the index: must go with it
    (root / "fingerprint-v3-derived.json").write_text("{}")
    damage(root)
    source = prepare_user_data(_spec(folder), cache)
    assert builds == [1]
    assert _read(source) == _truth(folder) and source.num_samples == len(userfiles.GOOD)
    assert source.summary().skipped_files == 0
    assert not (source.root / "fingerprint-v3-derived.json").exists()
    # Built again, it is whole: the next run reuses it.
    assert _read(prepare_user_data(_spec(folder), cache)) == _truth(folder) and builds == [1]


def test_an_index_that_cannot_be_removed_is_refused_naming_the_folder(built, folder, monkeypatch):
    root, cache, _ = built
    _other_labels(root)

    def cannot(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(user_data.shutil, "rmtree", cannot)
    with pytest.raises(
        ProfilerError, match=r"index of .* is damaged.*remove the folder"
    ) as refused:
        prepare_user_data(_spec(folder), cache)
    assert str(root) in str(refused.value) and "\n" not in str(refused.value)
