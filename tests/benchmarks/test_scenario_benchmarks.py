"""The project's own regression suite: one pytest-benchmark benchmark per scenario, on small data.

Absolute times depend on the machine, so these run only on demand (``tox -e bench``) and are
compared against a baseline saved on the same machine; see the README.
"""

from __future__ import annotations

import pytest

from profiler.strategy.registry import registered


@pytest.mark.parametrize("name", list(registered()))
def test_scenario(pipeline_benchmark, name):
    result = pipeline_benchmark.scenario(name, epochs=5, idle_epochs=1)
    assert result.samples_per_epoch == 320
    assert result.fingerprint is not None and result.fingerprint.samples == 320
