"""Extrapolation to the target size and the pick, from sweeps built with known growth."""

from __future__ import annotations

from dataclasses import replace

import pytest

from profiler.analysis.forecast import NotMeasured, forecast_peak
from profiler.analysis.sweep_result import SweepResult, load_sweep, save_sweep
from profiler.base.errors import ProfilerError
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.data.synthetic import DataSpec
from profiler.results.files import load_run, save_run
from profiler.results.records import (
    STATUS_OK,
    STATUS_SKIPPED,
    DataRecord,
    RunResult,
    ScenarioResult,
)

SIZES = (1000, 2000, 4000, 8000)
BASELINE = 500.0


def measured(
    name, samples, mib_per_sample=0.0, constant_mib=20.0, s_per_sample=0.001, idle=0.03, disk=False
):
    return ScenarioResult(
        name=name,
        status=STATUS_OK,
        baseline_rss_mib=BASELINE,
        peak_rss_mib=constant_mib + mib_per_sample * samples,
        epoch_s=(0.05 + s_per_sample * samples,) * 3,
        idle_fraction=idle,
        samples_per_s=1 / s_per_sample,
        memory_grows_with_data=mib_per_sample > 0,
        disk_grows_with_data=disk,
    )


SETTINGS = MeasureSettings(step_ms=20.0)
SPEC = DataSpec(height=64, width=64, channels=3)


def sweep_of(laws, sizes=SIZES, target=20000, budget=8000.0):
    targets = tuple(Target.scenario(name) for name in laws)
    runs = tuple(
        RunResult(
            metadata=Metadata(),
            settings=SETTINGS,
            targets=targets,
            data=DataRecord(replace(SPEC, samples=size)),
            scenarios=tuple(measured(name, size, **law) for name, law in laws.items()),
        )
        for size in sizes
    )
    return SweepResult(
        metadata=Metadata(),
        settings=SETTINGS,
        targets=targets,
        spec=replace(SPEC, samples=sizes[0]),
        sizes=sizes,
        runs=runs,
        target_samples=target,
        memory_budget_mib=budget,
        budget_basis="--memory-budget",
    )


LAWS = {
    # Fastest, but holds 1 MiB per sample: 20,520 MiB at 20,000 samples.
    "preload": {"mib_per_sample": 1.0, "s_per_sample": 0.0005},
    "cache_file": {"constant_mib": 50.0, "s_per_sample": 0.002},
    "generator": {"constant_mib": 20.0, "s_per_sample": 0.01},
}


def test_picks_the_fastest_that_fits_not_the_faster_one_that_does_not():
    sweep = sweep_of(LAWS)
    predictions = {p.name: p for p in sweep.predictions}
    assert predictions["preload"].peak_mib == pytest.approx(BASELINE + 20 + 20000)
    assert predictions["preload"].fits is False
    assert predictions["cache_file"].peak_mib == pytest.approx(BASELINE + 50)
    assert predictions["cache_file"].epoch_s == pytest.approx(0.05 + 0.002 * 20000)
    advice = sweep.advice
    assert advice.name == "cache_file"
    assert advice.runner_up == "generator"
    assert "preload would be faster" in advice.reason and "20,520 MiB" in advice.reason


def test_a_pick_that_writes_the_dataset_to_disk_says_how_much():
    laws = dict(LAWS, cache_file={"constant_mib": 50.0, "s_per_sample": 0.002, "disk": True})
    advice = sweep_of(laws).advice
    assert advice.name == "cache_file"
    # 20,000 samples of 64x64x3 float32 are 48 KiB each: 937.5 MiB.
    assert "writes the decoded dataset to disk, about 938 MiB" in advice.reason


def test_with_a_large_budget_the_fastest_wins():
    assert sweep_of(LAWS, budget=64000.0).advice.name == "preload"


def test_a_strategy_that_keeps_the_step_busy_beats_a_faster_idle_one():
    laws = dict(LAWS, cache_file={"constant_mib": 50.0, "s_per_sample": 0.002, "idle": 0.30})
    assert sweep_of(laws).advice.name == "generator"


def test_too_few_sizes_give_no_pick_and_say_why():
    sweep = sweep_of(LAWS, sizes=(1000, 2000))
    advice = sweep.advice
    assert advice.name is None
    assert "at least 3" in advice.reason
    assert all(p.problem and "at least 3" in p.problem for p in sweep.predictions)


def test_nothing_fits_names_the_smallest_need():
    advice = sweep_of(LAWS, budget=100.0).advice
    assert advice.name is None
    assert "no strategy is predicted to fit" in advice.reason and "generator" in advice.reason


def test_far_beyond_the_measured_sizes_the_pick_is_flagged_as_estimate():
    assert "estimates" in sweep_of(LAWS, target=10**6, budget=10**7).advice.reason


def test_forecast_from_smaller_sizes():
    sweep = sweep_of(LAWS, sizes=(1000, 2000, 4000))
    forecast = forecast_peak(sweep.runs, "preload", 16000)
    assert forecast.peak_mib == pytest.approx(BASELINE + 20 + 16000)
    assert "linear" in forecast.basis
    assert forecast_peak(sweep.runs, "generator", 16000).peak_mib == pytest.approx(BASELINE + 20)
    # One size: a strategy holding the data is scaled up with it.
    one = sweep_of(LAWS, sizes=(1000,))
    assert forecast_peak(one.runs, "preload", 4000).peak_mib == pytest.approx(BASELINE + 4 * 1020)
    assert forecast_peak(one.runs, "never_ran", 4000) is None


def test_skipped_sizes_are_left_out_of_the_fit_and_listed():
    sweep = sweep_of(LAWS)
    last = sweep.runs[-1]
    skipped = ScenarioResult(name="preload", status=STATUS_SKIPPED, error="not started: too big")
    runs = (*sweep.runs[:-1], replace(last, scenarios=(skipped, *last.scenarios[1:])))
    growth = {g.name: g for g in replace(sweep, runs=runs).growths}["preload"]
    assert growth.sizes == SIZES[:-1]
    assert growth.not_measured == (NotMeasured(8000, STATUS_SKIPPED, "not started: too big"),)
    assert growth.memory.slope == pytest.approx(1.0)


def test_sweep_file_round_trip_and_kind_checks(tmp_path):
    sweep = sweep_of(LAWS)
    path = tmp_path / "sweep.json"
    save_sweep(sweep, path)
    loaded = load_sweep(path)
    assert loaded.advice == sweep.advice
    assert [g.memory for g in loaded.growths] == [g.memory for g in sweep.growths]
    with pytest.raises(ProfilerError, match="not 'profiler run'"):
        load_run(path)
    run_path = tmp_path / "results.json"
    save_run(sweep.runs[0], run_path)
    with pytest.raises(ProfilerError, match="not 'profiler sweep'"):
        load_sweep(run_path)


def test_a_pipeline_that_delivered_other_samples_is_left_out_of_the_pick():
    from profiler.results.records import Pick

    sweep = sweep_of(LAWS, budget=100000.0)
    fastest = sweep.advice.name
    runs = tuple(
        replace(
            run,
            recommendation=Pick(
                "x", "because", not_compared=(fastest,), compared_on="64x64x3 float32"
            ),
        )
        for run in sweep.runs
    )
    apart = replace(sweep, runs=runs)
    assert apart.advice.name not in (None, fastest)


def test_the_title_of_a_sweep_over_parts_of_a_users_folder_reads_as_a_sentence():
    from profiler.reporters.sweep import sweep_title

    sweep = sweep_of(LAWS, sizes=(300, 600), target=None)
    folder = DataRecord(
        replace(SPEC, kind="images", samples=300, path="/photos"),
        path="/photos",
        found=1501,
        typical_size="500x400",
        formats=("JPEG", "PNG"),
    )
    sweep = replace(sweep, runs=tuple(replace(run, data=folder) for run in sweep.runs))
    title = sweep_title(sweep)
    assert title.startswith(
        "Growth with dataset size (300, 600 samples): drawn from 1,501 JPEG/PNG"
    )
    assert "): of" not in title


@pytest.mark.parametrize(
    ("measured_sizes", "last_rows", "expected"),
    [
        # The stop came after the last row of the last size was kept: nothing is missing.
        (4, 3, "Sweep interrupted after every size and scenario was measured: nothing is missing."),
        (2, 3, "Sweep interrupted: 2 size(s) did not run."),
        (4, 2, "Sweep interrupted: scenarios not listed did not run."),
    ],
)
def test_an_interrupted_sweep_says_what_is_missing_and_nothing_more(
    measured_sizes, last_rows, expected
):
    from profiler.reporters.sweep import sweep_notes

    sweep = sweep_of(LAWS)
    runs = sweep.runs[:measured_sizes]
    runs = (*runs[:-1], replace(runs[-1], scenarios=runs[-1].scenarios[:last_rows]))
    notes = [note.text for note in sweep_notes(replace(sweep, runs=runs, interrupted=True))]
    assert [text for text in notes if text.startswith("Sweep interrupted")] == [expected]


def test_rows_cut_short_by_the_stop_are_counted():
    from profiler.reporters.sweep import sweep_notes
    from profiler.results.records import STATUS_INTERRUPTED

    sweep = sweep_of(LAWS)
    last = sweep.runs[-1]
    cut = replace(last.scenarios[-1], status=STATUS_INTERRUPTED)
    runs = (*sweep.runs[:-1], replace(last, scenarios=(*last.scenarios[:-1], cut)))
    notes = [note.text for note in sweep_notes(replace(sweep, runs=runs, interrupted=True))]
    assert "Sweep interrupted: 1 scenario(s) stopped before their figures were whole." in notes
