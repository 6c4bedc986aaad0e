"""The CLI end to end in a child process: table, JSON, failures, Ctrl-C, cleanup."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from profiler.results.files import FORMAT_VERSION
from tests.helpers import (
    MARK,
    interruptible_profiler_command,
    marked_processes,
    profiler_command,
    subprocess_env,
)

REQUIRED_KEYS = {
    "name",
    "status",
    "error",
    "baseline_rss_mib",
    "peak_rss_mib",
    "peak_pss_mib",
    "ru_maxrss_mib",
    "first_batch_s",
    "warmup_epoch_s",
    "batches_per_s",
    "samples_per_s",
    "batches_per_s_min",
    "batches_per_s_max",
    "idle_fraction",
    "wait_p50_ms",
    "wait_p95_ms",
    "cpu_s",
    "fingerprint",
}
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
    "0.3",
    "--idle-time-cap",
    "0.3",
    "--epochs",
    "2",
    "--idle-epochs",
    "1",
    "--step-ms",
    "5",
]


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "tmp").mkdir()
    return tmp_path


def _env(workdir: Path) -> dict[str, str]:
    return subprocess_env(
        TMPDIR=str(workdir / "tmp"),
        TF_PIPELINE_PROFILER_CACHE=str(workdir / "cache"),
        **{MARK: str(workdir)},
    )


def _results(workdir: Path) -> dict:
    (path,) = (workdir / "out").glob("*/results.json")
    return json.loads(path.read_text())


def _none_picked_as_all_too_wide(pick: dict, names: list[str]) -> bool:
    """No pick, because every row's rate interval was too wide to rank (short caps, loaded)."""
    return pick["name"] is None and sorted(pick["too_wide"]) == sorted(names)


def test_run_prints_the_table_and_writes_versioned_json(workdir):
    completed = subprocess.run(
        profiler_command(
            "run", "--scenario", "generator,preload", "--output", str(workdir / "out"), *SMALL
        ),
        cwd=workdir,
        env=_env(workdir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr + completed.stdout
    assert "Input pipelines feeding a 5 ms training step" in completed.stdout
    # A pick, or on a machine too loaded for 0.3 s caps, the line that says why there is none;
    # the JSON must say the same thing as the table.
    picked = "Pick " in completed.stdout
    assert picked or (
        "No recommendation: every rate's 95% interval is wider than ±50%" in completed.stdout
    )
    data = _results(workdir)
    assert data["format_version"] == FORMAT_VERSION
    assert data["metadata"]["packages"]["tensorflow"].startswith("2.21")
    assert data["metadata"]["machine"]["cpu_count"] >= 1
    assert data["settings"]["step_ms"] == 5.0 and data["settings"]["batch_size"] == 8
    assert [s["name"] for s in data["scenarios"]] == ["generator", "preload"]
    for scenario in data["scenarios"]:
        assert scenario.keys() >= REQUIRED_KEYS
        assert scenario["status"] == "ok" and scenario["fingerprint_matches"] is True
    if picked:
        assert data["recommendation"]["name"] in ("generator", "preload")
    else:
        assert _none_picked_as_all_too_wide(data["recommendation"], ["generator", "preload"])
    ceiling = data["ceiling"]["samples_per_s"]
    for scenario in data["scenarios"]:
        assert scenario["ceiling_fraction"] == pytest.approx(scenario["samples_per_s"] / ceiling)
    run_dir = next((workdir / "out").iterdir())
    report = (run_dir / "report.md").read_text()
    for plot in ("memory.png", "throughput.png", "idle.png", "waits.png"):
        assert (run_dir / plot).read_bytes().startswith(b"\x89PNG"), plot
        assert f"]({plot})" in report
    assert f"Report: {run_dir / 'report.md'} (made in" in completed.stdout
    assert list((workdir / "tmp").iterdir()) == [], "temporary files left behind"


def test_failures_are_reported_in_table_and_json(workdir):
    scenarios = ",".join(
        f"tests.fakes:{name}" for name in ("QUICK", "CRASH", "HANG", "RAISE", "REAL_DATA")
    )
    completed = subprocess.run(
        profiler_command(
            "run",
            "--scenario",
            scenarios,
            "--timeout",
            "5",
            "--output",
            str(workdir / "out"),
            *SMALL,
        ),
        cwd=workdir,
        env=_env(workdir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 1, completed.stderr
    statuses = {s["name"].split(":")[1]: s for s in _results(workdir)["scenarios"]}
    assert {name: s["status"] for name, s in statuses.items()} == {
        "QUICK": "ok",
        "CRASH": "crashed",
        "HANG": "timeout",
        "RAISE": "failed",
        "REAL_DATA": "ok",
    }
    assert statuses["REAL_DATA"]["fingerprint_matches"] is True
    assert statuses["QUICK"]["fingerprint_matches"] is False  # it delivers made-up batches
    assert "RuntimeError: the pipeline could not be built" in completed.stdout
    assert Path(statuses["RAISE"]["log_path"]).read_text().count("Traceback") == 1
    assert list((workdir / "tmp").iterdir()) == []
    assert marked_processes(str(workdir)) == []


def _interrupt_after_first(
    process: subprocess.Popen, out: Path, file_name: str, key: str, first: str | None = None
) -> tuple[str, str]:
    """Ctrl-C once the results file lists an entry under ``key`` (the one named ``first`` where
    given: measured beside others, they may come before it or with it) and the next (hanging) one
    has started."""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = list(out.glob(f"*/{file_name}"))
            entries = json.loads(found[0].read_text())[key] if found else []
            if any(first in (None, entry.get("name")) for entry in entries):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the first scenario never finished")
        time.sleep(1.5)  # the hanging scenario is now running
        process.send_signal(signal.SIGINT)
        return process.communicate(timeout=60)
    finally:
        process.kill()


def test_ctrl_c_keeps_finished_results_and_leaves_nothing(workdir):
    process = subprocess.Popen(
        interruptible_profiler_command(
            "run",
            "--scenario",
            "tests.fakes:QUICK,tests.fakes:HANG,tests.fakes:REAL_DATA",
            "--timeout",
            "120",
            "--output",
            str(workdir / "out"),
            *SMALL,
        ),
        cwd=workdir,
        env=_env(workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = _interrupt_after_first(
        process, workdir / "out", "results.json", "scenarios", first="tests.fakes:QUICK"
    )
    assert process.returncode == 130, stderr
    data = _results(workdir)
    assert data["interrupted"] is True
    rows = [(s["name"], s["status"]) for s in data["scenarios"]]
    assert rows[:2] == [("tests.fakes:QUICK", "ok"), ("tests.fakes:HANG", "interrupted")]
    # REAL_DATA, measured beside them: done before Ctrl-C, or stopped by it.
    assert rows[2:] in (
        [],
        [("tests.fakes:REAL_DATA", "ok")],
        [("tests.fakes:REAL_DATA", "interrupted")],
    )
    assert "Traceback" not in stderr
    assert "Run interrupted" in stdout
    assert list((workdir / "tmp").iterdir()) == []
    assert marked_processes(str(workdir)) == []


USER_PIPELINES = """
import time


def make(batches=6, delay_s=0.0):
    import numpy as np
    import tensorflow as tf

    def generate():
        for _ in range(batches):
            time.sleep(delay_s)
            yield np.zeros((4, 8, 8, 3), np.float32), np.zeros(4, np.int32)

    signature = (tf.TensorSpec((None, 8, 8, 3), tf.float32), tf.TensorSpec((None,), tf.int32))
    return tf.data.Dataset.from_generator(generate, output_signature=signature)


def returns_int():
    return 3


def raises():
    raise ValueError("no data here")
"""


def test_user_pipelines_run_beside_each_other_and_fail_alone(workdir):
    """One function with two argument sets gives two rows named by their arguments; the title says
    what the pipelines delivered, since no built-in dataset was measured."""
    (workdir / "user_pipelines.py").write_text(USER_PIPELINES)
    pipelines = [
        "user_pipelines:make",
        "user_pipelines:make",
        "user_pipelines:returns_int",
        "user_pipelines:raises",
    ]
    argv = [
        "run",
        "--output",
        str(workdir / "out"),
        "--pipeline",
        pipelines[0],
        "--pipeline-arg",
        "batches=4",
        "--pipeline-arg",
        "delay_s=0.001",
        "--pipeline",
        pipelines[1],
        "--pipeline-arg",
        "batches=6",
    ]
    for pipeline in pipelines[2:]:
        argv += ["--pipeline", pipeline]
    completed = subprocess.run(
        profiler_command(*argv, *SMALL),
        cwd=workdir,
        env=_env(workdir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 1, completed.stderr
    data = _results(workdir)
    first, second = (
        "user_pipelines:make(batches=4, delay_s=0.001)",
        "user_pipelines:make(batches=6)",
    )
    assert data["targets"] == [
        {
            "kind": "pipeline",
            "reference": "user_pipelines:make",
            "arguments": {"batches": 4, "delay_s": 0.001},
            "label": first,
            "knobs": {},
        },
        {
            "kind": "pipeline",
            "reference": "user_pipelines:make",
            "arguments": {"batches": 6},
            "label": second,
            "knobs": {},
        },
        *(
            {"kind": "pipeline", "reference": name, "arguments": {}, "label": "", "knobs": {}}
            for name in pipelines[2:]
        ),
    ]
    # no built-in scenario: no dataset to prepare
    assert data["data"] is None and data["ceiling"] is None
    by_name = {s["name"]: s for s in data["scenarios"]}
    # no built-in scenario unless --scenario asks
    assert list(by_name) == [
        first,
        second,
        *pipelines[2:],
    ]
    good = by_name[first]
    assert (
        good["status"] == "ok"
        and good["samples_per_epoch"] == 16
        and good["batches_per_epoch"] == 4
    )
    assert by_name[second]["status"] == "ok" and by_name[second]["samples_per_epoch"] == 24
    assert good["fingerprint_matches"] is None  # its own data: nothing to compare with
    # At 0.3 s caps a loaded machine can leave both rates too wide to rank: then no pick, saying so.
    pick = data["recommendation"]
    assert pick["name"] in (first, second) or _none_picked_as_all_too_wide(pick, [first, second])
    assert "16 to 24 samples of 8x8x3 float32 an epoch, as delivered, batch 4" in completed.stdout
    assert "JPEG images" not in completed.stdout  # nothing of the synthetic images no pipeline read
    assert by_name["user_pipelines:returns_int"]["error"] == (
        "TypeError: user_pipelines:returns_int returned int: return a tf.data.Dataset, or a pair "
        "(generator function, output_signature)"
    )
    assert by_name["user_pipelines:raises"]["error"] == "ValueError: no data here"
    assert "user_pipelines:raises: failed: ValueError: no data here" in completed.stdout


def test_ctrl_c_during_a_sweep_keeps_the_sizes_measured(workdir):
    process = subprocess.Popen(
        interruptible_profiler_command(
            "sweep",
            "--scenario",
            "tests.fakes:QUICK,tests.fakes:HANG",
            "--samples",
            "40,80",
            "--timeout",
            "120",
            "--output",
            str(workdir / "out"),
            *SMALL[2:],
        ),
        cwd=workdir,
        env=_env(workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = _interrupt_after_first(process, workdir / "out", "sweep.json", "runs")
    assert process.returncode == 130, stderr
    (path,) = (workdir / "out").glob("*/sweep.json")
    data = json.loads(path.read_text())
    assert data["interrupted"] is True
    assert [[(s["name"], s["status"]) for s in run["scenarios"]] for run in data["runs"]] == [
        [("tests.fakes:QUICK", "ok"), ("tests.fakes:HANG", "interrupted")],
    ]
    assert "Traceback" not in stderr
    assert "Sweep interrupted" in stdout
    assert (path.parent / "report.md").exists()
    assert list((workdir / "tmp").iterdir()) == []
    assert marked_processes(str(workdir)) == []


def test_entry_point_exit_code_and_no_traceback(workdir):
    completed = subprocess.run(
        profiler_command("run", "--samples", "0"),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert (
        completed.stderr.strip()
        == "error: argument --samples: got 0: pass a positive integer (1 or more) "
        "(see 'python -m profiler run --help')"
    )
