from __future__ import annotations

from profiler.base.settings import MeasureSettings, Target
from profiler.measuring.admission import WORKER_MIB, Admission, plan_groups


def _groups(names: list[str], available_mib: float) -> list[list[str]]:
    admission = Admission(None, MeasureSettings(), lambda: available_mib, None)
    planned = plan_groups([(Target.scenario(name), None) for name in names], admission)
    return [[target.reference for target, _ in group] for group in planned]


def test_workers_share_a_group_while_their_memory_fits():
    # 60% of 2.5 workers' memory holds one worker; of 10 workers', five.
    names = ["generator", "parallel_map", "cache_file", "tfrecord"]
    assert _groups(names, 2.5 * WORKER_MIB) == [[name] for name in names]
    assert _groups(names, 10 * WORKER_MIB) == [names]


def test_a_scenario_that_cannot_be_frozen_is_measured_in_a_group_of_its_own():
    names = ["generator", "pydataset_processes", "parallel_map", "tfrecord"]
    assert _groups(names, 100 * WORKER_MIB) == [
        ["generator"],
        ["pydataset_processes"],
        ["parallel_map", "tfrecord"],
    ]
