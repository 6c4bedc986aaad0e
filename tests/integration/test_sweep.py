"""Sweeps over dataset sizes against fake scenarios whose memory growth is known exactly."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace

import pytest

from profiler.analysis.fits import CONSTANT, LINEAR
from profiler.base.settings import MeasureSettings, Target
from profiler.data.synthetic import prepare_data
from profiler.drivers.run import RunPlan
from profiler.drivers.sweep import SweepPlan, measure_sweep
from profiler.measuring.runner import Runner
from profiler.results.records import STATUS_OK, STATUS_SKIPPED
from tests.conftest import TINY_SPEC
from tests.helpers import profiler_command, subprocess_env

GROW = "tests.fakes:GROW_512KIB_PER_SAMPLE"
CONSTANT_80 = "tests.fakes:CONSTANT_80MB"
SETTINGS = MeasureSettings(
    batch_size=16,
    workers=1,
    epochs=2,
    idle_epochs=1,
    step_ms=1.0,
    timeout_s=60.0,
    time_cap_s=0.3,
    idle_time_cap_s=0.3,
    window_s=0.02,
)


def plan(data_cache, sizes, names, settings=SETTINGS, spec=TINY_SPEC, target=4096):
    run = RunPlan(
        settings,
        tuple(Target.scenario(name) for name in names),
        spec,
        data_cache,
        measure_ceiling=False,
    )
    return SweepPlan(run, sizes, target_samples=target, memory_budget_mib=100_000.0)


def sweep(data_cache, sizes, names, available_mib):
    saved = []
    result = measure_sweep(
        plan(data_cache, sizes, names), save=saved.append, available_mib=lambda: available_mib
    )
    return result, saved


def test_known_growth_is_fitted_and_a_size_too_big_is_skipped(data_cache, no_leftover_children):
    # 512 KiB per sample: 32, 64 and 128 MiB at 64, 128 and 256 samples; at 2048 it would hold
    # 1 GiB, more than the 700 MiB made to look available, so it must not start there.
    result, saved = sweep(
        data_cache, (64, 128, 256, 2048), [GROW, CONSTANT_80], available_mib=700.0
    )
    assert len(saved) == 8, "the sweep is saved after every scenario"
    growths = {g.name: g for g in result.growths}
    grow, constant = growths[GROW], growths[CONSTANT_80]
    assert grow.sizes == (64, 128, 256)
    assert grow.memory.model == LINEAR
    assert grow.memory.slope * 1024 == pytest.approx(512, rel=0.10)  # KiB per sample
    assert constant.sizes == (64, 128, 256, 2048)
    assert constant.memory.model == CONSTANT
    assert constant.memory.intercept == pytest.approx(80, rel=0.15)

    skipped = next(r for r in result.runs[-1].scenarios if r.name == GROW)
    assert skipped.status == STATUS_SKIPPED
    assert "exceeds the 700 MiB of memory available" in skipped.error
    assert "fitted as linear on 3 sizes" in skipped.error
    assert skipped.wall_s is None, "a skipped scenario starts no worker"
    assert all(r.status == STATUS_OK for run in result.runs[:-1] for r in run.scenarios)


REAL_DATA = "tests.fakes:REAL_DATA"


def test_sweep_command_writes_fits_plots_and_a_pick(tmp_path, no_leftover_children):
    # A pick is certain: REAL_DATA streams the dataset's own samples (its data checks out) and holds
    # no more memory at 384 samples than at 96, well within 2 GiB beside its baseline; epoch times
    # always fit a line through three sizes. preload, whose decoded data alone is 4.6 GiB at 100,000
    # samples, cannot fit.
    output = tmp_path / "reports"
    completed = subprocess.run(
        profiler_command(
            "sweep",
            "--scenario",
            f"preload,{REAL_DATA}",
            "--samples",
            "96,192,384",
            "--image-size",
            "64",
            "--source-size",
            "64",
            "--batch-size",
            "32",
            "--epochs",
            "1",
            "--step-ms",
            "2",
            "--time-cap",
            "0.3",
            "--idle-time-cap",
            "0.3",
            "--target-samples",
            "100000",
            "--memory-budget",
            "2GiB",
            "--data-dir",
            str(tmp_path / "data"),
            "--output",
            str(output),
        ),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr + completed.stdout
    (folder,) = output.iterdir()
    data = json.loads((folder / "sweep.json").read_text())
    assert data["kind"] == "sweep" and [run["data"]["spec"]["samples"] for run in data["runs"]] == [
        96,
        192,
        384,
    ]
    fits = {fit["name"]: fit for fit in data["fits"]}
    # preload holds at least the decoded data, 48 KiB a sample.
    assert fits["preload"]["memory"]["model"] == "linear"
    assert fits["preload"]["memory"]["slope"] * 1024 >= 48
    predictions = {p["name"]: p for p in data["predictions"]}
    assert predictions["preload"]["fits"] is False  # over 4.5 GiB at 100,000 samples
    assert predictions[REAL_DATA]["fits"] is True and predictions[REAL_DATA]["problem"] is None
    assert data["advice"]["name"] == REAL_DATA
    assert f"Pick {REAL_DATA} for 100,000 samples" in " ".join(completed.stdout.split())
    report = (folder / "report.md").read_text()
    assert "memory_vs_samples.png" in report and "epoch_vs_samples.png" in report
    assert (folder / "memory_vs_samples.png").stat().st_size > 10_000
    assert (folder / "epoch_vs_samples.png").stat().st_size > 10_000


def test_preload_peak_at_twice_the_largest_size_is_predicted_within_15_percent(
    data_cache, no_leftover_children
):
    spec = replace(TINY_SPEC, height=64, width=64, source_size=64)
    settings = replace(SETTINGS, epochs=1, timeout_s=180.0)
    swept = measure_sweep(
        plan(data_cache, (200, 400, 800, 1600), ["preload"], settings, spec, target=3200)
    )
    (growth,) = swept.growths
    # Memory only: epochs of a few milliseconds are too noisy here to extrapolate, and need not be.
    assert growth.memory.unreliable_reason() is None
    with Runner(prepare_data(replace(spec, samples=3200), data_cache)[0], settings) as runner:
        real = runner.run(Target.scenario("preload"))
    assert real.status == STATUS_OK, real.error
    predicted_growth = growth.memory.predict(3200)
    # The growth above the baseline is the part that is predicted: judge it alone, not diluted by
    # the half a GiB of TensorFlow that both sides share.
    assert predicted_growth == pytest.approx(real.peak_rss_mib, rel=0.15)


def test_run_skips_a_strategy_whose_decoded_dataset_exceeds_available_memory(
    tiny_images, no_leftover_children
):
    # 70 samples of 24x32x3 float32 are 0.6 MiB: with 0.5 MiB available, preload cannot hold them.
    with Runner(tiny_images, SETTINGS, available_mib=lambda: 0.5) as runner:
        held = runner.run(Target.scenario("preload"))
        streaming = runner.run(Target.scenario(CONSTANT_80))
    assert held.status == STATUS_SKIPPED
    assert "holds the whole decoded dataset, 0.6 MiB at least" in held.error
    assert "exceeds the 0.5 MiB of memory available now" in held.error
    assert held.wall_s is None and held.peak_rss_mib is None
    assert streaming.status == STATUS_OK, "a scenario without a forecast is not held back"


def test_epoch_time_predicted_far_beyond_the_sizes_grows_with_the_samples(
    data_cache, no_leftover_children
):
    settings = replace(SETTINGS, workers=2, time_cap_s=0.5, timeout_s=180.0)
    swept = measure_sweep(
        plan(
            data_cache,
            # Sizes far apart: at a few hundred samples an epoch's fixed part (a new iterator)
            # is as long as its per-sample part, and close sizes leave the slope to the noise.
            (250, 1000, 4000),
            ["cache", "generator_prefetch"],
            settings,
            target=1_000_000,
        )
    )
    predictions = {p.name: p for p in swept.predictions}
    assert set(predictions) == {"cache", "generator_prefetch"}
    for growth in swept.growths:
        prediction = predictions[growth.name]
        assert prediction.problem is None, prediction.problem
        low, high = prediction.epoch_s_interval
        assert low <= prediction.epoch_s <= high
        # An epoch of a million samples lasts longer than one of the largest size measured, by far.
        largest = growth.epoch_s[-1]
        assert prediction.epoch_s > 100 * largest
        assert (
            growth.epoch.predict(10**6) > growth.epoch.predict(10**5) > growth.epoch.predict(10**4)
        )
