from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from profiler.analysis.recommend import recommend
from profiler.base.errors import ProfilerError
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.data.fingerprint import Fingerprint
from profiler.data.synthetic import DataSpec
from profiler.reporters.run import RunTerminalReporter
from profiler.results.files import FORMAT_VERSION, load_run, save_run
from profiler.results.records import DataRecord, Pick, RunResult, ScenarioResult, verdict_for

AT = "at 20 ms/step"
FINGERPRINT = Fingerprint(70, 5, (24, 32, 3), "float32", "int32", "00112233445566ff")


def scenario(name, idle, samples_per_s, grows=False, status="ok", **extra):
    return ScenarioResult(
        name=name,
        status=status,
        idle_fraction=idle,
        samples_per_s=samples_per_s,
        memory_grows_with_data=grows,
        peak_rss_mib=extra.pop("peak_rss_mib", 10.0),
        fingerprint=FINGERPRINT,
        fingerprint_matches=extra.pop("fingerprint_matches", True),
        **extra,
    )


@pytest.mark.parametrize(
    ("idle", "verdict"),
    [
        (0.0, "not input-bound"),
        (0.0499, "not input-bound"),
        (0.05, "moderately input-bound"),
        (0.1999, "moderately input-bound"),
        (0.2, "input-bound"),
        (None, None),
    ],
)
def test_verdict_thresholds(idle, verdict):
    assert verdict_for(idle) == verdict


def test_recommends_the_fastest_streaming_strategy_that_keeps_up():
    choice = recommend(
        [
            scenario("slow_stream", 0.01, 1000),
            scenario("fast_stream", 0.02, 3000),
            scenario("in_memory", 0.0, 90000, grows=True),
            scenario("waits", 0.4, 9000),
        ],
        at=AT,
    )
    assert choice.name == "fast_stream"
    assert choice.runner_up == "slow_stream"
    assert "memory stays flat" in choice.reason and "idle 2.0% at 20 ms/step" in choice.reason


def test_a_pick_that_fills_the_disk_names_the_one_as_busy_that_writes_nothing():
    results = [
        scenario("cache_file", 0.0, 60000, disk_grows_with_data=True),
        scenario("snapshot", 0.0, 50000, disk_grows_with_data=True),
        scenario("parallel_map_opencv", 0.005, 4000, disk_grows_with_data=False),
        scenario("generator", 0.35, 900, disk_grows_with_data=False),  # not busy: never named
    ]
    choice = recommend(results, at=AT)
    assert choice.name == "cache_file" and choice.runner_up == "parallel_map_opencv"
    assert (
        "where it is short, parallel_map_opencv also keeps the step busy with nothing on disk"
        in (choice.reason)
    )
    # nothing as busy writes nothing: no such clause, the next fastest follows
    choice = recommend(results[:2] + results[3:], at=AT)
    assert "nothing on disk" not in choice.reason and choice.runner_up == "snapshot"


def test_a_streaming_strategy_within_two_points_of_the_least_idle_counts_as_busy():
    choice = recommend(
        [scenario("cache", 0.036, 90000, grows=True), scenario("stream", 0.054, 3000)], at=AT
    )
    assert choice.name == "stream"
    assert "nearly as busy as cache (3.6% idle)" in choice.reason
    # Beyond two points it no longer does.
    choice = recommend(
        [scenario("cache", 0.036, 90000, grows=True), scenario("stream", 0.058, 3000)], at=AT
    )
    assert choice.name == "cache" and choice.runner_up == "stream"


def test_in_memory_winner_names_the_streaming_fallback():
    choice = recommend(
        [scenario("preload", 0.01, 90000, grows=True), scenario("stream", 0.09, 3000)], at=AT
    )
    assert choice.name == "preload"
    assert choice.runner_up == "stream"
    assert "if the full dataset does not fit in RAM, pick stream" in choice.reason


def test_when_nothing_keeps_up_the_least_idle_wins_with_advice():
    choice = recommend([scenario("a", 0.30, 5000), scenario("b", 0.25, 4000)], at="at 5 ms/step")
    assert choice.name == "b"
    assert choice.reason.startswith("no strategy keeps the step busy at 5 ms/step")


def test_failed_and_wrong_data_scenarios_are_never_recommended():
    choice = recommend(
        [
            scenario("broken", None, None, status="failed"),
            scenario("wrong", 0.0, 99999, fingerprint_matches=False),
            scenario("right", 0.10, 100),
        ],
        at=AT,
    )
    assert choice.name == "right"
    assert recommend([scenario("broken", None, None, status="crashed")], at=AT) is None


def _run(scenarios):
    return RunResult(
        metadata=Metadata(python="3.11"),
        settings=MeasureSettings(step_ms=20.0, batch_size=16),
        targets=tuple(Target.scenario(s.name) for s in scenarios),
        data=DataRecord(DataSpec(samples=70, height=24, width=32, source_size=48)),
        expected_fingerprint=FINGERPRINT,
        scenarios=tuple(scenarios),
        created="2026-11-24T12:00:00+00:00",
        recommendation=Pick("a", "because", None),
    )


def test_json_round_trip(tmp_path):
    run = _run(
        [
            scenario(
                "a",
                0.01,
                100.0,
                epoch_s=(0.5, 0.6),
                wait_ms=(1.0, 2.0),
                memory_timeline=((0.0, 500.0), (0.1, 520.0)),
                tf_data_options={"autotune": True},
            ),
            ScenarioResult(name="b", status="timeout", error="no result within --timeout 5 s"),
        ]
    )
    path = tmp_path / "results.json"
    save_run(run, path)
    data = json.loads(path.read_text())
    assert data["format_version"] == FORMAT_VERSION
    assert data["scenarios"][0]["verdict"] == "not input-bound"
    assert load_run(path) == run
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"], "no temporary file may remain"


def test_other_format_versions_and_malformed_files_are_refused(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"format_version": FORMAT_VERSION + 1, "scenarios": []}))
    with pytest.raises(
        ProfilerError, match=f"format version {FORMAT_VERSION + 1}, this profiler reads versions"
    ):
        load_run(path)
    path.write_text("{not json")
    with pytest.raises(ProfilerError, match="is not valid JSON"):
        load_run(path)
    path.write_text(json.dumps({"format_version": FORMAT_VERSION, "scenarios": [{"nom": 1}]}))
    with pytest.raises(ProfilerError, match="is malformed"):
        load_run(path)


def test_terminal_report_shows_rows_failures_precision_and_the_pick():
    run = _run(
        [
            scenario(
                "steady",
                0.01,
                2000.0,
                samples_per_s_ci=(1960.0, 2030.0),
                idle_fraction_ci=(0.008, 0.013),
            ),
            scenario(
                "capped",
                0.30,
                900.0,
                samples_per_s_ci=(800.0, 990.0),
                rate_capped=True,
                idle_fraction_ci=(0.27, 0.34),
                idle_capped=True,
            ),
            ScenarioResult(
                name="dead",
                status="crashed",
                error="worker killed by SIGKILL",
                log_path="logs/dead.log",
            ),
            scenario("liar", 0.0, 5000.0, fingerprint_matches=False),
            # A result of format 1 carries no interval: its epoch-to-epoch deviation is shown
            # instead.
            scenario("old", 0.02, 1000.0, batches_per_epoch=10, epoch_s=(0.5, 1.0, 0.5)),
        ]
    )
    stream = io.StringIO()
    RunTerminalReporter(stream, width=200, color=False).render(run)
    text = stream.getvalue()
    assert "Input pipelines feeding a 20 ms training step: 70 JPEG images" in text
    assert "2,000 ±2%" in text and "1.0% ±0.3" in text
    assert "900 ±11%*" in text and "30.0% ±4.0*" in text and "yes" in text
    assert "dead: crashed: worker killed by SIGKILL (log: logs/dead.log)" in text
    assert "liar: delivered different data" in text and "DIFFERS" in text
    assert "Time cap: the flat-out windows of capped ±11% stopped at --time-cap 1.5 s" in text
    assert "Time cap: the paced steps of capped ±4.0 stopped at --idle-time-cap" in text
    assert "by more than 10% for old sd 35%." in text
    assert "Rows without an interval (results format 1): sd," in " ".join(text.split())
    # Only rows of format 1: no header promises an interval.
    (old,) = [r for r in run.scenarios if r.name == "old"]
    stream = io.StringIO()
    RunTerminalReporter(stream, width=200, color=False).render(replace(run, scenarios=(old,)))
    alone = stream.getvalue()
    assert "±95%" not in alone and "sd 35%" in alone and "sd" in alone.split("Scenario")[1][:400]
    assert text.rstrip().endswith("Pick a: because.")


def test_an_idle_fraction_from_too_few_steps_shows_its_interval_unknown_and_says_why():
    few = scenario(
        "few",
        0.58,
        2000.0,
        samples_per_s_ci=(1960.0, 2030.0),
        window_samples_per_s=(2000.0,) * 6,
        wait_ms=(28.0,) * 14,
    )
    stream = io.StringIO()
    RunTerminalReporter(stream, width=200, color=False).render(_run([few]))
    text = " ".join(stream.getvalue().split())
    assert "58.0% ±?" in text and "±0.0" not in text
    assert "Idle interval unknown (±?) for few: fewer than 3 paced turns with steady steps" in text


def test_tied_strategies_are_named_and_the_tie_broken_by_the_stated_rule():
    common = dict(cpu_s=0.20, samples_per_epoch=1000)
    disk = scenario(
        "cache_file",
        0.01,
        30000.0,
        samples_per_s_ci=(27000.0, 33000.0),
        disk_grows_with_data=True,
        **common,
    )
    quick = scenario("snapshot_like", 0.01, 29000.0, samples_per_s_ci=(26000.0, 31000.0), **common)
    slow = scenario("slow", 0.01, 9000.0, samples_per_s_ci=(8800.0, 9100.0), **common)
    choice = recommend([disk, quick, slow], at=AT)
    # The two fastest cannot be told apart; the one that needs no disk wins, whichever order they
    # come in.
    assert choice.name == "snapshot_like" and choice.tied_with == ("cache_file",)
    assert "tied with cache_file" in choice.reason and "no disk before disk" in choice.reason
    assert recommend([quick, disk, slow], at=AT) == choice
    # Told apart: the fastest wins outright.
    apart = replace(quick, samples_per_s=20000.0, samples_per_s_ci=(19000.0, 21000.0))
    assert recommend([disk, apart, slow], at=AT).name == "cache_file"
    assert recommend([disk, apart, slow], at=AT).tied_with == ()
    # Less CPU per sample breaks a tie between two of a kind; a difference within 10% does not.
    cheap = replace(disk, name="cheap", cpu_s=0.10)
    assert recommend([disk, cheap], at=AT).name == "cheap"
    near = replace(disk, name="near", cpu_s=0.19)
    assert recommend([disk, near], at=AT).name == "cache_file"


@pytest.mark.parametrize("scale", [1.0, 2.0**60])
def test_a_tie_is_broken_the_same_at_any_magnitude(scale):
    from profiler.analysis.recommend import break_tie

    items = [object(), object(), object()]
    figures = {id(items[0]): 3.0 * scale, id(items[1]): 3.0 * scale, id(items[2]): 5.0 * scale}
    # Both of the least are kept; the first of them in the listed order wins, whatever order they
    # come in.
    assert break_tie(items[::-1], items, [lambda item: figures[id(item)]]) is items[0]


def test_a_rate_interval_wider_than_the_limit_is_shown_flagged_and_left_out_of_the_pick(tmp_path):
    # "wide" would win on its median, but its interval is ±7021%: "steady" is picked, and the
    # pick's record says which row was left out.
    wide = scenario("wide", 0.01, 9000.0, samples_per_s_ci=(100.0, 640890.0))
    steady = scenario("steady", 0.01, 3000.0, samples_per_s_ci=(2900.0, 3100.0))
    assert wide.rate_half_width == pytest.approx(70.21)
    choice = recommend([wide, steady], at="at 20 ms/step")
    assert choice.name == "steady" and choice.too_wide == ("wide",)
    run = replace(_run([wide, steady]), recommendation=choice)
    save_run(run, tmp_path / "run.json")
    assert load_run(tmp_path / "run.json").recommendation.too_wide == ("wide",)
    stream = io.StringIO()
    RunTerminalReporter(stream, width=200, color=False).render(run)
    text = " ".join(stream.getvalue().split())
    assert "9,000 ±7021%!" in text and "! an interval wider than ±50%" in text
    assert "Not ranked: wide, whose rate's 95% interval is wider than ±50%." in text
    # Nothing narrow enough: no pick, and why.
    alone = recommend([wide], at="at 20 ms/step")
    assert alone.name is None and alone.too_wide == ("wide",)
    stream = io.StringIO()
    RunTerminalReporter(stream, width=200, color=False).render(
        replace(_run([wide]), recommendation=alone)
    )
    assert "No recommendation: every rate's 95% interval is wider than ±50%" in " ".join(
        stream.getvalue().split()
    )


def test_a_machine_kept_busy_by_other_processes_is_said_in_one_line():
    quiet = [
        scenario("a", 0.01, 3000.0, other_busy_cores=0.1),
        scenario("b", 0.01, 2000.0, other_busy_cores=0.1),
    ]
    busy = [replace(quiet[0], other_busy_cores=0.9), replace(quiet[1], other_busy_cores=1.1)]
    lines = []
    for rows in (quiet, busy):
        stream = io.StringIO()
        RunTerminalReporter(stream, width=200, color=False).render(_run(rows))
        lines.append(" ".join(stream.getvalue().split()))
    assert "Machine load" not in lines[0]
    assert "Machine load: other processes kept 1.0" in lines[1]
    assert "(the most, 1.1, beside b)" in lines[1]
