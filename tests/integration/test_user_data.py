"""Every strategy on a user's own data, real TensorFlow: a folder, TFRecords and a .npy pair, with
bad files, augmentation, a shuffle buffer of known size and cold reads."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from profiler.base.settings import MeasureSettings, Target
from profiler.data.fingerprint import dataset_fingerprint
from profiler.data.synthetic import DataSpec, prepare_data
from profiler.data.user_data import prepare_user_data
from profiler.data.user_scan import locate
from profiler.drivers.kept_results import checked
from profiler.measuring.runner import Runner
from profiler.results.records import STATUS_OK, STATUS_SKIPPED
from profiler.strategy.registry import registered
from profiler.system.page_cache import resident_fraction
from tests import userfiles
from tests.helpers import profiler_command, subprocess_env

BATCH = 4
SETTINGS = MeasureSettings(
    batch_size=BATCH,
    workers=2,
    epochs=1,
    idle_epochs=1,
    step_ms=2.0,
    timeout_s=180.0,
    time_cap_s=0.2,
    idle_time_cap_s=0.2,
    window_s=0.02,
)
# The slow opt-in ones start many processes; parallel_map exercises the same TensorFlow decode.
STRATEGIES = [name for name, scenario in registered().items() if not scenario.opt_in]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("user-data")
    return {
        "folder": userfiles.image_folder(root / "folder"),
        "records": userfiles.record_shards(root / "records"),
        "npy": userfiles.npy_pair(root / "npy")[0],
        "cache": root / "cache",
    }


def _source(path: str, cache: Path, **fields):
    kind, located = locate(path)
    return prepare_user_data(
        DataSpec(kind=kind, path=located, samples=0, height=32, width=32, **fields), cache
    )


def _measure(source, names, settings=SETTINGS):
    expected = dataset_fingerprint(source, settings.batch_size)
    with Runner(source, settings) as runner:
        return {
            name: checked(runner.run(Target.scenario(name)), Target.scenario(name), expected, None)
            for name in names
        }, expected


def _assert_same_data(results, source):
    for name, result in results.items():
        if result.status == STATUS_SKIPPED:
            assert "cannot read" in result.error, (name, result.error)
            continue
        assert result.status == STATUS_OK, (name, result.error)
        assert result.samples_per_epoch == source.num_samples, name
        assert result.data_status in (
            ("same", "close") if result.pixels_may_differ else ("same",)
        ), name


@pytest.fixture(scope="module")
def on_folder(made):
    source = _source(str(made["folder"]), made["cache"])
    return _measure(source, STRATEGIES)[0], source


def test_every_strategy_serves_a_folder_of_mixed_formats_and_sizes(on_folder):
    results, source = on_folder
    assert source.summary().skipped_files == len(userfiles.BAD)
    assert all(result.status == STATUS_OK for result in results.values())
    _assert_same_data(results, source)


def test_strategies_serve_tfrecords_with_the_same_samples(made, on_folder):
    source = _source(str(made["records"] / "*.tfrecord"), made["cache"])
    # data_service: the workers batch each file's records apart; the trainer joins the short
    # batches.
    results, expected = _measure(
        source, ["generator", "multiprocessing", "parallel_map", "tfrecord", "data_service"]
    )
    _assert_same_data(results, source)
    assert results["data_service"].fingerprint.batches == expected.batches
    # the same bad samples as in the folder
    assert source.summary().skipped_files == len(userfiles.BAD)
    folder_generator = on_folder[0]["generator"]
    assert results["generator"].fingerprint == folder_generator.fingerprint == expected


def test_a_strategy_that_cannot_read_arrays_says_so_on_its_row(made):
    source = _source(str(made["npy"]), made["cache"])
    results, _ = _measure(source, ["parallel_map", "cache", "multiprocessing"])
    assert results["parallel_map"].status == STATUS_SKIPPED
    assert results["parallel_map"].error == "cannot read arrays, only image files or TFRecord files"
    _assert_same_data(results, source)


def test_tensorflow_augments_exactly_as_numpy_does(data_cache):
    # 48 -> 24 is a whole-number scale, where TensorFlow's decode equals OpenCV's to the pixel.
    spec = DataSpec(
        kind="images", samples=24, height=24, width=24, source_size=48, seed=3, augment=True
    )
    source, _ = prepare_data(spec, data_cache)
    results, expected = _measure(source, ["parallel_map", "generator", "tfrecord", "data_service"])
    plain = dataset_fingerprint(prepare_data(replace(spec, augment=False), data_cache)[0], BATCH)
    assert expected.checksum != plain.checksum and expected.labels_checksum == plain.labels_checksum
    for name, result in results.items():
        assert result.data_status == "same", name


def test_a_shuffle_buffer_shows_its_size_in_the_peak(data_cache):
    # Two buffer sizes, so that what a buffer costs besides its samples (the shuffle's own thread
    # and state, tf.data's per-element bookkeeping) cancels out; the difference is 2,000 samples of
    # 48 KiB. (Measured here: 7-8% above them, tf.data's and the allocator's share per element.)
    spec = DataSpec(kind="arrays", samples=4000, height=64, width=64, seed=1)
    source, _ = prepare_data(spec, data_cache)
    settings = replace(SETTINGS, batch_size=50)
    peaks = {}
    for shuffle in (1000, 3000):
        results, _ = _measure(source, ["generator"], replace(settings, shuffle_buffer=shuffle))
        result = results["generator"]
        assert result.status == STATUS_OK and result.data_status == "same", result.error
        peaks[shuffle] = result.peak_rss_mib
    grown_mib = peaks[3000] - peaks[1000]
    expected_mib = 2000 * spec.sample_bytes / 2**20
    assert abs(grown_mib - expected_mib) <= 0.10 * expected_mib, (peaks, expected_mib)


def many_bitmaps(folder: Path, count: int, side: int = 180) -> Path:
    """``count`` small files of about 95 KiB: per-file reads are where a disk is slower than
    memory."""
    base = userfiles.photo(side, side, 0)
    header = userfiles.encode(base, ".bmp")[: -base.nbytes]
    for index in range(count):
        pixels = base.copy()
        pixels[index % side, :, index % 3] = index % 251  # each file its own
        path = folder / f"class-{index % 2}" / f"{index:05d}.bmp"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(header + pixels[::-1].tobytes())  # BMP rows run bottom-up
    return folder


def cached_file(path: Path) -> Path:
    """A file of 8 MiB read just now, so in the page cache; skips where the filesystem keeps
    none."""
    path.write_bytes(np.random.default_rng(0).bytes(8 << 20))
    path.read_bytes()
    if resident_fraction([path]) != 1.0:
        pytest.skip(
            "this filesystem keeps no page cache (tmpfs?): there is no cold read to measure"
        )
    return path


def test_a_cold_run_drops_only_the_data_from_the_page_cache(tmp_path):
    # Whether a cold run is slower depends on this machine's disk:
    # tests/benchmarks/test_cold_reads.py.
    folder = many_bitmaps(tmp_path / "bitmaps", count=200)
    source = _source(str(folder), tmp_path / "cache")
    assert source.num_samples == 200 and source.summary().skipped_files == 0
    other = cached_file(tmp_path / "unrelated.bin")
    files = sorted(folder.rglob("*.bmp"))
    assert resident_fraction(files) == 1.0  # written and indexed just now: all in the page cache
    seen: list[float] = []
    done = threading.Event()

    # the data's share in the page cache, all along: a drop shows as less than all
    def watch() -> None:
        while not done.is_set():
            fraction = resident_fraction(files)
            if fraction is not None:
                seen.append(fraction)
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        cold = _measure(source, ["generator"], replace(SETTINGS, batch_size=50, cold=True))[0][
            "generator"
        ]
    finally:
        done.set()
        watcher.join()
    assert cold.status == STATUS_OK and cold.data_status == "same", cold.error
    assert seen and min(seen) < 1.0, "the data's files never left the page cache"
    # Only the data's own pages were dropped; what a user had cached otherwise stays.
    assert resident_fraction([other]) == 1.0


def test_cold_and_user_data_reach_the_report(made, tmp_path):
    output = tmp_path / "out"
    completed = subprocess.run(
        profiler_command(
            "run",
            "--data",
            str(made["records"] / "*.tfrecord"),
            "--scenario",
            "generator,parallel_map",
            "--batch-size",
            "4",
            "--cold",
            "--augment",
            "--shuffle-buffer",
            "6",
            "--time-cap",
            "0.2",
            "--idle-time-cap",
            "0.2",
            "--output",
            str(output),
            "--data-dir",
            str(tmp_path / "cache"),
        ),
        env=subprocess_env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads(next(output.glob("*/results.json")).read_text())
    assert (
        results["data"]["skipped_files"] == len(userfiles.BAD)
        and len(results["data"]["skipped_examples"]) == 3
    )
    assert results["data"]["spec"]["augment"] and results["settings"]["cold"]
    assert results["settings"]["shuffle_buffer"] == 6 and results["ceiling"]["cold"]
    assert all(
        r["status"] == "ok" and r["fingerprint_matches"] is not None for r in results["scenarios"]
    )
    report = next(output.glob("*/report.md")).read_text()
    assert "Cold reads" in report and "do not decode" in report and "cold reads" in completed.stdout
