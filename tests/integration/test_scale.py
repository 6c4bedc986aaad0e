"""``profiler scale`` on tf.data service workers whose batches cost a known sleep and next to no
CPU.

A worker then delivers BATCH / BATCH_S samples/s and n workers n times that, whatever the cores:
the arithmetic is the ground truth for the rates, the fit and the advice, which the measured idle
at the advised count must bear out.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.fakes import SLEEPY_SERVICE
from tests.helpers import (
    MARK,
    interruptible_profiler_command,
    marked_processes,
    profiler_command,
    subprocess_env,
)

BATCH = 8
STEP_MS = (
    15.0  # needs 8 / 0.015 = 533 samples/s: three workers of 200, where two leave the step idle
)
PER_WORKER = BATCH / SLEEPY_SERVICE.BATCH_S
SMALL = [
    "--scenario",
    "tests.fakes:SLEEPY_SERVICE",
    "--data",
    "arrays",
    # Nine batches an epoch: the tool leaves each epoch's first wait out of idle, and with an even
    # count two workers' bursts of two would put every epoch start on the same half of a burst.
    "--samples",
    "72",
    "--image-size",
    "8",
    "--batch-size",
    str(BATCH),
    "--step-ms",
    str(STEP_MS),
    "--time-cap",
    "1",
    "--idle-time-cap",
    "5",
    # The service holds batches made ahead (two workers' worth fill about 30 steps): enough paced
    # steps that a count too small to keep up has run dry and waits, whatever the service made
    # ahead while the trainer was not consuming (at 80 steps two workers once read no idle at all).
    "--idle-epochs",
    "20",
]


def _scale(
    workdir: Path, *extra: str, timeout_s: float = 600
) -> tuple[subprocess.CompletedProcess, dict, Path]:
    env = subprocess_env(TF_PIPELINE_PROFILER_CACHE=str(workdir / "cache"))
    completed = subprocess.run(
        profiler_command("scale", *SMALL, "--output", str(workdir / "out"), *extra),
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    (path,) = (workdir / "out").glob("*/scale.json")
    return completed, json.loads(path.read_text()), path.parent


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    return _scale(tmp_path_factory.mktemp("scale"), "--max-workers", "3")


def test_rates_grow_with_workers_as_the_sleep_says(scaled):
    completed, data, _ = scaled
    assert completed.returncode == 0, completed.stderr + completed.stdout
    assert data["kind"] == "scale"
    rates = {point["workers"]: point["samples_per_s"] for point in data["points"]}
    assert list(rates) == [1, 2, 3]
    for workers, rate in rates.items():
        assert rate == pytest.approx(workers * PER_WORKER, rel=0.15), rates
    assert data["fit"]["per_worker_samples_per_s"] == pytest.approx(PER_WORKER, rel=0.15)
    low, high = data["fit"]["per_worker_samples_per_s_range"]
    assert low <= data["fit"]["per_worker_samples_per_s"] <= high


def test_the_advised_workers_keep_the_step_busy_and_one_fewer_does_not(scaled):
    _, data, _ = scaled
    advice = data["advice"]
    assert advice["required_samples_per_s"] == pytest.approx(BATCH * 1000 / STEP_MS)
    assert advice["workers_needed"] == 3
    idle = {point["workers"]: point["idle_fraction"] for point in data["points"]}
    assert idle[3] < 0.05, idle
    assert idle[2] > idle[3] + 0.05, idle


def test_the_report_has_the_table_the_advice_and_the_plot(scaled):
    completed, _, folder = scaled
    report = (folder / "report.md").read_text()
    assert "# Scale report" in report and "about 3 worker(s)" in report
    assert (folder / "rate_vs_workers.png").read_bytes().startswith(b"\x89PNG")
    assert "about 3 worker(s)" in completed.stdout


def test_an_existing_cluster_is_counted_and_judged(tmp_path):
    from scenarios._service_cluster import LocalCluster

    cluster = LocalCluster(workers=2).start()
    try:
        completed, data, _ = _scale(tmp_path, "--dispatcher", cluster.target)
        servers = [process.pid for process in cluster.processes]
        assert all(psutil.pid_exists(pid) for pid in servers), (
            "scale must not stop a cluster it did not start"
        )
    finally:
        cluster.stop()
    assert completed.returncode == 0, completed.stderr + completed.stdout
    (point,) = data["points"]
    assert point["workers"] == 2
    assert point["samples_per_s"] == pytest.approx(2 * PER_WORKER, rel=0.15)
    advice = data["advice"]
    assert advice["cluster_workers"] == 2 and advice["keeps_busy"] is False
    assert advice["workers_needed"] == 3 and advice["more_workers"] == 1
    assert "1 more" in completed.stdout


def _servers_up(process: subprocess.Popen, mark: str, count: int) -> None:
    """Wait until the trainer's worker and ``count`` servers below it run."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        spawned = [p for p in marked_processes(mark) if "spawn_main" in " ".join(_cmdline(p))]
        if len(spawned) >= 1 + count:
            return
        if process.poll() is not None:
            pytest.fail(f"scale ended before its servers were seen: {process.communicate()}")
        time.sleep(0.2)
    pytest.fail("the tf.data service servers never started")


def _serving(process: subprocess.Popen, mark: str) -> None:
    """Wait until the dispatcher and the worker listen (in the private namespace the servers
    share)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        spawned = sorted(
            (p for p in marked_processes(mark) if "spawn_main" in " ".join(_cmdline(p))),
            key=lambda p: p.create_time(),
        )
        listening = 0
        for table in ("tcp", "tcp6"):
            path = Path(f"/proc/{spawned[-1].pid}/net/{table}") if spawned else None
            with contextlib.suppress(OSError):
                listening += sum(
                    line.split()[3] == "0A" for line in path.read_text().splitlines()[1:]
                )
        if listening >= 2:
            return
        if process.poll() is not None:
            pytest.fail(f"scale ended before its servers listened: {process.communicate()}")
        time.sleep(0.2)
    pytest.fail("the tf.data service servers never listened")


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _gone_within(mark: str, seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.parametrize("how", ["ctrl-c", "crash", "server", "timeout"])
def test_every_way_of_ending_stops_every_server(tmp_path, how):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = subprocess_env(
        TMPDIR=str(scratch),
        TF_PIPELINE_PROFILER_CACHE=str(tmp_path / "cache"),
        **{MARK: str(tmp_path)},
    )
    extra = ["--max-workers", "1", *(["--timeout", "4"] if how == "timeout" else [])]
    # Long enough to be caught measuring: an epoch of 40 batches per worker.
    argv = [
        *SMALL,
        "--samples",
        "320",
        "--time-cap",
        "20",
        "--output",
        str(tmp_path / "out"),
        *extra,
    ]
    process = subprocess.Popen(
        interruptible_profiler_command("scale", *argv),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if how != "timeout":
            _servers_up(process, str(tmp_path), 2)
            _serving(process, str(tmp_path))
            time.sleep(1.5)
        if how == "timeout":
            pass
        elif how == "ctrl-c":
            process.send_signal(signal.SIGINT)
        # the trainer's process dies, and its servers must follow it; or a server, and the trainer
        # must
        else:
            spawned = sorted(
                (
                    p
                    for p in marked_processes(str(tmp_path))
                    if "spawn_main" in " ".join(_cmdline(p))
                ),
                key=lambda p: p.create_time(),
            )
            os.kill(spawned[0 if how == "crash" else -1].pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    left = _gone_within(str(tmp_path), 10)
    assert left == [], [_cmdline(p) for p in left]
    assert "Traceback" not in stderr
    assert list(scratch.iterdir()) == []
    (path,) = (tmp_path / "out").glob("*/scale.json")
    data = json.loads(path.read_text())
    if how == "ctrl-c":
        assert process.returncode == 130, stderr
        assert data["interrupted"] is True
    else:
        assert process.returncode == 1, stderr + stdout  # no count measured: no advice
        (point,) = data["points"]
        assert point["status"] == ("timeout" if how == "timeout" else "crashed"), point
        if how == "server":  # said at once, not after the timeout
            assert (
                "tf.data service server tf-data-worker-0" in point["error"]
                and "died" in point["error"]
            ), point


def test_report_and_compare_refuse_a_scale_json_in_one_line(scaled):
    _, _, folder = scaled
    path = str(folder / "scale.json")
    for argv in (["report", path], ["compare", path, path]):
        completed = subprocess.run(
            profiler_command(*argv), capture_output=True, text=True, timeout=120
        )
        assert completed.returncode == 2, completed.stderr
        (line,) = completed.stderr.strip().splitlines()
        assert "written by 'profiler scale'" in line
