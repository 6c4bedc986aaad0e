"""The test tiers, as a pytest plugin: the folder decides, and the fast tier is guarded.

- ``tests/integration`` is the slow tier (real TensorFlow, worker processes, the CLI in a child):
  every test there is marked ``slow`` here, so a new one cannot forget the marker.
- ``tests/benchmarks`` is ``bench``: absolute timings and speed claims about this machine. Bench
  tests run only when the ``-m`` expression names ``bench``; ``-m slow`` replaces the default
  ``-m 'not slow'`` and would otherwise pull them in.
- Everything else is the fast tier. A test there that imports TensorFlow, spawns a worker or starts
  the CLI in a child fails at once, naming the folder it belongs in: the fast tier stays fast
  whoever writes the next test.
"""

from __future__ import annotations

import importlib.abc
import itertools
import multiprocessing.process
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SLOW_FOLDER = "integration"
BENCH_FOLDER = "benchmarks"
GUARDED_MODULE = "tensorflow"
ADVICE = (
    "the fast tier starts no TensorFlow, worker or CLI child: move this test to tests/integration"
)

# A child Python of a fast test imports this first (through PYTHONPATH): importing TensorFlow
# there fails with the same advice.
_CHILD_GUARD = f"""
import importlib.abc, sys
class _Guard(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {GUARDED_MODULE!r}:
            raise ImportError({ADVICE!r})
        return None
sys.meta_path.insert(0, _Guard())
"""


class FastTierViolation(RuntimeError):
    """A fast-tier test did what only the slow tier may."""


class _TensorFlowGuard(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == GUARDED_MODULE:
            raise FastTierViolation(f"the test imports TensorFlow: {ADVICE}")
        return None


def _starts_the_cli(args: object) -> bool:
    words = [str(a) for a in args] if isinstance(args, (list, tuple)) else str(args).split()
    module = any(
        word == "-m" and following == "profiler" for word, following in itertools.pairwise(words)
    )
    script = any(Path(word).name == "tf-pipeline-profiler" for word in words)
    return module or script or any("run_module('profiler'" in word for word in words)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: real TensorFlow, worker processes or the CLI in a child (every test in "
        "tests/integration; run with -m slow)",
    )
    config.addinivalue_line(
        "markers", "bench: speed claims and absolute timings (tests/benchmarks; run with -m bench)"
    )


def _tier_of(item: pytest.Item) -> str | None:
    path = Path(str(item.path))
    # Relative to the root, so that a checkout inside a folder named "integration" stays fast.
    parts = (
        path.relative_to(item.config.rootpath).parts
        if path.is_relative_to(item.config.rootpath)
        else path.parts
    )
    if BENCH_FOLDER in parts:
        return "bench"
    if SLOW_FOLDER in parts:
        return "slow"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = _tier_of(item)
        if tier is not None and item.get_closest_marker(tier) is None:
            item.add_marker(getattr(pytest.mark, tier))
    if "bench" in (config.option.markexpr or ""):
        return
    kept = [item for item in items if item.get_closest_marker("bench") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(
            items=[item for item in items if item.get_closest_marker("bench")]
        )
        items[:] = kept


@pytest.fixture(scope="session")
def _child_guard_dir() -> object:
    with tempfile.TemporaryDirectory(prefix="fast-tier-guard-") as folder:
        Path(folder, "sitecustomize.py").write_text(_CHILD_GUARD)
        yield folder


@pytest.fixture(autouse=True)
def _fast_tier_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> object:
    item = request.node
    if item.get_closest_marker("slow") or item.get_closest_marker("bench"):
        yield
        return
    guard_dir = request.getfixturevalue("_child_guard_dir")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [guard_dir, os.environ.get("PYTHONPATH")]))
    )
    original_popen_init = subprocess.Popen.__init__

    def guarded_popen_init(self, args, *more, **kwargs):
        if _starts_the_cli(args):
            raise FastTierViolation(f"the test starts the CLI in a child ({args!r}): {ADVICE}")
        env = kwargs.get("env")
        if env is not None and guard_dir not in env.get("PYTHONPATH", ""):
            env = dict(env)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [guard_dir, env.get("PYTHONPATH")]))
            kwargs["env"] = env
        original_popen_init(self, args, *more, **kwargs)

    def guarded_start(self):
        raise FastTierViolation(f"the test starts a worker process ({self.name}): {ADVICE}")

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_popen_init)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", guarded_start)
    tensorflow_loaded = GUARDED_MODULE in sys.modules
    finder = _TensorFlowGuard()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
    if not tensorflow_loaded and GUARDED_MODULE in sys.modules:
        pytest.fail(f"the test imported TensorFlow: {ADVICE}", pytrace=False)
