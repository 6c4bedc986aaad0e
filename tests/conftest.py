from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from profiler.data.synthetic import DataSource, DataSpec, prepare_data

# Tiny but not trivial: 70 samples in batches of 16 leave a partial last batch of 6.
TINY_SPEC = DataSpec(kind="images", samples=70, height=24, width=32, source_size=48, seed=7)
TINY_BATCH = 16


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data-cache")


@pytest.fixture(scope="session")
def tiny_images(data_cache: Path) -> DataSource:
    return prepare_data(TINY_SPEC, data_cache)[0]


@pytest.fixture(scope="session")
def tiny_arrays(data_cache: Path) -> DataSource:
    spec = DataSpec(kind="arrays", samples=70, height=24, width=32, seed=7)
    return prepare_data(spec, data_cache)[0]


def _is_resource_tracker(process: psutil.Process) -> bool:
    # multiprocessing starts one tracker per parent process on the first spawn; it lives as long
    # as that parent does and exits with it.
    try:
        return any("resource_tracker" in part for part in process.cmdline())
    except psutil.Error:
        return False


@pytest.fixture
def no_leftover_children():
    """Fails the test if it leaves any child process of the test process behind."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    after = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    alive = [
        p
        for p in after
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE and not _is_resource_tracker(p)
    ]
    assert not alive, f"child processes left behind: {[p.cmdline() for p in alive]}"


# tests.tiers marks the slow and bench tiers by folder and guards the fast one.
pytest_plugins = ["pytester", "tests.tiers"]
