"""The scale fit and its advice, on points whose rates and CPU are constructed to known values."""

from __future__ import annotations

import json
import math

import pytest

from profiler.analysis.scale_result import (
    SCALE_FILE,
    ScalePoint,
    ScaleResult,
    advise,
    advise_cluster,
    fit,
    predicted_from_fewest,
    required_rate,
    save_scale,
)
from profiler.base.codec import decode
from profiler.base.metadata import collect_metadata
from profiler.base.settings import MeasureSettings
from profiler.results.records import STATUS_OK


def _point(
    workers: int,
    rate: float,
    half: float = 0.05,
    trainer: float = 50.0,
    dispatcher: float = 5.0,
    worker: float = 200.0,
    other: float = 0.0,
) -> ScalePoint:
    return ScalePoint(
        workers,
        STATUS_OK,
        samples_per_s=rate,
        samples_per_s_ci=(rate * (1 - half), rate * (1 + half)),
        trainer_us_per_sample=trainer,
        dispatcher_us_per_sample=dispatcher,
        workers_us_per_sample=worker,
        other_busy_cores=other,
    )


def test_workers_that_cost_no_cpu_fit_their_per_worker_rate_and_the_limits_their_cpu():
    # 200 samples/s a worker, 10 us of CPU per sample in all: nothing here holds them back.
    points = tuple(_point(n, 200.0 * n, trainer=4.0, dispatcher=1.0, worker=5.0) for n in (1, 2, 3))
    scale = fit(points, cores=2)
    assert scale.per_worker_samples_per_s == pytest.approx(200.0)
    assert scale.per_worker_samples_per_s_range == pytest.approx((190.0, 210.0))
    assert scale.counts_fitted == (1, 2, 3)
    assert scale.trainer_limit_samples_per_s == pytest.approx(2 * 1e6 / 4.0)
    assert scale.dispatcher_limit_samples_per_s == pytest.approx(1e6 / 1.0)
    assert scale.samples_per_s(5) == pytest.approx(1000.0)


def test_counts_that_fill_the_cores_are_left_out_of_the_per_worker_rate_and_predicted():
    # One worker: 4,000 samples/s at 250 us in all = one core busy; two: 7,000 at 280 us = 1.96
    # cores.
    one = _point(1, 4000.0, trainer=50.0, dispatcher=5.0, worker=195.0, other=0.1)
    two = _point(2, 7000.0, trainer=60.0, dispatcher=5.0, worker=215.0)
    scale = fit((one, two), cores=2)
    assert scale.counts_fitted == (1,)
    assert scale.per_worker_samples_per_s == pytest.approx(4000.0)
    # Here: the 1.9 cores others left free over the 250 us every role spends on a sample.
    assert scale.local_limit_samples_per_s == pytest.approx(1.9e6 / 250.0)
    assert predicted_from_fewest((one, two), 2, 2) == pytest.approx(7600.0)
    # Beyond this machine, workers add until the trainer's receiving (2 cores / 60 us) stops them.
    assert scale.samples_per_s(100) == pytest.approx(2e6 / 60.0)
    assert scale.bound_by == "trainer"


def test_the_advice_is_the_fewest_workers_whose_rate_reaches_the_step_and_its_range_the_intervals():
    scale = fit((_point(1, 200.0, half=0.10, trainer=4.0, dispatcher=1.0, worker=5.0),), cores=2)
    advice = advise(scale, step_ms=15.0, batch_size=8, accelerators=1, worker_cores=1)
    assert advice.required_samples_per_s == pytest.approx(8 * 1000 / 15)
    assert advice.workers_needed == math.ceil(533.33 / 200) == 3
    assert advice.workers_range == (3, 3)  # 533/220 and 533/180 both round up to 3
    four = advise(scale, step_ms=15.0, batch_size=8, accelerators=4, worker_cores=1)
    assert four.workers_needed == math.ceil(4 * 533.33 / 200) == 11
    assert four.workers_range == (10, 12)
    # Workers of 4 cores deliver 4 times a one-core worker's rate.
    wide = advise(scale, step_ms=15.0, batch_size=8, accelerators=4, worker_cores=4)
    assert wide.workers_needed == 3 and wide.per_worker_samples_per_s == pytest.approx(800.0)


def test_no_worker_count_is_advised_where_the_trainer_cannot_receive_the_rate():
    scale = fit((_point(1, 4000.0, trainer=100.0, dispatcher=5.0, worker=150.0),), cores=2)
    advice = advise(scale, step_ms=1.0, batch_size=64, accelerators=1, worker_cores=1)
    assert advice.required_samples_per_s == pytest.approx(64_000.0)
    assert scale.trainer_limit_samples_per_s == pytest.approx(20_000.0)
    assert advice.workers_needed is None and advice.bound_by == "trainer"


def test_a_cluster_is_judged_on_its_own_measured_rate_per_worker():
    cluster = _point(2, 400.0, half=0.05)
    short = advise_cluster(cluster, step_ms=15.0, batch_size=8, accelerators=1, cores=2)
    assert short.cluster_workers == 2 and short.keeps_busy is False
    assert short.workers_needed == 3 and short.more_workers == 1
    enough = advise_cluster(cluster, step_ms=50.0, batch_size=8, accelerators=1, cores=2)
    assert enough.keeps_busy is True and enough.more_workers == 0


def test_a_step_of_zero_needs_an_endless_rate():
    assert required_rate(0.0, 32, 1) == math.inf


def test_scale_json_has_its_kind_the_rates_the_fit_and_the_advice(tmp_path):
    points = (_point(1, 200.0, worker=5.0), _point(2, 400.0, worker=5.0))
    scale = fit(points, cores=2)
    advice = advise(scale, 15.0, 8, 1, 1)
    result = ScaleResult(
        collect_metadata(), MeasureSettings(), None, "now", 2, (1, 2), points, scale, advice
    )
    save_scale(result, tmp_path / SCALE_FILE)
    data = json.loads((tmp_path / SCALE_FILE).read_text())
    assert data["kind"] == "scale" and data["format_version"] == 3
    assert [p["samples_per_s"] for p in data["points"]] == [200.0, 400.0]
    assert data["advice"]["workers_needed"] == 3
    assert data["fit"]["predicted_from_fewest"]["2"] == pytest.approx(400.0)
    fields = {k: v for k, v in data.items() if k not in ("format_version", "kind")}
    fields["fit"] = {k: v for k, v in fields["fit"].items() if not k.startswith("predicted")}
    assert decode(ScaleResult, fields) == result


def test_a_service_row_note_parts_start_up_from_the_steady_rate_and_prices_the_transfer():
    from profiler.reporters.run_notes import service_line
    from profiler.results.records import RoleCpu, ScenarioResult

    result = ScenarioResult(
        "data_service",
        STATUS_OK,
        build_s=5.0,
        first_batch_s=5.25,
        samples_per_s=6000.0,
        service_workers=2,
        cpu_roles=(
            RoleCpu("trainer", 50.0),
            RoleCpu("dispatcher", 5.0),
            RoleCpu("service workers", 200.0),
        ),
    )
    text = service_line(result, batch_size=32)
    assert "5.0 s to build" in text and "0.25 s more to the job's first batch" in text
    assert "6,000 samples/s from 2 worker(s), 3,000 per worker" in text
    # 32 samples x 55 us = 1.76 ms of transfer, of which the trainer 1.60 and the dispatcher 0.16.
    assert "the transfer 1.76 ms (the trainer receiving 1.60 ms, the dispatcher 0.16 ms)" in text
    assert "decoding and sending 6.40 ms" in text
    assert (
        service_line(
            ScenarioResult("parallel_map", STATUS_OK, build_s=0.1, samples_per_s=9000.0), 32
        )
        is None
    )


def test_a_cluster_too_fast_for_this_trainer_gets_no_worker_count():
    # The trainer spends 100 us a sample receiving: 2 cores take at most 20,000 samples/s.
    cluster = _point(2, 4000.0, trainer=100.0)
    advice = advise_cluster(cluster, step_ms=1.0, batch_size=64, accelerators=1, cores=2)
    assert (
        advice.workers_needed is None
        and advice.more_workers is None
        and advice.bound_by == "trainer"
    )


def test_the_limit_here_never_falls_below_the_rate_it_was_read_at():
    # Others kept 0.8 of 2 cores busy, and the roles 1.5 (read apart, they add up to more than 2).
    one = _point(1, 6000.0, trainer=50.0, dispatcher=0.0, worker=200.0, other=0.8)
    scale = fit((one,), cores=2)
    assert scale.local_limit_samples_per_s == pytest.approx(6000.0)
    assert predicted_from_fewest((one,), 2, 1) == pytest.approx(6000.0)


def test_counts_held_at_the_dispatcher_s_limit_are_left_out_of_the_per_worker_rate():
    # 1,000 samples/s a worker on 16 cores, the dispatcher at 250 us a sample: at most 4,000 in all.
    points = tuple(
        _point(n, min(1000.0 * n, 4000.0), trainer=10.0, dispatcher=250.0, worker=5.0)
        for n in range(1, 9)
    )
    scale = fit(points, cores=16)
    assert scale.dispatcher_limit_samples_per_s == pytest.approx(4000.0)
    assert scale.counts_fitted == (1, 2, 3)
    assert scale.per_worker_samples_per_s == pytest.approx(1000.0)
    assert scale.bound_by == "dispatcher"


def test_a_count_is_held_back_by_the_cores_other_processes_left_free():
    # Another job keeps one of two cores busy: 1.2 cores of roles fill what is left.
    one = _point(1, 2000.0, trainer=50.0, dispatcher=5.0, worker=195.0, other=1.0)
    two = _point(2, 4800.0, trainer=50.0, dispatcher=5.0, worker=195.0, other=1.0)
    assert fit((one, two), cores=2).counts_fitted == (1,)


def test_each_count_is_saved_as_its_row_is_kept_before_its_workers_end(monkeypatch):
    """A SIGKILL between a count's row and the end of its servers must not cost the count: when
    each measure_run returns, the scale saved already holds its point."""
    from profiler.base.metadata import Metadata
    from profiler.base.settings import Target
    from profiler.drivers import scale
    from profiler.drivers.run import RunPlan
    from profiler.results.records import RunResult, ScenarioResult

    saved = []
    seen = []

    def measure_run(plan, save=None, **_):
        workers = plan.settings.service.workers
        row = ScenarioResult(name="service", status=STATUS_OK, samples_per_s=100.0 * workers)
        run = RunResult(Metadata(), plan.settings, plan.targets, None, scenarios=(row,))
        if save is not None:
            save(run)  # as the Keeper saves the row, before the worker is ended
        seen.append(saved[-1] if saved else None)
        return run

    monkeypatch.setattr(scale, "measure_run", measure_run)
    monkeypatch.setattr(scale, "collect_metadata", Metadata)
    monkeypatch.setattr(scale, "usable_cpus", lambda: 4)
    plan = scale.ScalePlan(RunPlan(MeasureSettings(), (Target.scenario("service"),), None), (1, 2))
    result = scale.measure_scale(plan, save=saved.append)
    assert [[(p.workers, p.samples_per_s) for p in s.points] for s in seen] == [
        [(1, 100.0)],
        [(1, 100.0), (2, 200.0)],
    ]
    assert [(p.workers, p.samples_per_s) for p in result.points] == [(1, 100.0), (2, 200.0)]
