"""Hardening against a hostile world, each against a constructed fault: a damaged dataset cache, a
disk too small, a save that fails, a figure JSON cannot hold, no private network, stale folders."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from collections import namedtuple
from dataclasses import replace
from pathlib import Path

import pytest

from profiler.base.settings import ServiceSettings
from profiler.data import dataset_cache
from profiler.data.dataset_cache import NotEnoughDisk
from profiler.data.fingerprint import dataset_fingerprint
from profiler.data.published import SIZES_FILE, sizes_checksum
from profiler.data.synthetic import DataSpec
from profiler.drivers.run import DataCacheError, RunEvents, prepare_source
from profiler.measuring.group import with_kept_log
from profiler.results.files import KeepLastGood, load_run, save_run, write_json
from profiler.results.records import ScenarioResult
from profiler.system.lifeline import Lifeline
from profiler.system.namespace_launcher import NETWORK_ENV, PRIVATE
from profiler.system.scratch import (
    SCRATCH_PREFIX,
    is_run_folder,
    owned_folder,
    release,
    remove_abandoned,
    remove_if_abandoned,
)
from profiler.worker import main as worker
from tests.helpers import subprocess_env

Usage = namedtuple("Usage", "total used free")
SPEC = DataSpec(samples=12, height=8, width=8, source_size=16, classes=3)


class Recorder(RunEvents):
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, name: str, text: str, samples: int | None) -> None:
        self.warnings.append(text)


def test_a_truncated_or_deleted_image_is_written_again_and_derived_files_are_dropped(tmp_path):
    source = prepare_source(SPEC, tmp_path, RunEvents())
    files = sorted(source.root.glob("*.jpg"))
    original = {path.name: path.read_bytes() for path in files[:2]}
    files[0].write_bytes(original[files[0].name][:100])  # truncated
    files[1].unlink()  # deleted
    (source.root / "fingerprint-v3-8x8x3-b32.json").write_text("{}")
    (source.root / "tfrecord-8").mkdir()
    events = Recorder()
    again = prepare_source(SPEC, tmp_path, events)
    assert again.root == source.root
    assert {name: (again.root / name).read_bytes() for name in original} == original
    assert (
        not (again.root / "fingerprint-v3-8x8x3-b32.json").exists()
        and not (again.root / "tfrecord-8").exists()
    )
    assert len(events.warnings) == 1 and "2 damaged file(s)" in events.warnings[0]
    assert dataset_cache.damaged_files(again) == []
    quiet = Recorder()
    prepare_source(SPEC, tmp_path, quiet)  # intact now: reused without a word
    assert quiet.warnings == []


def test_files_damaged_in_place_at_their_size_are_written_again(tmp_path):
    source = prepare_source(SPEC, tmp_path, RunEvents())
    files = sorted(source.root.glob("*.jpg"))
    original = {path.name: path.read_bytes() for path in files[:2]}
    time.sleep(0.05)  # past the file system's clock tick, as any later damage is
    for path in files[:2]:  # a byte flipped in each, size and time kept
        status = path.stat()
        damaged = bytearray(path.read_bytes())
        damaged[len(damaged) // 2] ^= 0x55
        path.write_bytes(bytes(damaged))
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    fingerprint = source.root / "fingerprint-v3-8x8x3-b32.json"
    fingerprint.write_text("{}")  # made from the damaged files, it would call them the data
    events = Recorder()
    again = prepare_source(SPEC, tmp_path, events)
    assert {name: (again.root / name).read_bytes() for name in original} == original
    assert not fingerprint.exists()
    assert "2 damaged file(s)" in events.warnings[0]
    assert dataset_cache.damaged_files(again) == []


def test_a_fingerprint_file_edited_in_place_is_taken_again(tmp_path):
    source = prepare_source(SPEC, tmp_path, RunEvents())
    real = dataset_fingerprint(source, 32)
    (cached,) = source.root.glob("fingerprint-*.json")
    text = cached.read_text()
    digit = real.checksum[0]
    cached.write_text(
        text.replace(real.checksum, ("1" if digit != "1" else "2") + real.checksum[1:])
    )
    assert len(cached.read_text()) == len(text)  # the same size: only its own checksum tells
    assert dataset_fingerprint(source, 32) == real
    assert cached.read_text() == text


def test_an_older_tools_fingerprint_files_go_once_a_new_one_is_written(tmp_path):
    source = prepare_source(SPEC, tmp_path, RunEvents())
    older = [source.root / f"fingerprint-v{v}-8x8x3-b{b}.json" for v in (1, 2) for b in (8, 32)]
    for path in older:
        path.write_text("{}")
    dataset_fingerprint(source, 32)
    assert sorted(p.name for p in source.root.glob("fingerprint-*.json")) == [
        "fingerprint-v3-8x8x3-b32.json"
    ]


def test_a_record_from_before_change_times_checks_sizes_and_is_renewed(tmp_path):
    source = prepare_source(SPEC, tmp_path, RunEvents())
    record = json.loads((source.root / SIZES_FILE).read_text())
    sizes = record["sizes"]
    legacy = {"sizes": sizes, "sha256": sizes_checksum(sizes)}
    (source.root / SIZES_FILE).write_text(json.dumps(legacy))
    assert dataset_cache.damaged_files(source) == []  # read as it was written
    first = sorted(source.root.glob("*.jpg"))[0]
    first.write_bytes(first.read_bytes()[:50])
    events = Recorder()
    again = prepare_source(SPEC, tmp_path, events)
    assert "1 damaged file(s)" in events.warnings[0]
    assert "changed" in json.loads((again.root / SIZES_FILE).read_text())  # every file's, now
    assert dataset_cache.damaged_files(again) == []


def test_an_altered_record_means_the_whole_dataset_is_generated_again(tmp_path):
    source = prepare_source(SPEC, tmp_path, RunEvents())
    record = json.loads((source.root / SIZES_FILE).read_text())
    record["sizes"]["labels.npy"] += 1  # the record no longer matches its checksum
    (source.root / SIZES_FILE).write_text(json.dumps(record))
    marker = source.root / "fingerprint-stale.json"
    marker.write_text("{}")
    events = Recorder()
    again = prepare_source(SPEC, tmp_path, events)
    assert not marker.exists()
    assert "cannot be trusted" in events.warnings[0]
    assert dataset_cache.damaged_files(again) == []


def test_a_dataset_larger_than_the_free_disk_is_refused_before_anything_is_written(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(
        dataset_cache.shutil,
        "disk_usage",
        lambda path: Usage(total=8 << 30, used=5 << 30, free=3 << 30),
    )
    huge = replace(SPEC, kind="arrays", samples=1_000_000, height=32, width=32)  # 12 GiB of float32
    with pytest.raises(DataCacheError, match=r"needs about 11\.4 GiB and 3\.0 GiB are free"):
        prepare_source(huge, tmp_path, RunEvents())
    assert list(tmp_path.iterdir()) == []
    dataset_cache.check_room(tmp_path, replace(huge, samples=1000))  # 12 MiB: fits
    with pytest.raises(NotEnoughDisk):
        dataset_cache.check_room(
            tmp_path, replace(huge, samples=100_000), replace(huge, samples=200_000)
        )


def test_a_failed_save_keeps_the_last_good_file_and_says_so_once(tmp_path):
    path = tmp_path / "results.json"
    calls = []

    def save(result: dict, target: Path) -> None:
        calls.append(result)
        if result.get("broken"):
            raise OSError(28, "No space left on device")
        write_json(result, target)

    keep = KeepLastGood(save, path)
    keep({"n": 1})
    keep({"broken": True})
    keep({"broken": True})
    assert json.loads(path.read_text()) == {"n": 1}
    assert (
        keep.problem is not None and "No space left on device" in keep.problem and len(calls) == 3
    )
    assert "it holds the last version written" in keep.problem
    # A first save that fails says that nothing was written, not that an earlier version is kept.
    never = KeepLastGood(save, tmp_path / "other.json")
    never({"broken": True})
    assert never.problem is not None and "no version of it was written" in never.problem
    assert not (tmp_path / "other.json").exists()


def test_figures_json_cannot_hold_are_written_as_null(tmp_path):
    path = tmp_path / "results.json"
    write_json(
        {
            "rate": float("inf"),
            "windows": [1.0, float("nan"), 2.0],
            "interval": [0.5, float("inf")],
            "nested": {"x": -float("inf")},
        },
        path,
    )
    assert json.loads(path.read_text()) == {
        "rate": None,
        "windows": [1.0, 2.0],
        "interval": None,
        "nested": {"x": None},
    }


def test_without_a_private_network_the_service_is_refused_unless_accepted(monkeypatch):
    monkeypatch.setenv(
        NETWORK_ENV, "open: unshare(CLONE_NEWUSER | CLONE_NEWNET): Operation not permitted"
    )
    with pytest.raises(
        worker.NetworkNotPrivate, match=r"Operation not permitted.*pass --service-on-all-interfaces"
    ):
        worker._network_checked(ServiceSettings())
    assert worker._network_checked(ServiceSettings(on_all_interfaces=True)) is False
    monkeypatch.setenv(NETWORK_ENV, PRIVATE)
    assert worker._network_checked(ServiceSettings()) is True


def test_folders_no_process_holds_are_removed_and_the_others_kept(tmp_path):
    # A folder made by a process that has ended: its lock went with it.
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from profiler.system.scratch import owned_folder; "
            "print(owned_folder(sys.argv[1], 'run-'))",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=subprocess_env(),
    )
    stale = Path(made.stdout.strip())
    (stale / "data").write_bytes(b"x" * 100)
    # One held by a live process, as another container's run sharing this folder would: kept,
    # whatever its name says about process ids.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from profiler.system.scratch import owned_folder; "
            "print(owned_folder(sys.argv[1], 'run-'), flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        held = Path(holder.stdout.readline().strip())
        mine = owned_folder(tmp_path, "run-")
        unrelated = tmp_path / "run-notanumber-x"
        unrelated.mkdir()
        assert remove_abandoned(tmp_path, "run-") == [stale]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [mine.name, held.name, unrelated.name]
        )
    finally:
        holder.kill()
        holder.wait()
    assert remove_abandoned(tmp_path, "run-") == [held]  # its holder is gone now
    release(mine)


def test_a_spawned_process_takes_only_its_parents_run_folder_and_only_once_it_is_let_go(
    tmp_path,
):
    run = owned_folder(tmp_path, SCRATCH_PREFIX)
    (run / "worker-x").mkdir()
    parent = os.getpid()
    assert is_run_folder(run, parent)
    # Another process's run folder, the temporary folder itself, a name that only starts alike:
    # never a parent's to leave behind.
    for other in (
        tmp_path / f"{SCRATCH_PREFIX}{parent + 1}-abc",
        tmp_path,
        Path("/tmp"),
        tmp_path / f"{SCRATCH_PREFIX}{parent}0-abc",
        tmp_path / f"{SCRATCH_PREFIX}{parent}-",
    ):
        assert not is_run_folder(other, parent), other
        assert Lifeline(parent).leaves_behind(other)._parents_folder is None
    assert Lifeline(parent).leaves_behind(run)._parents_folder == str(run)
    # Held (as the live parent holds it): kept; let go (as a dead parent's lock is): removed.
    assert remove_if_abandoned(run) is False
    assert (run / "worker-x").is_dir()
    release(run)
    assert remove_if_abandoned(run) is True
    assert not run.exists()
    assert remove_if_abandoned(run) is False  # gone already


def test_a_data_dir_on_no_disk_is_refused_as_unwritable_not_as_full():
    # /proc holds no disk: "0.0 GiB free" would send the user looking for room.
    with pytest.raises(PermissionError, match="is no folder on a disk it may write"):
        dataset_cache.check_room(Path("/proc/nope"), SPEC)


def test_every_abandoned_staging_folder_beside_the_data_is_found(tmp_path):
    # A worker stopped while it wrote shards leaves .<name>-<pid>-<random>; nothing else goes.
    stale = tmp_path / ".tfrecord-v2-8-602-fy5yjayu"
    damaged = tmp_path / ".tfrecord-v2-8-77-damaged"
    for folder in (stale, damaged, tmp_path / "tfrecord-v2-8", tmp_path / ".hidden"):
        folder.mkdir()
    mine = owned_folder(tmp_path, ".tfrecord-v2-4-")  # being written by a live process
    assert sorted(remove_abandoned(tmp_path, ".")) == sorted([stale, damaged])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".hidden", "tfrecord-v2-8", mine.name]
    )
    release(mine)


def test_publishing_a_dataset_removes_what_a_killed_generation_of_another_left(tmp_path):
    from profiler.data.published import publish_folder

    killed = tmp_path / ".images-6000-abc-16848-x1y2z3"  # another size's, its process gone
    killed.mkdir()
    (killed / "00001.jpg").write_bytes(b"half")
    live = owned_folder(tmp_path, ".images-8000-abc-")  # being written by a live process
    final = publish_folder(tmp_path / "images-200-abc", lambda folder: None)
    assert final.is_dir() and not killed.exists() and live.is_dir()
    release(live)


def test_a_run_with_infinite_figures_is_saved_and_reads_back(tmp_path):
    run = load_run(Path(__file__).resolve().parents[2] / "reports" / "example" / "results.json")
    first = run.scenarios[0]
    broken = replace(
        first,
        samples_per_s=float("inf"),
        samples_per_s_ci=(1.0, float("inf")),
        window_samples_per_s=(float("nan"), *first.window_samples_per_s),
    )
    path = tmp_path / "results.json"
    save_run(replace(run, scenarios=(broken, *run.scenarios[1:])), path)
    again = load_run(path).scenarios[0]
    assert again.samples_per_s is None and again.samples_per_s_ci is None
    assert again.window_samples_per_s == first.window_samples_per_s


def test_a_generated_dataset_removed_while_it_ran_is_named_on_the_rows_it_failed(tmp_path):
    from profiler.drivers.kept_results import _with_data_changes
    from profiler.results.records import ScenarioResult

    source = prepare_source(SPEC, tmp_path, RunEvents())
    assert source.changed_files() == []
    failed = ScenarioResult(name="generator", status="failed", error="OSError: cannot read")
    assert _with_data_changes(failed, source) == failed
    gone = sorted(source.root.glob("*.jpg"))[:3]
    for path in gone:
        path.unlink()  # a cache cleared by hand while the run went on
    said = _with_data_changes(failed, source).error
    assert said.startswith(
        "OSError: cannot read; 3 of the generated dataset's files vanished while the run went on"
    )
    assert str(gone[0]) in said and said.endswith("run again, and they are generated anew")
    assert _with_data_changes(failed, None) == failed  # a pipeline of the user's: no data here


def test_a_sibling_waits_for_the_one_removing_the_folder_and_removes_what_it_left(tmp_path):
    # Two orphans of one run: the first holds the folder while it removes it, and a file is made
    # meanwhile; the second, which gave up at once before, waits and removes the rest.
    run = owned_folder(tmp_path, SCRATCH_PREFIX)
    release(run)
    other = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the first orphan's hold

    def first_orphan_done() -> None:
        time.sleep(0.2)
        (run / "made-meanwhile").write_text("x")
        os.close(other)

    threading.Thread(target=first_orphan_done).start()
    assert remove_if_abandoned(run, wait_s=0.0) is False  # held: as before, left at once
    assert remove_if_abandoned(run, wait_s=2.0) is True
    assert not run.exists()


def test_a_failure_that_quotes_an_argument_not_in_utf8_keeps_its_log_escaped(tmp_path):
    log = tmp_path / "worker.log"
    log.write_text("building the pipeline\n")
    # The worker's traceback quotes --pipeline-arg x=$'\xff': a lone surrogate, no encoding has it.
    failed = ScenarioResult(name="mypl_boom", status="failed", error="ValueError: bad \udcff")
    kept = with_kept_log(failed, log, "ValueError: bad value: \udcff", tmp_path / "kept" / "w.log")
    assert kept.log_path == str(tmp_path / "kept" / "w.log")
    assert (tmp_path / "kept" / "w.log").read_text() == (
        "building the pipeline\n\nValueError: bad value: \\udcff"
    )


def test_a_stop_signal_while_the_report_is_written_waits_for_it_then_acts(tmp_path, monkeypatch):
    # Ctrl-C just after the last pipeline is done lands while the report is written (its plots take
    # seconds): the report is finished, then the run stops as Ctrl-C stops it.
    import argparse
    import io
    import signal

    from rich.console import Console

    from profiler.base.metadata import Metadata
    from profiler.base.settings import MeasureSettings
    from profiler.commands.run import RunCommand
    from profiler.results.records import RunResult

    command = RunCommand()
    written: list[str] = []

    def write_report(result: RunResult, folder: Path) -> Path:
        os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of writing
        time.sleep(0.05)
        path = folder / "report.md"
        path.write_text("whole report")
        written.append("done")
        return path

    run = RunResult(
        metadata=Metadata(), settings=MeasureSettings(), targets=(), data=None, scenarios=()
    )
    monkeypatch.setattr(command, "plan", lambda args: None)
    monkeypatch.setattr(command, "progress", lambda console, path, plan: RunEvents())
    monkeypatch.setattr(command, "measure", lambda args, plan, events, save, folder: run)
    monkeypatch.setattr(command, "write_report", write_report)
    console = Console(file=io.StringIO())
    # Python's own Ctrl-C handler, whatever this process inherited (a job started in the background
    # by a script ignores SIGINT).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            command.run(argparse.Namespace(output=tmp_path), console)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert written == ["done"]
    (report,) = tmp_path.glob("*/report.md")
    assert report.read_text() == "whole report"
