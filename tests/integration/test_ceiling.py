"""The machine's ceiling for the data, against workloads of known cost."""

from __future__ import annotations

import json
import os
import time

import psutil
import pytest

from profiler.base.codec import decode, encode
from profiler.ceiling.limit import Ceiling, CeilingError, measure_ceiling
from tests.helpers import lasting


def spin_2ms(index: int) -> None:
    """A sample that costs exactly 2 ms of busy work."""
    deadline = time.perf_counter() + 0.002
    while time.perf_counter() < deadline:
        pass


# Where spin_2ms_noted notes when the ceiling's process first timed it.
FIRST_CALL_ENV = "CEILING_FIRST_CALL_FILE"


def spin_2ms_noted(index: int) -> None:
    """spin_2ms, the first call's time noted."""
    path = os.environ[FIRST_CALL_ENV]
    if not os.path.exists(path):
        with open(path, "w") as handle:
            handle.write(repr(time.time()))
    spin_2ms(index)


def test_known_per_sample_cost_is_measured(tiny_images):
    ceiling = measure_ceiling(tiny_images, cores=2, work=spin_2ms)
    # A deadline never ends early, so 2 ms is a floor; another job's preemptions only add to it
    # (2.36 ms beside a default run). Within 10% on a quiet machine:
    # tests/benchmarks/test_ratios.py.
    assert 0.002 <= ceiling.work_per_sample_s < 0.004
    assert ceiling.samples_per_s == pytest.approx(2 / ceiling.work_per_sample_s)
    assert ceiling.measured_samples >= 50
    assert ceiling.read_mb_per_s is None  # a replaced workload reads no files


def test_real_data_ceiling_counts_decoding_and_reading(tiny_images):
    ceiling = measure_ceiling(tiny_images, cores=2)
    assert 0 < ceiling.work_per_sample_s < 0.05
    assert ceiling.read_mb_per_s > 0 and ceiling.mb_per_sample > 0
    assert ceiling.samples_per_s == ceiling.compute_samples_per_s  # warm reads are in the work
    assert decode(Ceiling, json.loads(json.dumps(encode(ceiling)))) == ceiling


def test_more_cores_raise_a_compute_bound_ceiling(tiny_images):
    one = Ceiling(0.001, 1, 100)
    four = Ceiling(0.001, 4, 100)
    assert four.samples_per_s == pytest.approx(4 * one.samples_per_s)
    limited = Ceiling(0.001, 4, 100, read_mb_per_s=10.0, mb_per_sample=0.01, cold=True)
    assert limited.samples_per_s == pytest.approx(1000) and limited.bound_by == "reading"


def test_nothing_is_timed_until_quiet_returns_and_its_error_goes_up(
    tiny_images, tmp_path, monkeypatch
):
    first_call = tmp_path / "first-call"
    monkeypatch.setenv(FIRST_CALL_ENV, str(first_call))
    returned: list[float] = []

    def quiet() -> None:  # the workers importing: 1 s in which the process must time nothing
        time.sleep(1.0)
        returned.append(time.time())

    ceiling = measure_ceiling(tiny_images, cores=2, work=spin_2ms_noted, quiet=quiet)
    assert 0.002 <= ceiling.work_per_sample_s < 0.004
    assert float(first_call.read_text()) >= returned[0]

    def failing() -> None:
        raise RuntimeError("a worker's import went wrong")

    with pytest.raises(RuntimeError, match="a worker's import went wrong") as raised:
        measure_ceiling(tiny_images, cores=2, work=spin_2ms, quiet=failing)
    assert not isinstance(raised.value, CeilingError)  # not "no ceiling": the run's own error
    assert lasting(psutil.Process().children(recursive=True)) == []
