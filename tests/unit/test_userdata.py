"""A user's own data, without TensorFlow: finding it, indexing it, bad files, subsets, cold
reads."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from profiler.base.errors import ProfilerError
from profiler.data.fingerprint import dataset_fingerprint
from profiler.data.sample_work import augment_parameters, augmented
from profiler.data.synthetic import DataSpec
from profiler.data.tfrecord_reader import (
    DamagedRecords,
    feature_keys,
    framed_records,
    parse_example,
    record_offsets,
)
from profiler.data.user_data import BadFile, count_samples, prepare_user_data
from profiler.data.user_scan import DataNotFound, list_folder, locate
from profiler.drivers.kept_results import _with_data_changes
from profiler.results.records import ScenarioResult
from profiler.system.page_cache import drop, resident_fraction
from profiler.worker import loops
from profiler.worker.loops import BatchStream, flat_out_window
from tests import userfiles
from tests.fakes import VirtualTime


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("user-data")
    folder = userfiles.image_folder(root / "folder")
    records = userfiles.record_shards(root / "records")
    images, labels = userfiles.npy_pair(root / "npy")
    return {"root": root, "folder": folder, "records": records, "images": images, "labels": labels}


def _prepare(path: str, cache: Path, samples: int = 0, **fields) -> object:
    kind, located = locate(path)
    spec = DataSpec(
        kind=kind, path=located, samples=samples, **{"height": 32, "width": 32, **fields}
    )
    return prepare_user_data(spec, cache)


def test_locate_tells_the_kinds_apart(made):
    assert locate(str(made["folder"])) == ("folder", str(made["folder"].resolve()))
    assert locate(str(made["records"] / "*.tfrecord"))[0] == "tfrecord"
    assert locate(str(made["records"]))[0] == "tfrecord"  # a folder of TFRecords only
    assert locate(str(made["images"])) == ("npy", f"{made['images']},{made['labels']}")
    for missing in (made["root"] / "nothing", made["root"] / "none-*.tfrecord"):
        with pytest.raises(DataNotFound):
            locate(str(missing))


def test_class_subfolders_give_sorted_labels_and_nested_files_count(made):
    paths, labels, classes = list_folder(made["folder"])
    assert classes == 3
    names = [Path(p).relative_to(made["folder"]).as_posix() for p in paths]
    assert "birds/deep/b3.jpeg" in names and "README.txt" not in names
    expected = {
        f"{label}/{name}": userfiles.CLASSES.index(label) for label, name, _, _ in userfiles.GOOD
    }
    expected.update(
        {f"{label}/{name}": userfiles.CLASSES.index(label) for label, name in userfiles.BAD}
    )
    assert dict(zip(names, labels, strict=True)) == expected


def test_bad_files_are_skipped_and_named(made, tmp_path):
    source = _prepare(str(made["folder"]), tmp_path)
    summary = source.summary()
    assert source.num_samples == len(userfiles.GOOD) and summary.found == len(userfiles.GOOD) + len(
        userfiles.BAD
    )
    assert summary.skipped_files == len(userfiles.BAD)
    assert sorted(Path(e.split(":")[0]).name for e in summary.skipped_examples) == sorted(
        n for _, n in userfiles.BAD
    )
    assert set(summary.formats) == {"JPEG", "PNG", "BMP", "WebP"}
    assert source.load_sample(0).shape == (32, 32, 3)
    spec = DataSpec(kind="folder", path=str(made["folder"]), samples=0, height=32, width=32)
    # met while indexing, or read from the index built before
    for cache in (
        tmp_path / "fresh",
        tmp_path,
    ):
        with pytest.raises(BadFile, match=r"could not decode.*--on-bad-file skip"):
            prepare_user_data(spec, cache, on_bad_file="fail")


def test_records_hold_the_same_samples_as_the_folder(made, tmp_path):
    folder = _prepare(str(made["folder"]), tmp_path)
    records = _prepare(str(made["records"] / "*.tfrecord"), tmp_path)
    assert (
        records.spec.image_key == "image/encoded" and records.spec.label_key == "image/class/label"
    )
    assert records.summary().skipped_files == len(userfiles.BAD)
    # Order-independent checksums: the same pixels and labels, though the records are interleaved.
    assert dataset_fingerprint(records, 4) == dataset_fingerprint(folder, 4)


def test_feature_keys_found_named_or_refused():
    payload = userfiles.example(
        {"jpeg": userfiles.encode(userfiles.photo(8, 8, 1), ".jpg"), "y": 3, "z": 4}
    )
    features = parse_example(payload)
    assert features["y"].values == (3,) and features["jpeg"].kind == "bytes"
    with pytest.raises(ValueError, match="--label-key"):
        feature_keys(features, "", "")
    assert feature_keys(features, "", "z") == ("jpeg", "z")
    with pytest.raises(ValueError, match="no feature 'label'"):
        feature_keys(features, "", "label")


def test_record_offsets_and_a_file_cut_short(made, tmp_path):
    shard = made["records"] / "train-00.tfrecord"
    assert len(list(record_offsets(shard))) == 7  # 13 samples over 2 shards
    (tmp_path / "a.tfrecord").write_bytes((made["records"] / "train-01.tfrecord").read_bytes())
    (tmp_path / "b.tfrecord").write_bytes(shard.read_bytes()[:-10])
    source = _prepare(str(tmp_path / "*.tfrecord"), tmp_path / "cache")
    summary = source.summary()
    # train-01 holds 6 samples, 1 of them bad; the cut file's 7 records (the last one cut) are
    # all lost to a reader that stops at the cut, and counted so.
    assert (source.num_samples, summary.skipped_files, summary.found) == (5, 8, 13)
    assert any("cannot be read to its end" in example for example in summary.skipped_examples)


def test_a_record_that_fails_its_checksum_leaves_its_file_out(made, tmp_path):
    whole = (made["records"] / "train-00.tfrecord").read_bytes()
    (tmp_path / "a.tfrecord").write_bytes((made["records"] / "train-01.tfrecord").read_bytes())
    payload_damaged = bytearray(whole)
    payload_damaged[len(whole) // 2] ^= 0x01  # inside some record's payload
    (tmp_path / "b.tfrecord").write_bytes(bytes(payload_damaged))
    length_damaged = bytearray(whole)
    length_damaged[0] ^= 0x01  # the first record's length, its own checksum left as it was
    (tmp_path / "c.tfrecord").write_bytes(bytes(length_damaged))
    for name, damage in (("b", "does not match its checksum"), ("c", "length at byte 0")):
        with pytest.raises(DamagedRecords, match=damage):
            list(record_offsets(tmp_path / f"{name}.tfrecord"))
    source = _prepare(str(tmp_path / "*.tfrecord"), tmp_path / "cache")
    summary = source.summary()
    # train-01's 6 records, 1 of them bad; every record of the copy with a bad payload (7); of the
    # copy whose first length is damaged, what its framing still shows.
    shown = framed_records(tmp_path / "c.tfrecord")
    assert 1 <= shown <= 7
    assert (source.num_samples, summary.skipped_files) == (5, 1 + 7 + shown)
    # each damaged file named once, however many records it held
    assert sum("a checksum" in example for example in summary.skipped_examples) == 2


def test_files_rewritten_or_removed_after_indexing_are_named(made, tmp_path):
    folder = shutil.copytree(made["folder"], tmp_path / "photos")
    source = _prepare(str(folder), tmp_path / "cache")
    assert source.changed_files() == []
    first, second = source.image_paths()[:2]
    # the same size and the same time, other bytes: only the time of change tells
    before = os.stat(first)
    Path(first).write_bytes(bytes(before.st_size))
    os.utime(first, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.remove(second)
    assert source.changed_files() == [first, second]
    failed = ScenarioResult(name="generator", status="failed", error="OSError: OpenCV could not")
    said = _with_data_changes(failed, source).error
    assert said.startswith("OSError: OpenCV could not; 2 of your data's files changed or vanished")
    assert first in said
    # and the next run indexes the data anew, the rewritten file now a bad one
    again = _prepare(str(folder), tmp_path / "cache")
    assert again.root != source.root and first not in again.image_paths()
    assert _with_data_changes(failed, again) == failed


def test_a_fifo_named_like_an_image_is_a_bad_file_never_opened(made, tmp_path):
    folder = shutil.copytree(made["folder"], tmp_path / "photos")
    os.mkfifo(folder / "cats" / "pipe.jpg")  # opened for reading, it would wait for a writer
    source = _prepare(str(folder), tmp_path / "cache")
    summary = source.summary()
    assert any("pipe.jpg: not a regular file" in example for example in summary.skipped_examples)
    assert str(folder / "cats" / "pipe.jpg") not in source.image_paths()


def test_subsets_are_seeded_and_nested(made, tmp_path):
    def chosen(samples, seed=0):
        return _prepare(str(made["folder"]), tmp_path, samples=samples, seed=seed).image_paths()

    assert chosen(5) == chosen(5)
    assert set(chosen(4)) <= set(chosen(6))
    assert chosen(5) != chosen(5, seed=1)
    with pytest.raises(ProfilerError, match="pass --samples 10 or fewer"):
        chosen(11)
    assert count_samples(DataSpec(kind="folder", path=str(made["folder"]))) == 13


def test_npy_pair_is_served_at_its_own_size(made, tmp_path):
    kind, located = locate(f"{made['images']},{made['labels']}")
    source = prepare_user_data(
        DataSpec(kind=kind, path=located, samples=0, height=0, width=0), tmp_path
    )
    assert source.spec.sample_shape == (24, 24, 3) and source.num_samples == 40
    stored = np.load(made["images"])
    assert np.array_equal(
        source.load_sample(3), stored[3].astype(np.float32) * np.float32(1.0 / 255.0)
    )
    assert np.array_equal(source.labels, np.load(made["labels"]).astype(np.int32))


def test_augmentation_shifts_and_flips_a_known_pixel():
    spec = DataSpec(height=16, width=16, channels=1, augment=True, seed=5)
    image = np.zeros((16, 16, 1), dtype=np.float32)
    image[8, 8, 0] = 1.0
    for index in range(12):
        shift_y, shift_x, flip = augment_parameters(spec, index)
        assert abs(shift_y) <= 2 and abs(shift_x) <= 2
        out = augmented(image, spec, index)
        column = 8 + shift_x
        assert out[8 + shift_y, 15 - column if flip else column, 0] == 1.0 and out.sum() == 1.0
    assert {augment_parameters(spec, i)[2] for i in range(12)} == {False, True}


def test_drop_empties_the_page_cache_of_those_files_only(tmp_path):
    data, other = tmp_path / "data.bin", tmp_path / "other.bin"
    for path in (data, other):
        path.write_bytes(np.random.default_rng(0).bytes(4 << 20))
        path.read_bytes()
    if resident_fraction([data]) != 1.0:
        pytest.skip("this filesystem keeps no page cache to read (tmpfs?)")
    drop([data])
    assert resident_fraction([data]) == 0.0
    assert resident_fraction([other]) == 1.0
    data.read_bytes()
    assert resident_fraction([data]) == 1.0


def test_the_drop_before_an_epoch_is_left_out_of_the_window(monkeypatch):
    clock = VirtualTime()  # only the sleeps move it: the batches themselves take no time
    monkeypatch.setattr(loops, "time", clock)
    batches = [(np.zeros((2, 1)), np.zeros(2))] * 3
    stream = BatchStream(batches, before_epoch=lambda: clock.sleep(0.3))
    window = flat_out_window(stream, 7)  # three epoch starts: 0.9 s of sleep, none of it timed
    assert window.samples == 14 and window.epochs_ended == 2
    assert window.seconds == 0
    assert stream.untimed_s == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--data", "nothing/here"], "'nothing/here' does not exist: pass an image folder"),
        (["run", "--data", "{folder}", "--image-key", "x"], "--image-key is for TFRecord data"),
        (
            ["run", "--data", "{folder}", "--scenario", "preload", "--on-bad-file", "fail"],
            "could not decode it: pass --on-bad-file skip to leave bad files out",
        ),
        (
            [
                "run",
                "--data",
                "{records}/*.tfrecord",
                "--label-key",
                "nope",
                "--scenario",
                "preload",
            ],
            "the records have no feature 'nope'",
        ),
        (
            ["sweep", "--data", "{folder}", "--samples", "4,20"],
            "--samples 20 is more than the 13 samples in",
        ),
        (
            [
                "sweep",
                "--data",
                "{folder}",
                "--samples",
                "4,6",
                "--batch-size",
                "2",
                "--pipeline",
                "mine:fixed",
            ],
            "mine:fixed takes no 'samples' keyword, through which sweep passes each size: add one",
        ),
    ],
)
def test_bad_data_options_are_one_line_with_exit_2(
    made, tmp_path, monkeypatch, capsys, argv, expected
):
    from profiler.commands import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TF_PIPELINE_PROFILER_CACHE", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "mine.py").write_text(
        "def fixed(batch_size=2):\n    raise AssertionError('never called')\n"
    )
    argv = [arg.format(folder=made["folder"], records=made["records"]) for arg in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], captured.err
    assert not list((tmp_path / "reports").glob("*/results.json")), (
        "nothing measured, nothing saved"
    )


@pytest.mark.parametrize(
    ("images", "labels", "expected"),
    [
        (np.zeros((4, 8, 8, 3), np.uint8), np.zeros(3, np.int64), "has shape (3,)"),
        (np.zeros((4, 8, 8, 3), np.uint8), np.full(4, 0.5), "dtype float64"),
        (np.zeros((4, 8, 8, 3), np.uint8), np.full(4, -1), "labels from -1"),
        (np.zeros((4, 8, 8, 3), np.uint8), np.zeros((4, 2), np.int64), "has shape (4, 2)"),
        (np.zeros((4, 8), np.uint8), np.zeros(4, np.int64), "has shape (4, 8)"),
        (np.zeros((4, 8, 8, 3), np.int64), np.zeros(4, np.int64), "holds int64"),
        (
            np.zeros((4, 8, 8, 3), np.uint8),
            np.array([0, 1, 2, 2**40]),
            "labels from 0 to 1099511627776",
        ),
    ],
)
def test_arrays_that_cannot_be_served_are_refused_in_one_line(tmp_path, images, labels, expected):
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "labels.npy", labels)
    with pytest.raises(DataNotFound, match=re.escape(expected)):
        _prepare(str(tmp_path / "images.npy"), tmp_path / "cache")


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (lambda images: images.write_bytes(b""), "(No data left in file)"),
        (lambda images: np.save(images, np.zeros((0, 8, 8, 3), np.uint8)), "no image"),
        (lambda images: np.save(images, np.zeros((4, 0, 8, 3), np.uint8)), "images of no pixels"),
        (lambda images: np.save(images, np.zeros((4, 8, 0), np.uint8)), "images of no pixels"),
        (
            lambda images: images.write_bytes(_npz(np.zeros((4, 8, 8, 3), np.uint8))),
            "is an .npz archive of arrays, not one array",
        ),
        (
            lambda images: np.save(images, np.array([[1]] * 4, dtype=object), allow_pickle=True),
            "Python objects in dtype",
        ),
    ],
    ids=["empty-file", "no-rows", "no-height", "no-width", "npz", "objects"],
)
def test_a_npy_file_that_holds_no_images_is_refused_in_one_line(tmp_path, write, expected):
    write(tmp_path / "images.npy")
    np.save(tmp_path / "labels.npy", np.zeros(4, np.int64))
    with pytest.raises(DataNotFound, match=re.escape(expected)):
        _prepare(str(tmp_path / "images.npy"), tmp_path / "cache")


def _npz(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.savez(stream, images=array)
    return stream.getvalue()


def test_the_delivered_size_is_part_of_the_index(made, tmp_path):
    sizes = [
        _prepare(str(made["images"]), tmp_path, height=height, width=height).spec.sample_shape
        for height in (8, 0, 8)
    ]
    assert sizes == [(8, 8, 3), (24, 24, 3), (8, 8, 3)]


def test_records_tensorflow_would_refuse_are_bad_samples(tmp_path):
    jpeg = userfiles.encode(userfiles.photo(20, 20, 3), ".jpg")
    # not an Example
    payloads = [
        userfiles.example({"image": jpeg, "label": 1}),
        userfiles.example({"image": jpeg, "label": b"3"}),  # bytes where an int64 is parsed
        userfiles.example({"image": jpeg}),  # no label at all
        userfiles.example({"image": jpeg, "label": 2**40}),
        b"\x0a\x03\x08\x01\x02",
    ]
    userfiles.write_records(tmp_path / "mixed.tfrecord", payloads)
    source = _prepare(str(tmp_path / "mixed.tfrecord"), tmp_path / "cache", label_key="label")
    summary = source.summary()
    assert (source.num_samples, summary.skipped_files) == (1, 4)
    assert any("without one integer label under 'label'" in e for e in summary.skipped_examples)
    assert any("outside 0 to 2**31 - 1" in e for e in summary.skipped_examples)
    with pytest.raises(ProfilerError, match="holds bytes values, not the integer label"):
        _prepare(str(tmp_path / "mixed.tfrecord"), tmp_path / "cache", label_key="image")


def test_folder_names_with_glob_characters_and_record_folders_with_other_files(made, tmp_path):
    odd = tmp_path / "photos [2020]"
    userfiles.image_folder(odd, with_bad=False)
    assert locate(str(odd)) == ("folder", str(odd.resolve()))
    shards = tmp_path / "shards"
    userfiles.record_shards(shards)
    (shards / "dataset_info.json").write_text("{}")
    source = _prepare(str(shards), tmp_path / "cache")
    assert source.summary().found == 13 and source.summary().skipped_files == 3


def test_a_dangling_link_is_a_bad_file_not_a_crash(tmp_path):
    folder = userfiles.image_folder(tmp_path / "folder", with_bad=False)
    (folder / "cats" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    source = _prepare(str(folder), tmp_path / "cache")
    assert (
        source.summary().skipped_files == 1 and "gone.jpg" in source.summary().skipped_examples[0]
    )


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header, its checksum made good, claims ``width`` x ``height`` pixels."""
    png = bytearray(userfiles.encode(userfiles.photo(2, 2, 5), ".png"))
    png[16:24] = struct.pack(">II", width, height)  # IHDR's data follows its length and name
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def test_headers_claiming_too_many_pixels_or_none_are_bad_files(tmp_path):
    # OpenCV refuses the first with an exception (more pixels than it allows), the second by
    # returning nothing: both are the same damage.
    folder = userfiles.image_folder(tmp_path / "folder", with_bad=False)
    (folder / "cats" / "huge.png").write_bytes(_png_claiming(100_000, 100_000))
    (folder / "cats" / "flat.png").write_bytes(_png_claiming(2, 0))
    summary = _prepare(str(folder), tmp_path / "cache").summary()
    assert summary.skipped_files == 2
    assert sorted(Path(e.split(":")[0]).name for e in summary.skipped_examples) == [
        "flat.png",
        "huge.png",
    ]


def test_a_record_file_of_garbage_is_one_bad_sample(tmp_path):
    # Its first eight bytes, read as a record's length, point far past the end of the file.
    (tmp_path / "garbage.tfrecord").write_bytes(b"\xff" * 64)
    userfiles.write_records(
        tmp_path / "good.tfrecord",
        [
            userfiles.example(
                {"image": userfiles.encode(userfiles.photo(20, 20, 3), ".jpg"), "label": 1}
            )
        ],
    )
    source = _prepare(str(tmp_path / "*.tfrecord"), tmp_path / "cache", label_key="label")
    assert (source.num_samples, source.summary().skipped_files) == (1, 1)


def test_a_folder_where_nothing_decodes_asks_for_other_data_with_or_without_a_count(tmp_path):
    folder = tmp_path / "bad" / "cats"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(b"garbage")
    (folder / "b.png").write_bytes(b"x")
    for samples in (0, 64):
        with pytest.raises(ProfilerError) as raised:
            _prepare(str(tmp_path / "bad"), tmp_path / f"cache{samples}", samples=samples)
        assert "no sample of" in str(raised.value) and "pass other data" in str(raised.value)
        assert "--samples" not in str(raised.value)  # "--samples 0 or fewer" is no fix
