"""The tier hook: a test's folder puts it in its tier, and the fast tier refuses slow work."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

STARTS_TENSORFLOW = """
def test_builds_a_pipeline():
    import tensorflow as tf
    assert tf.data.Dataset.range(3).cardinality() == 3
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        "-p", "tests.tiers", "--strict-markers", "-p", "no:cacheprovider", *args
    )


def test_an_unmarked_tensorflow_test_in_integration_is_marked_slow(pytester):
    pytester.makepyfile(**{"integration/test_new": STARTS_TENSORFLOW})
    fast = _run(pytester, "--collect-only", "-q", "-m", "not slow")
    fast.assert_outcomes(deselected=1)
    slow = _run(pytester, "--collect-only", "-q", "-m", "slow")
    assert "integration/test_new.py::test_builds_a_pipeline" in slow.stdout.str()
    assert slow.parseoutcomes().get("deselected", 0) == 0


def test_bench_tests_run_only_when_the_expression_names_bench(pytester):
    pytester.makepyfile(
        **{
            "benchmarks/test_speed": "def test_fast_enough():\n    pass\n",
            "integration/test_slow": "def test_slow():\n    pass\n",
        }
    )
    slow = _run(pytester, "--collect-only", "-q", "-m", "slow")
    assert "test_slow" in slow.stdout.str() and "test_fast_enough" not in slow.stdout.str()
    bench = _run(pytester, "--collect-only", "-q", "-m", "bench")
    assert "test_fast_enough" in bench.stdout.str() and "test_slow.py" not in bench.stdout.str()
    everything = _run(pytester, "--collect-only", "-q")
    assert "test_fast_enough" not in everything.stdout.str()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (STARTS_TENSORFLOW, "the test imports TensorFlow"),
        (
            """
import multiprocessing

def test_spawns_a_worker():
    process = multiprocessing.get_context("spawn").Process(target=print)
    process.start()
    process.join()
""",
            "the test starts a worker process",
        ),
        (
            """
import subprocess, sys

def test_starts_the_cli():
    subprocess.run([sys.executable, "-m", "profiler", "list"], check=True)
""",
            "the test starts the CLI in a child",
        ),
        (
            """
import subprocess, sys

def test_starts_a_python_that_imports_tensorflow():
    child = subprocess.run(
        [sys.executable, "-c", "import tensorflow"], capture_output=True, text=True
    )
    assert child.returncode == 0, child.stderr
""",
            "ImportError",
        ),
    ],
)
def test_a_fast_test_doing_slow_work_fails_and_names_the_folder(pytester, body, says):
    pytester.makepyfile(**{"unit/test_new": body})
    result = _run(pytester, "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{says}*"])
    result.stdout.fnmatch_lines(["*move this test to tests/integration*"])


def test_the_same_work_in_integration_is_allowed(pytester):
    pytester.makepyfile(
        **{
            "integration/test_new": """
import subprocess, sys

def test_starts_a_python_child():
    subprocess.run([sys.executable, "-c", "print('hello')"], check=True)
"""
        }
    )
    _run(pytester, "-q", "-m", "slow").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("argv", "cli"),
    [
        (["/venv/bin/python", "-m", "profiler", "run"], True),
        (["/venv/bin/tf-pipeline-profiler", "list"], True),
        (
            [
                "/venv/bin/python",
                "-c",
                "import runpy; runpy.run_module('profiler', run_name='__main__')",
            ],
            True,
        ),
        # A Python that lives in a folder named after the project is no CLI.
        (["/tmp/tf-pipeline-profiler-ci.x1/bin/python", "-c", "print(1)"], False),
        (["/venv/bin/python", "-m", "profiler_extra"], False),
    ],
)
def test_the_cli_is_told_from_other_children(argv, cli):
    from tests.tiers import _starts_the_cli

    assert _starts_the_cli(argv) is cli
