"""Folders derived from the data (TFRecord shards, an index) made whole or not at all, and made
again when a file in them was cut short or deleted since."""

from __future__ import annotations

import os
import time

import pytest

from profiler.data.published import SIZES_FILE, publish_folder


def _filler(calls: list[int]):
    def fill(staging):
        calls.append(1)
        for number in range(3):
            (staging / f"shard-{number}.tfrecord").write_bytes(bytes([number]) * (100 + number))

    return fill


def test_an_intact_folder_is_reused(tmp_path):
    calls: list[int] = []
    final = publish_folder(tmp_path / "tfrecord-v2-3", _filler(calls))
    assert publish_folder(final, _filler(calls)) == final
    assert len(calls) == 1
    assert (final / SIZES_FILE).exists()


@pytest.mark.parametrize(
    "damage", ["cut short", "deleted", "written in place", "record edited", "record deleted"]
)
def test_a_damaged_folder_is_made_again(tmp_path, damage):
    calls: list[int] = []
    final = publish_folder(tmp_path / "tfrecord-v2-3", _filler(calls))
    shard = final / "shard-1.tfrecord"
    if damage == "cut short":
        shard.write_bytes(shard.read_bytes()[:-7])
    elif damage == "deleted":
        shard.unlink()
    elif damage == "written in place":  # a byte flipped, size and time kept
        time.sleep(0.05)  # past the file system's clock tick, as any later damage is
        status = shard.stat()
        shard.write_bytes(bytes([7]) * 101)
        os.utime(shard, ns=(status.st_atime_ns, status.st_mtime_ns))
    elif damage == "record edited":
        (final / SIZES_FILE).write_text((final / SIZES_FILE).read_text().replace("101", "102"))
    else:
        (final / SIZES_FILE).unlink()
    assert publish_folder(final, _filler(calls)) == final
    assert len(calls) == 2
    assert shard.read_bytes() == bytes([1]) * 101
    # the damaged copy, set aside, is removed: only the new folder is left
    assert sorted(os.listdir(tmp_path)) == ["tfrecord-v2-3"]


def test_a_failed_fill_leaves_nothing(tmp_path):
    def fill(staging):
        (staging / "half").write_bytes(b"x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        publish_folder(tmp_path / "tfrecord-v2-3", fill)
    assert os.listdir(tmp_path) == []
