"""The runner and its metrics against fake scenarios whose behaviour is known exactly."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil
import pytest

from profiler.results import STATUS_CRASHED, STATUS_FAILED, STATUS_OK, STATUS_TIMEOUT
from profiler.runner import Runner
from profiler.settings import MeasureSettings, Target
from tests.helpers import REPO_ROOT, subprocess_env

STEP_MS = 20.0


def run(source, references, **settings):
    merged = dict(batch_size=16, workers=1, epochs=2, idle_epochs=2, step_ms=STEP_MS, timeout_s=60.0,
                  time_cap_s=1.0, idle_time_cap_s=1.0)
    merged.update(settings)
    with Runner(source, MeasureSettings(**merged)) as runner:
        return [runner.run(Target.scenario(reference)) for reference in references]


def test_known_allocation_shows_in_peak_rss(tiny_images, no_leftover_children):
    (result,) = run(tiny_images, ["tests.fakes:ALLOCATE_300MB"])
    assert result.status == STATUS_OK, result.error
    assert result.peak_rss_mib >= 300
    # Nothing else of that size happens in the worker: the excess is interpreter noise.
    assert result.peak_rss_mib < 300 * 1.25
    # Cross-check with the kernel's own peak for the worker (the baseline itself may shrink a little).
    assert result.ru_maxrss_mib - result.baseline_rss_mib >= 300 * 0.98


# Measured from a small parent: a spawned worker's ru_maxrss starts at its parent's resident size (the
# kernel keeps the high-water mark of the copy made before exec), and this session's is not small.
SMALL_PARENT = """
import json, sys
from profiler.data import prepare_data
from tests.conftest import TINY_SPEC
from tests.integration.test_runner_fakes import run
if __name__ == "__main__":
    (result,) = run(prepare_data(TINY_SPEC, sys.argv[1])[0], ["tests.fakes:CHILD_ALLOCATE_200MB"], epochs=1,
                    idle_epochs=1)
    print(json.dumps([result.status, result.error, result.peak_rss_mib, result.peak_pss_mib,
                      result.ru_maxrss_mib, result.baseline_rss_mib]))
"""


def test_memory_of_child_processes_counts(data_cache, tmp_path, no_leftover_children):
    script = tmp_path / "small_parent.py"
    script.write_text(SMALL_PARENT)
    done = subprocess.run([sys.executable, str(script), str(data_cache)], capture_output=True, text=True,
                          timeout=180, env=subprocess_env(), cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    status, error, peak_rss, peak_pss, ru_maxrss, baseline = json.loads(done.stdout.strip().splitlines()[-1])
    assert status == STATUS_OK, error
    assert peak_rss >= 200
    assert peak_pss >= 200
    # The worker itself never held the block, so its own ru_maxrss must not show it.
    assert ru_maxrss - baseline < 100


def test_idle_fraction_matches_arithmetic_without_read_ahead(tiny_images):
    # Each batch takes 30 ms in the consumer's own thread, then the step computes 20 ms:
    # the device waits 30 ms of every 50.
    (result,) = run(tiny_images, ["tests.fakes:SLOW_30MS"])
    assert result.status == STATUS_OK, result.error
    assert result.idle_fraction == pytest.approx(30 / (30 + STEP_MS), abs=0.03)
    assert result.wait_p50_ms == pytest.approx(30, abs=3)
    assert result.epoch_start_wait_ms == pytest.approx(30, abs=3)
    # At least two paced epochs of 12 batches, each epoch's first batch reported apart; nine waits in ten
    # within 10 ms of the 30 (a shared host stalls a sleep by 90 ms now and then).
    assert len(result.wait_ms) >= 2 * (12 - 1)
    assert sorted(result.wait_ms)[int(0.9 * len(result.wait_ms)) - 1] < 40
    assert result.idle_s == pytest.approx(sum(result.wait_ms) / 1000, rel=1e-3)
    assert result.verdict == "input-bound"


def test_idle_fraction_matches_arithmetic_with_read_ahead(tiny_images):
    # A producer thread makes a batch every 30 ms while the step computes 20 ms: the first batch
    # of an epoch waits the full 30 ms, every later one 30 - 20 = 10 ms.
    (result,) = run(tiny_images, ["tests.fakes:SLOW_30MS_READ_AHEAD"])
    assert result.status == STATUS_OK, result.error
    steady_wait = 30 - STEP_MS
    assert result.idle_fraction == pytest.approx(steady_wait / (steady_wait + STEP_MS), abs=0.03)
    assert result.wait_p50_ms == pytest.approx(steady_wait, abs=3)
    assert result.epoch_start_wait_ms == pytest.approx(30, abs=3)


def test_throughput_and_first_batch_match_known_delays(tiny_images):
    (result,) = run(tiny_images, ["tests.fakes:SLOW_BUILD"], epochs=3)
    assert result.status == STATUS_OK, result.error
    # 4 batches of 50 ms each: at most 20 batches/s, since sleeps never end early.
    assert 20 * 0.8 < result.batches_per_s <= 20 * 1.01
    assert result.batches_per_epoch == 4 and result.samples_per_epoch == 16
    # Built in 0.4 s, then 50 ms for the first batch.
    assert 0.45 <= result.first_batch_s < 0.45 + 0.3
    assert 0.4 + 4 * 0.05 <= result.warmup_epoch_s < 0.6 + 0.3
    assert result.build_s >= 0.4


def test_failures_are_reported_and_do_not_stop_the_others(
    tiny_images, tmp_path, monkeypatch, no_leftover_children
):
    pid_file = tmp_path / "hang-child.pid"
    monkeypatch.setenv("FAKE_HANG_PID_FILE", str(pid_file))
    started = time.monotonic()
    results = run(
        tiny_images,
        ["tests.fakes:CRASH", "tests.fakes:QUICK", "tests.fakes:RAISE", "tests.fakes:HANG", "tests.fakes:QUICK"],
        timeout_s=6.0,
    )
    statuses = [r.status for r in results]
    assert statuses == [STATUS_CRASHED, STATUS_OK, STATUS_FAILED, STATUS_TIMEOUT, STATUS_OK]
    assert "SIGKILL" in results[0].error
    assert "RuntimeError: the pipeline could not be built" in results[2].error
    assert "--timeout 6" in results[3].error
    assert time.monotonic() - started < 60
    # The hanging worker's own child was found and killed with it.
    child_pid = int(pid_file.read_text())
    assert not psutil.pid_exists(child_pid) or psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE


def test_runner_removes_its_scratch_folder(tiny_images, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    run(tiny_images, ["tests.fakes:HANG", "tests.fakes:QUICK"], timeout_s=4.0)
    assert list(tmp_path.iterdir()) == []
