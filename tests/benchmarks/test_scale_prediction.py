"""The scale fit's promise on this machine: what one local worker measured predicts two workers'
rate.

Bench-marked: it compares two rates measured a minute apart, which another job on the machine can
pull apart by more than the fit's error.
"""

from __future__ import annotations

import pytest

from profiler.analysis.scale_result import predicted_from_fewest
from profiler.base.settings import MeasureSettings, Target
from profiler.data.synthetic import DataSpec
from profiler.drivers.run import RunPlan
from profiler.drivers.scale import ScalePlan, measure_scale


def test_two_workers_are_predicted_from_one_within_a_fifth(data_cache):
    plan = RunPlan(
        MeasureSettings(time_cap_s=4.0),
        (Target.scenario("data_service"),),
        DataSpec(),
        cache_root=data_cache,
        measure_ceiling=False,
    )
    result = measure_scale(ScalePlan(plan, counts=(1, 2)))
    one, two = result.points
    assert one.ok and two.ok, (one.error, two.error)
    predicted = predicted_from_fewest(result.points, result.cores, 2)
    assert predicted == pytest.approx(two.samples_per_s, rel=0.20), (one, two)
