"""Faults from outside: SIGTERM and SIGKILL of the parent while a worker is stuck, and stale
leftovers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from profiler.system.scratch import owned_folder, release
from tests.helpers import MARK, marked_processes, profiler_command, subprocess_env

TINY = [
    "--samples",
    "40",
    "--batch-size",
    "8",
    "--image-size",
    "16",
    "--source-size",
    "24",
    "--time-cap",
    "0.3",
    "--idle-time-cap",
    "0.3",
    "--step-ms",
    "5",
]


def _wait_for_grandchild(
    pid_file: Path, process: subprocess.Popen, saved: str | None = None
) -> int:
    """The stuck scenario's grandchild, once it runs; with ``saved``, once that scenario's row is
    saved too (the targets of a run are measured together, and the stuck one holds the others up
    for a while before they go on beside it)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        started = pid_file.exists() and pid_file.read_text()
        if started and (saved is None or _saved_ok(pid_file.parent / "out", saved)):
            return int(pid_file.read_text())
        if process.poll() is not None:
            pytest.fail(f"the run ended early: {process.communicate()}")
        time.sleep(0.1)
    pytest.fail("the stuck scenario never started, or the other never finished")


def _saved_ok(out: Path, name: str) -> bool:
    """Whether a results or sweep file under ``out`` holds ``name`` measured."""
    for path in [*out.glob("*/results.json"), *out.glob("*/sweep.json")]:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written
        runs = data.get("runs", [data])
        if any(s["name"] == name and s["status"] == "ok" for r in runs for s in r["scenarios"]):
            return True
    return False


def _start(tmp_path: Path, scenarios: str, *extra: str) -> tuple[subprocess.Popen, Path, Path]:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    pid_file = tmp_path / "grandchild.pid"
    env = subprocess_env(
        TMPDIR=str(scratch),
        TF_PIPELINE_PROFILER_CACHE=str(tmp_path / "cache"),
        FAKE_HANG_PID_FILE=str(pid_file),
        **{MARK: str(scratch)},
    )
    process = subprocess.Popen(
        profiler_command(
            "run",
            "--scenario",
            scenarios,
            "--timeout",
            "300",
            "--output",
            str(tmp_path / "out"),
            *TINY,
            *extra,
        ),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, scratch, pid_file


def _terminate(process: subprocess.Popen) -> tuple[str, str]:
    """SIGTERM, then the run must end as a terminated one: exit 143, no traceback."""
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr
    return stdout, stderr


def _gone_within(marker: str, seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.parametrize("stuck", ["HANG", "SPIN"])
def test_sigkill_of_the_parent_leaves_no_process_behind(tmp_path, stuck):
    process, scratch, pid_file = _start(tmp_path, f"tests.fakes:{stuck}")
    try:
        grandchild = _wait_for_grandchild(pid_file, process)
        assert psutil.pid_exists(grandchild)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        left = _gone_within(str(scratch), 5)
        assert left == [], [p.cmdline() for p in left]
        assert (
            not psutil.pid_exists(grandchild)
            or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        )
        # The run's scratch folder too: the last of its processes to see it killed removes it.
        assert _emptied_within(scratch, 5) == []
    finally:
        _kill_all(process, scratch)


def _frozen_workers(marker: str) -> int:
    """How many of the run's workers (each the leader of a process group) are stopped."""
    count = 0
    for process in marked_processes(marker):
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) == process.pid and process.status() == "stopped":
                count += 1
    return count


def test_sigkill_while_every_worker_is_frozen_leaves_no_process_or_folder(tmp_path):
    # Between its turns a worker is frozen, in a process group of its own. The parent's death
    # orphans that group, and the kernel sends it SIGHUP, then SIGCONT: ended by the SIGHUP, a
    # worker never reached its lifeline, which removes the run's folder once the parent is gone.
    process, scratch, _ = _start(
        tmp_path, "tests.fakes:STEADY_20MS,tests.fakes:STEADY_25MS", "--time-cap", "20"
    )
    try:
        deadline = time.monotonic() + 120
        while _frozen_workers(str(scratch)) < 2:  # the machine's reference has its turn
            assert process.poll() is None, process.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the two workers were never frozen at once"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        left = _gone_within(str(scratch), 5)
        assert left == [], [p.cmdline() for p in left]
        assert _emptied_within(scratch, 5) == []
    finally:
        _kill_all(process, scratch)


def _emptied_within(scratch: Path, seconds: float) -> list[Path]:
    """What is left in ``scratch`` once it is empty, or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while (folders := list(scratch.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.2)
    return folders


def _kill_all(process: subprocess.Popen, scratch: Path) -> None:
    process.kill()
    for leftover in marked_processes(str(scratch)):
        leftover.kill()


def test_sigterm_keeps_what_was_measured_and_leaves_nothing(tmp_path):
    process, scratch, pid_file = _start(
        tmp_path, "tests.fakes:QUICK,tests.fakes:HANG,tests.fakes:QUICK_TOO"
    )
    try:
        _wait_for_grandchild(pid_file, process, saved="tests.fakes:QUICK")
        stdout, _ = _terminate(process)
    finally:
        process.kill()
    (results,) = (tmp_path / "out").glob("*/results.json")
    data = json.loads(results.read_text())
    assert data["interrupted"] is True
    rows = [(s["name"], s["status"], s["error"]) for s in data["scenarios"]]
    assert rows[:2] == [
        ("tests.fakes:QUICK", "ok", None),
        ("tests.fakes:HANG", "interrupted", "stopped by SIGTERM"),
    ]
    # Measured beside them: done before the signal, or stopped by it.
    assert all(row[1:] in (("ok", None), ("interrupted", "stopped by SIGTERM")) for row in rows[2:])
    assert (results.parent / "report.md").exists()
    assert "Run interrupted" in stdout
    assert list(scratch.iterdir()) == []
    assert _gone_within(str(scratch), 5) == []


def test_a_scratch_folder_of_a_killed_run_is_removed_by_the_next(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    stale = scratch / "tf-pipeline-profiler-999999-abcd1234"  # no process holds it
    (stale / "cache_file-x").mkdir(parents=True)
    (stale / "cache_file-x" / "cache.data").write_bytes(b"x" * 4096)
    alive = owned_folder(scratch, "tf-pipeline-profiler-")  # a run still going: kept
    env = subprocess_env(TMPDIR=str(scratch), TF_PIPELINE_PROFILER_CACHE=str(tmp_path / "cache"))
    completed = subprocess.run(
        profiler_command(
            "run", "--scenario", "tests.fakes:QUICK", "--output", str(tmp_path / "out"), *TINY
        ),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    release(alive)
    assert completed.returncode == 0, completed.stderr
    assert sorted(p.name for p in scratch.iterdir()) == [alive.name]


def test_sigterm_while_generating_data_leaves_no_staging_folder(tmp_path):
    cache = tmp_path / "cache"
    env = subprocess_env(
        TMPDIR=str(tmp_path), TF_PIPELINE_PROFILER_CACHE=str(cache), **{MARK: str(tmp_path)}
    )
    process = subprocess.Popen(
        profiler_command(
            "run",
            "--scenario",
            "tests.fakes:QUICK",
            "--samples",
            "400000",
            "--image-size",
            "8",
            "--source-size",
            "8",
            "--output",
            str(tmp_path / "out"),
        ),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while (
            not any(p.name.startswith(".") for p in cache.glob("*")) and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert any(p.name.startswith(".") for p in cache.glob("*")), "generation never started"
        _terminate(process)
    finally:
        process.kill()
    assert list(cache.iterdir()) == []
    assert _gone_within(str(tmp_path), 5) == []


def _data_service_servers_up(process: subprocess.Popen, mark: str) -> None:
    """Wait until the measuring worker, its dispatcher and its one server run in the private
    namespace."""
    ours = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        inside = []
        for member in marked_processes(mark):
            try:
                if os.readlink(f"/proc/{member.pid}/ns/net") != ours and "spawn_main" in " ".join(
                    member.cmdline()
                ):
                    inside.append(member)
            except (OSError, psutil.Error):
                continue
        if len(inside) >= 3:
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended before its servers were seen: {process.communicate()}")
        time.sleep(0.2)
    pytest.fail("the tf.data service servers never started")


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_stopping_the_parent_during_a_data_service_run_leaves_no_server_behind(tmp_path, stop):
    env = subprocess_env(
        TMPDIR=str(tmp_path),
        TF_PIPELINE_PROFILER_CACHE=str(tmp_path / "cache"),
        **{MARK: str(tmp_path)},
    )
    process = subprocess.Popen(
        profiler_command(
            "run",
            "--scenario",
            "data_service",
            "--service-workers",
            "1",
            "--timeout",
            "300",
            "--output",
            str(tmp_path / "out"),
            *TINY,
        ),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _data_service_servers_up(process, str(tmp_path))
        if stop == signal.SIGTERM:
            _terminate(process)
        else:
            process.send_signal(stop)
            process.wait(10)
        left = _gone_within(str(tmp_path), 5)
        assert left == [], [p.cmdline() for p in left]
    finally:
        process.kill()
        for leftover in marked_processes(str(tmp_path)):
            leftover.kill()


def test_output_that_goes_away_costs_neither_results_nor_report(tmp_path):
    # As `run ... | head` does: the lines stop, the run goes on and saves everything.
    env = subprocess_env(TMPDIR=str(tmp_path), TF_PIPELINE_PROFILER_CACHE=str(tmp_path / "cache"))
    process = subprocess.Popen(
        profiler_command(
            "run", "--scenario", "tests.fakes:QUICK", "--output", str(tmp_path / "out"), *TINY
        ),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while (line := process.stdout.readline()) and "] done tests.fakes:QUICK" not in line:
        pass
    assert line, "the run never said it was done with its scenario"
    process.stdout.close()  # nobody reads any more, before the table is printed
    stderr = process.stderr.read()
    process.wait(120)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    (results,) = (tmp_path / "out").glob("*/results.json")
    assert json.loads(results.read_text())["scenarios"][0]["status"] == "ok"
    assert (results.parent / "report.md").exists()


def test_a_stop_while_a_worker_starts_ends_it_and_a_session_never_started_ends_quietly(
    tiny_images, monkeypatch
):
    from profiler.base.settings import MeasureSettings, Target
    from profiler.measuring.runner import Runner
    from profiler.system.memory import TreeMemorySampler

    def stopped(self):
        raise KeyboardInterrupt  # the stop signal, held back until the child was started

    with Runner(tiny_images, MeasureSettings(batch_size=4, timeout_s=60.0)) as runner:
        never = runner._session(Target.scenario("tests.fakes:QUICK"), 0)
        never.__exit__()  # a group stopped before this member's turn to start
        session = runner._session(Target.scenario("tests.fakes:QUICK"), 0)
        monkeypatch.setattr(TreeMemorySampler, "start", stopped)
        with pytest.raises(KeyboardInterrupt):
            session.start()
        child = session._process.pid
        assert child is not None and psutil.pid_exists(child)
        session.__exit__()
        assert not session._process.is_alive()


def test_the_resource_tracker_the_workers_share_writes_nowhere(tmp_path):
    # It warns of semaphores a killed worker's pool left: never on the user's terminal.
    probe = (
        "import os, sys\n"
        "from multiprocessing import resource_tracker\n"
        "from profiler.system.lifeline import quiet_resource_tracker\n"
        "quiet_resource_tracker()\n"
        "pid = resource_tracker._resource_tracker._pid\n"
        "print(os.readlink(f'/proc/{pid}/fd/2'), os.readlink('/proc/self/fd/2'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    tracker, own = done.stdout.split()
    assert tracker == os.devnull and own != os.devnull  # this process's own stderr is as it was


ORPHAN = """
import os, subprocess, sys, time

os.setpgid(0, 0)  # as a worker does (profiler.system.lifeline.own_group_and_orphans)
from profiler.system import lifeline

listed_and_ended = lifeline.end_everything_started_here


def and_one_more():
    # What a pool's own thread starts once its processes were listed and killed: a replacement.
    listed_and_ended()
    late = subprocess.Popen(["sleep", "600"])
    with open(sys.argv[1] + ".part", "w") as told:
        told.write(str(late.pid))
    os.rename(sys.argv[1] + ".part", sys.argv[1])


lifeline.end_everything_started_here = and_one_more
lifeline.Lifeline(int(sys.argv[2])).start()
time.sleep(600)
"""


def test_an_orphaned_worker_ends_what_was_started_after_it_listed_its_children(tmp_path):
    child = tmp_path / "orphan.py"
    child.write_text(ORPHAN)
    told = tmp_path / "late.pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time; "
            "subprocess.Popen([sys.executable, sys.argv[1], sys.argv[2], str(os.getpid())]); "
            "time.sleep(600)",
            str(child),
            str(told),
        ],
        env=subprocess_env(),
    )
    try:
        time.sleep(1.0)  # the child's lifeline is watching
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while not told.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        late = int(told.read_text())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(late):
            time.sleep(0.1)
        assert not _alive(late), "a process started after the children were listed outlived it"
    finally:
        parent.kill()
        if told.exists():
            with contextlib.suppress(OSError):
                os.kill(int(told.read_text()), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
