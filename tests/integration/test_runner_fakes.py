"""The runner and its metrics against fake scenarios whose behaviour is known exactly."""

from __future__ import annotations

import statistics
import time

import psutil
import pytest

from profiler.base.settings import MeasureSettings, Target
from profiler.measuring.procedure import PACED_BLOCK
from profiler.measuring.runner import Runner
from profiler.results.records import STATUS_CRASHED, STATUS_FAILED, STATUS_OK, STATUS_TIMEOUT
from tests.fakes import BATCH_LOG_ENV, recorded_paced
from tests.helpers import run_probe

STEP_MS = 20.0


def run(source, references, **settings):
    merged = dict(
        batch_size=16,
        workers=1,
        epochs=2,
        idle_epochs=2,
        step_ms=STEP_MS,
        timeout_s=60.0,
        time_cap_s=1.0,
        idle_time_cap_s=1.0,
    )
    merged.update(settings)
    with Runner(source, MeasureSettings(**merged)) as runner:
        return [runner.run(Target.scenario(reference)) for reference in references]


def test_known_allocation_shows_in_peak_rss(tiny_images, no_leftover_children):
    (result,) = run(tiny_images, ["tests.fakes:ALLOCATE_300MB"])
    assert result.status == STATUS_OK, result.error
    assert result.peak_rss_mib >= 300
    # Nothing else of that size happens in the worker: the excess is interpreter noise.
    assert result.peak_rss_mib < 300 * 1.25
    # Cross-check with the kernel's own peak for the worker (the baseline itself may shrink a
    # little).
    assert result.ru_maxrss_mib - result.baseline_rss_mib >= 300 * 0.98


# Measured from a small parent: a spawned worker's ru_maxrss starts at its parent's resident size
# (the kernel keeps the high-water mark of the copy made before exec), and this session's is not
# small.
SMALL_PARENT = """
import json, sys
from profiler.data.synthetic import prepare_data
from tests.conftest import TINY_SPEC
from tests.integration.test_runner_fakes import run
if __name__ == "__main__":
    source = prepare_data(TINY_SPEC, sys.argv[1])[0]
    (result,) = run(source, ["tests.fakes:CHILD_ALLOCATE_200MB"], epochs=1, idle_epochs=1)
    print(json.dumps([result.status, result.error, result.peak_rss_mib, result.peak_pss_mib,
                      result.ru_maxrss_mib, result.baseline_rss_mib]))
"""


def test_memory_of_child_processes_counts(data_cache, tmp_path, no_leftover_children):
    status, error, peak_rss, peak_pss, ru_maxrss, baseline = run_probe(
        SMALL_PARENT, tmp_path, str(data_cache), timeout_s=180
    )
    assert status == STATUS_OK, error
    assert peak_rss >= 200
    assert peak_pss >= 200
    # The worker itself never held the block, so its own ru_maxrss must not show it.
    assert ru_maxrss - baseline < 100


# A wait the tool reports is the recorded one plus the consumer's own few calls around it: a
# microsecond or two; this leaves room for the host to hold those calls up now and then, and for the
# rounding of wait_ms.
SLACK_MS = 5.0


def _recorded(source, tmp_path, monkeypatch, reference):
    """Measure ``reference``, a SlowBatches fake, with the fake recording every wait it caused."""
    log = tmp_path / "batches.jsonl"
    monkeypatch.setenv(BATCH_LOG_ENV, str(log))
    (result,) = run(source, [reference])
    assert result.status == STATUS_OK, result.error
    return result, recorded_paced(log, result.wait_ms, PACED_BLOCK, step_ms=STEP_MS)


def _assert_waits_and_idle_are_the_recorded_ones(result, recorded):
    """Every steady wait, each epoch's first and the idle fractions, against what the fake
    recorded."""
    for wait, truth in zip(result.wait_ms, recorded.steady_ms, strict=True):
        assert truth - 0.01 <= wait <= truth + SLACK_MS, (wait, truth)
    assert result.idle_s == pytest.approx(sum(result.wait_ms) / 1000, rel=1e-3)
    # Each epoch start's wait holds its first batch; their median holds the median of those.
    truth = statistics.median(recorded.epoch_start_ms)
    assert truth - 0.01 <= result.epoch_start_wait_ms <= truth + SLACK_MS, (
        result.epoch_start_wait_ms,
        truth,
    )
    # Idle against the steps the tool timed: between the recorded waits and the same with the slack.
    waited, stepped, count = (
        sum(recorded.steady_ms),
        result.compute_s * 1000,
        len(recorded.steady_ms),
    )
    least, most = (
        waited / (waited + stepped),
        (waited + count * SLACK_MS) / (waited + count * SLACK_MS + stepped),
    )
    assert least - 1e-6 <= result.idle_fraction_raw <= most + 1e-6, (
        result.idle_fraction_raw,
        least,
        most,
    )
    # Above the fetch floor: the recorded waits less the floor the tool measured for each.
    above = waited - count * result.fetch_floor_ms
    assert above / (above + stepped) - 1e-6 <= result.idle_fraction <= result.idle_fraction_raw


def test_waits_and_idle_are_the_recorded_ones_without_read_ahead(
    tiny_images, tmp_path, monkeypatch
):
    # Each batch takes 30 ms in the consumer's own thread, then the step computes 20 ms: the device
    # waits for every batch, as long as its making lasted, a sleep stretched by a busy host
    # included.
    result, recorded = _recorded(tiny_images, tmp_path, monkeypatch, "tests.fakes:SLOW_30MS")
    assert min(recorded.steady_ms) >= 30  # the fake's own check: a sleep never ends early
    # At least two paced epochs of 12 batches, each epoch's first batch reported apart.
    assert len(result.wait_ms) >= 2 * (12 - 1)
    _assert_waits_and_idle_are_the_recorded_ones(result, recorded)
    assert result.verdict == "input-bound"


def test_waits_and_idle_are_the_recorded_ones_with_read_ahead(tiny_images, tmp_path, monkeypatch):
    # A producer thread makes a batch every 30 ms while the step computes 20 ms: the first batch of
    # an epoch waits the full 30 ms, later ones what the producer has left (10 ms unless the host
    # held a side up).
    result, recorded = _recorded(
        tiny_images, tmp_path, monkeypatch, "tests.fakes:SLOW_30MS_READ_AHEAD"
    )
    # an epoch's first batch is made after it is asked for
    assert min(recorded.epoch_start_ms) >= 30
    _assert_waits_and_idle_are_the_recorded_ones(result, recorded)


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
        [
            "tests.fakes:CRASH",
            "tests.fakes:QUICK",
            "tests.fakes:RAISE",
            "tests.fakes:HANG",
            "tests.fakes:QUICK",
        ],
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
    assert (
        not psutil.pid_exists(child_pid)
        or psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE
    )


def test_runner_removes_its_scratch_folder(tiny_images, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    run(tiny_images, ["tests.fakes:HANG", "tests.fakes:QUICK"], timeout_s=4.0)
    assert list(tmp_path.iterdir()) == []
