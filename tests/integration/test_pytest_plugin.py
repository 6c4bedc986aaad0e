"""The pipeline_benchmark fixture, exercised from real pytest runs of user test modules."""

from __future__ import annotations

import json

USER_MODULE = '''
import os
import time


def make_dataset(batches=8, delay_s=0.0, allocate_mib=0):
    """Batches that take a known time each, optionally holding a block of known size."""
    import numpy as np
    import tensorflow as tf

    delay = float(os.environ.get("PIPELINE_DELAY_S", delay_s))
    held = np.ones(allocate_mib << 20, dtype=np.uint8) if allocate_mib else None

    def generate():
        for _ in range(batches):
            time.sleep(delay)
            yield np.zeros((4, 8, 8, 3), np.float32), np.zeros(4, np.int32)
        _ = held  # the closure keeps the block alive while the pipeline runs

    signature = (tf.TensorSpec((None, 8, 8, 3), tf.float32), tf.TensorSpec((None,), tf.int32))
    return tf.data.Dataset.from_generator(generate, output_signature=signature)
'''


def _write_user_tests(pytester, body: str) -> None:
    pytester.makepyfile(user_pipelines=USER_MODULE)
    pytester.makepyfile(test_user=("from user_pipelines import make_dataset\n\n" + body))


def test_fixture_reports_its_figures_in_pytest_benchmark_json(pytester):
    _write_user_tests(
        pytester,
        """
def test_pipeline(pipeline_benchmark):
    result = pipeline_benchmark(
        make_dataset, arguments={"delay_s": 0.01}, step_ms=5, epochs=3, idle_epochs=1
    )
    assert result.samples_per_epoch == 32 and result.batches_per_epoch == 8
""",
    )
    outcome = pytester.runpytest_subprocess("--benchmark-json=out.json", "-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=1)
    (bench,) = json.loads((pytester.path / "out.json").read_text())["benchmarks"]
    assert bench["stats"]["rounds"] == 3  # the warm-up epoch is not among them
    # 8 batches of 10 ms each: an epoch cannot take less than 80 ms.
    assert bench["stats"]["min"] >= 0.08 and bench["stats"]["median"] < 0.08 * 3
    extra = bench["extra_info"]
    for key in (
        "peak_rss_mib",
        "peak_pss_mib",
        "idle_fraction",
        "first_batch_s",
        "wait_p95_ms",
        "samples_per_s",
    ):
        assert key in extra, key
    # A batch takes at least 10 ms and the step 5 ms: even with tf.data's injected read-ahead the
    # step waits at least 10 - 5 ms for each batch, so at least half of the time. That holds for the
    # raw wait (sleeps never end early, load only lengthens them); the figure above the fetch floor
    # is smaller by the floor, which a loaded machine makes larger.
    assert 0.5 - 0.03 <= extra["idle_fraction_raw"] < 1
    assert 0 <= extra["idle_fraction"] <= extra["idle_fraction_raw"] and extra["fetch_floor_ms"] > 0
    assert extra["step_ms"] == 5


def test_compare_fail_catches_a_slower_pipeline_and_passes_the_same_one(pytester, monkeypatch):
    _write_user_tests(
        pytester,
        """
def test_pipeline(pipeline_benchmark):
    pipeline_benchmark(make_dataset, step_ms=5, epochs=5, idle_epochs=1)
""",
    )
    storage = f"file://{pytester.path / 'bench-store'}"
    common = ["-p", "no:cacheprovider", f"--benchmark-storage={storage}"]
    monkeypatch.setenv("PIPELINE_DELAY_S", "0.01")
    pytester.runpytest_subprocess(*common, "--benchmark-autosave").assert_outcomes(passed=1)
    # The fastest epoch: another job on the machine only lengthens epochs, and it lengthened the
    # median of the unchanged pipeline past the slower one's in a loaded run.
    gate = [*common, "--benchmark-compare", "--benchmark-compare-fail=min:50%"]
    unchanged = pytester.runpytest_subprocess(*gate)
    assert unchanged.ret == 0, unchanged.stdout.str()
    monkeypatch.setenv("PIPELINE_DELAY_S", "0.03")  # three times slower on purpose
    slower = pytester.runpytest_subprocess(*gate)
    assert slower.ret != 0
    output = slower.stdout.str() + slower.stderr.str()
    assert "Field 'min' has failed PercentageRegressionCheck" in output


def test_memory_budget_assertions(pytester):
    _write_user_tests(
        pytester,
        """
def test_within_budget(pipeline_benchmark):
    result = pipeline_benchmark(make_dataset, step_ms=1, epochs=1, idle_epochs=1)
    assert result.peak_rss_mib < 100


def test_over_budget(pipeline_benchmark):
    result = pipeline_benchmark(
        make_dataset, arguments={"allocate_mib": 200}, step_ms=1, epochs=1, idle_epochs=1
    )
    assert result.peak_rss_mib >= 200  # what it really allocates
    assert result.peak_rss_mib < 100, "over the memory budget"
""",
    )
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=1, failed=1)
    outcome.stdout.fnmatch_lines(
        ["*AssertionError: over the memory budget*", "*FAILED test_user.py::test_over_budget*"]
    )


def test_unimportable_pipelines_are_refused_with_the_fix(pytester):
    _write_user_tests(
        pytester,
        """
def test_lambda(pipeline_benchmark):
    pipeline_benchmark(lambda: make_dataset())


def test_local_function(pipeline_benchmark):
    def build():
        return make_dataset()

    pipeline_benchmark(build)


def test_wrong_return(pipeline_benchmark):
    pipeline_benchmark("user_pipelines:os.getcwd", epochs=1, idle_epochs=1)
""",
    )
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=3)
    outcome.stdout.fnmatch_lines(
        [
            "*the pipeline is a lambda, which a worker process cannot import: define it at module "
            "level*",
            "*the pipeline function build is defined inside test_local_function, so a worker "
            "process cannot import it: define it at module level*",
            "*pipeline user_pipelines:os.getcwd failed: TypeError: user_pipelines:os.getcwd "
            "returned str: return a tf.data.Dataset, or a pair (generator function, "
            "output_signature)*",
        ]
    )


def test_the_session_shows_idle_memory_and_first_batch_and_a_broken_budget_briefly(pytester):
    _write_user_tests(
        pytester,
        """
def test_budget(pipeline_benchmark):
    result = pipeline_benchmark(
        make_dataset, arguments={"allocate_mib": 96}, step_ms=5, epochs=2, idle_epochs=1
    )
    assert result.peak_rss_mib < 16
""",
    )
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=1)
    text = outcome.stdout.str()
    assert "pipeline_benchmark: idle, memory and first batch" in text
    header = next(line for line in text.splitlines() if line.startswith("test "))
    assert header.split() == [
        "test",
        "samples/s",
        "idle",
        "epoch",
        "start",
        "ms",
        "at",
        "step",
        "wait",
        "p95",
        "ms",
        "peak",
        "MiB",
        "RSS",
        "first",
        "batch",
        "s",
    ]
    row = next(line for line in text.splitlines() if line.startswith("test_user.py::test_budget "))
    _test_id, _rate, idle, start, step, unit, _wait, peak, first = row.split()
    assert (step, unit) == ("5", "ms") and idle.endswith("%") and float(first) > 0
    assert float(start.replace(",", "")) >= 0 and "epoch start: the median wait" in text
    assert int(peak.replace(",", "")) >= 96  # the block of 96 MiB the pipeline holds
    # The failed assertion names the result by its short summary, not its sixty fields.
    assert (
        "ScenarioResult('user_pipelines:make_dataset', " in text and "memory_timeline" not in text
    )
