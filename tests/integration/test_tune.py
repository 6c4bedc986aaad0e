"""``tune`` end to end on a fake whose rate peaks at a known thread count, without TensorFlow in its
workers."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from profiler.results.files import FORMAT_VERSION
from tests.fakes import PEAKED
from tests.helpers import (
    MARK,
    interruptible_profiler_command,
    marked_processes,
    profiler_command,
    subprocess_env,
)

SMALL = [
    "--samples",
    "40",
    "--batch-size",
    "8",
    "--image-size",
    "16",
    "--source-size",
    "24",
    "--time-cap",
    "1",
    "--idle-time-cap",
    "0.2",
    "--idle-epochs",
    "1",
    "--step-ms",
    "2",
]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tune")
    (workdir / "tmp").mkdir()
    env = subprocess_env(
        TMPDIR=str(workdir / "tmp"),
        TF_PIPELINE_PROFILER_CACHE=str(workdir / "cache"),
        **{MARK: str(workdir)},
    )
    completed = subprocess.run(
        profiler_command(
            "tune", "--scenario", "tests.fakes:PEAKED", "--output", str(workdir / "out"), *SMALL
        ),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    (path,) = (workdir / "out").glob("*/tune.json")
    return completed, json.loads(path.read_text()), path.parent


def test_the_tuner_finds_the_thread_count_where_the_rate_peaks(tuned):
    completed, data, _ = tuned
    assert completed.returncode == 0, completed.stderr[-2000:]
    (strategy,) = data["tuned"]
    assert strategy["best"]["settings"]["threads"] == 3
    assert strategy["default"]["settings"] == {"threads": 1, "flavour": "plain"}
    # Each wait is a sleep, so the rates follow the arithmetic: 8 samples per wait.
    expected = 8 / PEAKED.WAIT_S[3]
    assert strategy["best"]["samples_per_s"] == pytest.approx(expected, rel=0.15)
    assert strategy["default"]["samples_per_s"] == pytest.approx(8 / PEAKED.WAIT_S[1], rel=0.15)
    tried = [(trial["knob"], trial["value"]) for trial in strategy["trials"] if not trial["again"]]
    assert tried[:5] == [("", None), ("threads", 2), ("threads", 3), ("threads", 4), ("threads", 5)]
    assert ("flavour", "salted") in tried  # the second knob was tried from the best threads
    low, high = strategy["gain_ci"]
    assert low <= strategy["gain"] <= high and low > 1.5  # 40 ms against 16 ms a batch: 2.5x


def test_tune_json_is_versioned_and_carries_the_ceiling(tuned):
    _, data, _ = tuned
    assert data["format_version"] == FORMAT_VERSION and data["kind"] == "tune"
    ceiling = data["ceiling"]
    assert ceiling["decoder"] in {decoder["name"] for decoder in ceiling["decoders"]}
    assert ceiling["samples_per_s"] > 0 and ceiling["stages"]["stages"]
    assert data["search"].startswith("one knob at a time")
    assert data["wall_s"] > 0


def test_the_report_and_terminal_give_the_settings_and_the_code(tuned):
    completed, _, folder = tuned
    report = (folder / "report.md").read_text()
    assert (
        "# Tuning report" in report
        and "threads=3" in report
        and "threads = 3  # default: 1" in report
    )
    assert "stages.png" in report and (folder / "stages.png").read_bytes().startswith(b"\x89PNG")
    assert "threads=3" in completed.stdout and "Code:" in completed.stdout


def test_ctrl_c_keeps_the_rounds_measured_and_leaves_nothing(tmp_path):
    (tmp_path / "tmp").mkdir()
    env = subprocess_env(
        TMPDIR=str(tmp_path / "tmp"),
        TF_PIPELINE_PROFILER_CACHE=str(tmp_path / "cache"),
        **{MARK: str(tmp_path)},
    )
    process = subprocess.Popen(
        interruptible_profiler_command(
            "tune", "--scenario", "tests.fakes:PEAKED", "--output", str(tmp_path / "out"), *SMALL
        ),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # until the first round of the search is saved
            found = list((tmp_path / "out").glob("*/tune.json"))
            if found and json.loads(found[0].read_text())["tuned"]:
                break
            time.sleep(0.1)
        else:
            pytest.fail("no round of the search finished")
        time.sleep(1.0)  # the next round is running
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    (path,) = (tmp_path / "out").glob("*/tune.json")
    data = json.loads(path.read_text())
    assert data["interrupted"] is True and data["tuned"][0]["trials"]
    assert (path.parent / "report.md").is_file() and "Stopped early" in stdout
    assert "Traceback" not in stderr
    assert list((tmp_path / "tmp").iterdir()) == []
    assert marked_processes(str(tmp_path)) == []


def test_report_and_compare_refuse_a_tuning_in_one_line(tuned):
    _, _, folder = tuned
    path = str(folder / "tune.json")
    for argv in (("report", path), ("compare", path, path)):
        completed = subprocess.run(
            profiler_command(*argv), capture_output=True, text=True, timeout=120
        )
        assert completed.returncode == 2 and "written by 'profiler tune'" in completed.stderr, (
            completed.stderr
        )
        assert (
            "Traceback" not in completed.stderr and len(completed.stderr.strip().splitlines()) == 1
        )
