"""The tuner's rules on constructed results: what counts as better, the gain, the knobs' values, the
code."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from profiler.analysis.tune_result import (
    Configuration,
    KnobRecord,
    Trial,
    TunedStrategy,
    TuneResult,
    beats,
    gain_of,
    kept,
    pooled,
    tune_to_json,
    usable,
)
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.ceiling.limit import Ceiling
from profiler.reporters.tune import (
    TuneMarkdownReporter,
    TuneTerminalReporter,
    gap_text,
    snippet_lines,
    verdict,
)
from profiler.results.records import ScenarioResult
from profiler.strategy.scenario import AUTOTUNE, Knob, PipelineContext


def measured(rate: float, low: float, high: float, windows=(), **extra) -> ScenarioResult:
    values = dict(
        name="s",
        status="ok",
        samples_per_s=rate,
        samples_per_s_ci=(low, high),
        window_samples_per_s=tuple(windows),
        samples_match=True,
    )
    return ScenarioResult(**{**values, **extra})


def test_a_setting_is_kept_only_beyond_noise():
    best = measured(1000.0, 950.0, 1050.0)
    assert beats(measured(1100.0, 1040.0, 1190.0), best)  # its low end above 1,000 by over 3%
    assert not beats(measured(1100.0, 1020.0, 1190.0), best)  # above, but within the margin
    assert not beats(measured(1100.0, 990.0, 1190.0), best)  # faster, but within noise
    assert not beats(measured(900.0, 850.0, 950.0), best)


def test_a_best_from_another_run_is_never_paired_round_by_round():
    # Rounds are numbered from 0 in every run: round 3 of two runs were not side by side.
    best = measured(1000.0, 950.0, 1050.0, windows=[1000.0] * 8, turn_rounds=tuple(range(8)))
    result = measured(1020.0, 1000.0, 1040.0, windows=[2000.0] * 8, turn_rounds=tuple(range(8)))
    assert beats(result, best)  # paired, the windows say twice as fast
    assert not beats(result, best, same_run=False)  # apart: its own interval decides


# A machine whose speed wanders from round to round: every target's turn in a round sees the same.
MACHINE = (1.0, 0.62, 0.91, 1.04, 0.7, 0.97, 0.8, 0.88)


def in_turns(ratio: float) -> ScenarioResult:
    """A target at ``ratio`` times 1,000 samples/s, one turn in each round of MACHINE."""
    rates = [1000.0 * ratio * speed for speed in MACHINE]
    return measured(
        sorted(rates)[4], min(rates), max(rates), windows=rates, turn_rounds=range(len(rates))
    )


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [
        ((0.6, 1.0, 1.10, 1.11), 2),  # 3 and 4 threads tie: the first of them
        # Each 2-3% faster than the last: the fastest beats the first by 5%, not the second.
        ((1.05, 1.07, 1.10), 1),
        ((1.05, 1.07, 1.10)[::-1], 0),  # the same rates tried the other way round
        ((1.05, 1.20), 1),  # a clear winner
        ((0.8, 1.0, 1.02), None),  # nothing beyond the margin
    ],
)
def test_of_the_values_that_beat_the_best_the_first_the_fastest_does_not_beat_is_kept(
    ratios, expected
):
    assert kept([in_turns(ratio) for ratio in ratios], in_turns(1.0)) == expected


def test_a_setting_that_delivers_other_samples_or_fails_is_never_kept():
    best = measured(1000.0, 950.0, 1050.0)
    other = measured(5000.0, 4900.0, 5100.0, samples_match=False)
    failed = ScenarioResult(name="s", status="failed", error="boom")
    assert not usable(other) and not beats(other, best)
    assert not usable(failed) and not beats(failed, best)


def test_workers_of_one_configuration_pool_their_windows():
    first = measured(
        1000.0, 990.0, 1010.0, windows=[990.0, 1000.0, 1010.0], cpu_s=0.2, ceiling_fraction=0.5
    )
    second = measured(
        2000.0, 1990.0, 2010.0, windows=[1990.0, 2000.0, 2010.0], cpu_s=0.4, ceiling_fraction=1.0
    )
    both = pooled([first, second])
    assert both.samples_per_s == pytest.approx(1500.0) and both.processes == 2
    assert len(both.window_samples_per_s) == 6 and both.cpu_s == pytest.approx(0.3)
    assert both.ceiling_fraction == pytest.approx(0.75)
    low, high = both.samples_per_s_ci
    assert low < 1500 < high  # two workers that disagree widen it: the interval spans both


def test_the_gain_is_the_ratio_of_medians_with_an_interval_around_it():
    default = measured(
        1000.0, 980.0, 1020.0, windows=[990.0, 1000.0, 1010.0, 995.0, 1005.0, 1000.0]
    )
    best = measured(
        1500.0, 1470.0, 1530.0, windows=[1490.0, 1500.0, 1510.0, 1495.0, 1505.0, 1500.0]
    )
    gain, (low, high) = gain_of(default, best)
    assert gain == pytest.approx(1.5)
    assert low <= 1.5 <= high and high - low < 0.1


def test_a_knob_tries_every_thread_count_up_to_twice_the_cores_and_its_values_once():
    knob = Knob("map_parallelism", AUTOTUNE, (2, 8), threads=True)
    assert knob.choices(2, AUTOTUNE) == (1, 2, 3, 4, 8)
    # the value in use is not measured again
    assert knob.choices(2, 3) == (
        1,
        2,
        4,
        8,
    )
    ctx = PipelineContext(
        source=None, batch_size=4, workers=2, temp_dir=None, knobs={"map_parallelism": 3}
    )
    assert ctx.setting(knob) == 3
    assert (
        PipelineContext(source=None, batch_size=4, workers=2, temp_dir=None).setting(knob)
        == AUTOTUNE
    )


def test_a_tuned_target_is_named_by_its_settings():
    target = Target.tuned("parallel_map", {"map_parallelism": 2, "prefetch": 4})
    assert (
        target.name == "parallel_map[map_parallelism=2, prefetch=4]"
        and target.reference == "parallel_map"
    )
    assert Target.tuned("parallel_map", {}).name == "parallel_map"


def _tuned() -> TunedStrategy:
    knobs = (
        KnobRecord("map_parallelism", AUTOTUNE, (1, 2), code="num_parallel_calls={value}"),
        KnobRecord(
            "private_threadpool",
            0,
            (2,),
            code="options.threading.private_threadpool_size = {value}",
        ),
    )
    default = measured(6000.0, 5900.0, 6100.0, ceiling_fraction=0.5)
    best = measured(
        9000.0, 8900.0, 9100.0, ceiling_fraction=0.75, cpu_s=0.4, samples_per_epoch=1000
    )
    return TunedStrategy(
        "parallel_map",
        knobs,
        Configuration(
            {"map_parallelism": AUTOTUNE, "private_threadpool": 0}, 6000.0, (5900.0, 6100.0), 0.5
        ),
        Configuration(
            {"map_parallelism": 2, "private_threadpool": 2}, 9000.0, (8900.0, 9100.0), 0.75
        ),
        (Trial("", None, default), Trial("map_parallelism", 2, best)),
        gain=1.5,
        gain_ci=(1.45, 1.55),
        best_result=best,
        complete=True,
    )


def test_the_code_sets_only_what_changed_with_the_default_it_replaces():
    lines = snippet_lines(_tuned())
    assert lines == [
        "options = tf.data.Options()",
        "num_parallel_calls=2  # default: AUTOTUNE",
        "options.threading.private_threadpool_size = 2  # default: 0",
        "dataset = dataset.with_options(options)",
    ]
    assert verdict(_tuned()) == (
        "parallel_map with map_parallelism=2, private_threadpool=2: 9,000 samples/s (75% of "
        "ceiling) against 6,000 samples/s (50% of ceiling) at the defaults: 1.50x (95% interval "
        "1.45x-1.55x), the two measured alternately."
    )


def test_a_best_whose_final_comparison_shows_no_gain_beyond_noise_is_not_recommended():
    tuned = replace(_tuned(), gain=0.99, gain_ci=(0.68, 1.37))
    assert not tuned.gained and snippet_lines(tuned) == []
    assert verdict(tuned).startswith(
        "parallel_map: keep the defaults. The best of the search, map_parallelism=2, "
        "private_threadpool=2, measured 9,000 samples/s"
    )
    assert verdict(tuned).endswith(
        "0.99x (95% interval 0.68x-1.37x), the two measured alternately: no gain beyond noise."
    )


def test_a_search_stopped_early_says_so_and_recommends_nothing():
    tuned = replace(_tuned(), gain=None, gain_ci=None, complete=False)
    assert snippet_lines(tuned) == []
    assert (
        "stopped before the search finished; the best so far, map_parallelism=2, "
        "private_threadpool=2, measured 9,000 samples/s (75% of ceiling) in its round, not yet "
        "compared" in verdict(tuned)
    )
    result = TuneResult(
        Metadata(python="3.11"),
        MeasureSettings(),
        None,
        None,
        "2026-11-26T12:00:00+00:00",
        tuned=(tuned,),
        interrupted=True,
    )
    markdown = io.StringIO()
    TuneMarkdownReporter(markdown).render(result)
    assert "**The answer:** the tuning was stopped before it finished" in markdown.getvalue()
    assert (
        "It was stopped before it finished." in markdown.getvalue()
        and "```python\nnum_parallel" not in markdown.getvalue()
    )


def test_the_gap_to_the_ceiling_is_split_into_cpu_per_sample_and_idle_cores():
    ceiling = Ceiling(0.000150, 2, 1000)  # 13,333 samples/s
    # 400 µs of CPU a sample: 2 cores allow 5,000/s, 38% of the ceiling; 9,000/s is impossible then,
    # so take 4,000/s: 80% of that.
    text = gap_text(measured(4000.0, 3900.0, 4100.0, cpu_s=0.4, samples_per_epoch=1000), ceiling)
    assert (
        "400 µs of CPU per sample" in text
        and "at most 5,000 samples/s (38% of the ceiling)" in text
    )
    assert "it reached 80%" in text and "the rest of the time the cores stood idle" in text
    # Another process kept one core busy throughout: one core was the pipeline's, which allows
    # 2,500/s; 2,400/s is 96% of that, and no core stood idle.
    loaded = replace(
        measured(2400.0, 2350.0, 2450.0, cpu_s=0.4, samples_per_epoch=1000), other_busy_cores=1.0
    )
    text = gap_text(loaded, ceiling)
    assert "1.0 of them kept busy by other processes" in text and "at most 2,500 samples/s" in text
    assert "it reached 96%; it kept the cores left to it busy" in text and "stood idle" not in text


def test_the_results_file_holds_default_and_best_with_their_rates():
    result = TuneResult(
        Metadata(python="3.11"),
        MeasureSettings(),
        None,
        None,
        "2026-11-26T12:00:00+00:00",
        tuned=(_tuned(),),
    )
    data = tune_to_json(result)
    assert data["kind"] == "tune" and data["format_version"] == 3
    entry = data["tuned"][0]
    assert (
        entry["default"]["settings"]["map_parallelism"] == AUTOTUNE
        and entry["default"]["samples_per_s"] == 6000
    )
    assert (
        entry["best"]["settings"]["map_parallelism"] == 2 and entry["best"]["samples_per_s"] == 9000
    )
    terminal, markdown = io.StringIO(), io.StringIO()
    TuneTerminalReporter(terminal, width=120, color=False).render(result)
    TuneMarkdownReporter(markdown).render(result)
    assert "num_parallel_calls=2  # default: AUTOTUNE" in terminal.getvalue()
    assert "## parallel_map" in markdown.getvalue() and "1.50x" in markdown.getvalue()
    assert (
        "**The answer: pick `parallel_map`**: parallel_map with map_parallelism=2"
        in markdown.getvalue()
    )


def test_before_the_defaults_are_measured_a_tune_expects_the_steps_of_an_average_candidate(
    monkeypatch,
):
    from types import SimpleNamespace

    from profiler.drivers import tune
    from profiler.drivers.run import RunPlan

    # Three candidates with 1, 2 and 3 knobs of 2, 3 and 4 values: knob steps of 3; 4, 5; 3, 4, 5
    # targets (each value beside the best so far).
    values = {"a": [(1, 2)], "b": [(1, 2, 3), (1, 2, 3, 4)], "c": [(1, 2), (1, 2, 3), (1, 2, 3, 4)]}

    def scenario(name: str) -> SimpleNamespace:
        knobs = [SimpleNamespace(default=0, number=i) for i in range(len(values[name]))]
        return SimpleNamespace(
            knobs=knobs, knob_choices=lambda knob, source, cores, current: values[name][knob.number]
        )

    monkeypatch.setattr(tune, "resolve", scenario)
    targets = tuple(Target.scenario(name) for name in values)
    run = RunPlan(MeasureSettings(), targets, None)
    # Named, each is tuned: 3 targets at the defaults, then every knob step of each.
    assert tune._expected_steps(tune.TunePlan(run, named=True)) == [3, 3, 4, 5, 3, 4, 5]
    # The best two of three: an average candidate has 2 steps and 8 targets; two of them, 4 steps
    # and 16 targets.
    assert tune._expected_steps(tune.TunePlan(run, top=2)) == [3, 4, 4, 4, 4]
    # One: 2 steps of 8 targets; more than there are candidates: the three of them, 6 steps.
    assert tune._expected_steps(tune.TunePlan(run, top=1)) == [3, 4, 4]
    assert tune._expected_steps(tune.TunePlan(run, top=5)) == [3, 4, 4, 4, 4, 4, 4]
