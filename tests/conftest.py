from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from profiler.data.synthetic import DataSource, DataSpec, prepare_data
from tests.helpers import lasting

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


@pytest.fixture
def no_leftover_children():
    """Fails the test if it leaves any child process of the test process behind."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    after = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    alive = lasting(after)
    assert not alive, f"child processes left behind: {[p.cmdline() for p in alive]}"


# tests.tiers marks the slow and bench tiers by folder and guards the fast one.
pytest_plugins = ["pytester", "tests.tiers"]
