"""Interleaved turns against fakes of known cost: rates arithmetic predicts, a frozen pipeline's
buffers that do not flatter it, ratios that a slower machine leaves alone, a no-op knob never kept.

Fakes sleep rather than compute, so their rates hold on a loaded machine too.
"""

from __future__ import annotations

import itertools
import statistics

import pytest

from profiler.analysis.pairing import ratio_between, turns_of
from profiler.analysis.tune_result import beats
from profiler.base.settings import MeasureSettings, Target
from profiler.measuring.procedure import BURST_ERROR
from profiler.measuring.runner import Runner
from profiler.measuring.worker_session import WorkerSession
from profiler.results.records import STATUS_OK
from tests.fakes import STEP_FACTOR, STEP_FILE_ENV, SleepingSource

FAKES = "tests.fakes:"


def measure_together(source, targets, **settings):
    """The targets in one group, interleaved; their results and the run's reference turns."""
    merged = dict(batch_size=4, workers=1, step_ms=0.0, timeout_s=120.0, time_cap_s=2.0)
    merged.update(settings)
    with Runner(source, MeasureSettings(**merged)) as runner:
        results = runner.run_group([(target, None) for target in targets])
        turns = runner.reference
    for result in results:
        assert result.status == STATUS_OK, result.error
    return results, turns


def test_interleaved_fakes_give_the_rates_arithmetic_predicts_and_their_rounds(tiny_images):
    # 4 samples per 20 ms and per 25 ms: 200 and 160 samples/s, however the turns fall.
    (fast, slow), turns = measure_together(
        tiny_images,
        [Target.scenario(FAKES + "STEADY_20MS"), Target.scenario(FAKES + "STEADY_25MS")],
    )
    assert 200 * 0.93 < fast.samples_per_s <= 200 * 1.005
    assert 160 * 0.93 < slow.samples_per_s <= 160 * 1.005
    # Each took one turn per round, beside the other and beside the machine's reference.
    shared = set(turns_of(fast)) & set(turns_of(slow)) & set(turns.rounds)
    assert len(shared) >= 6
    ratio = ratio_between(fast, slow)
    assert ratio is not None and ratio.value == pytest.approx(200 / 160, rel=0.05)
    assert fast.group == slow.group == 1


def test_the_ceilings_sample_work_is_timed_in_the_same_rounds(tiny_images):
    # A sample's work that sleeps 2 ms: 500 samples/s on one core, in every round the reference
    # took a turn in (a sleep ends late, never early).
    source = SleepingSource(tiny_images.spec, tiny_images.root)
    _, turns = measure_together(
        source, [Target.scenario(FAKES + "STEADY_20MS"), Target.scenario(FAKES + "STEADY_25MS")]
    )
    rates, rounds = turns.split_work()
    assert len(rates) >= 6 and rounds == turns.rounds
    assert 500 * 0.8 < statistics.median(rates) <= 500 * 1.005, rates


def test_a_frozen_pipeline_does_not_fill_its_buffers_between_its_turns(tiny_images, monkeypatch):
    # A producer thread makes a batch of 4 every 20 ms into a buffer of 64: 200 samples/s, as long
    # as nothing runs while the others take their turns.
    pair = [Target.scenario(FAKES + "FILLING_20MS"), Target.scenario(FAKES + "STEADY_20MS")]
    (filling, _), _ = measure_together(tiny_images, pair, time_cap_s=1.5)
    assert 200 * 0.9 < filling.samples_per_s <= 200 * 1.05, filling.window_samples_per_s
    # Left running between its turns, the same pipeline reads faster than it is: the test above
    # would catch a freeze that did not stop its threads.
    monkeypatch.setattr(WorkerSession, "freeze", lambda self: None)
    (running, _), _ = measure_together(tiny_images, pair, time_cap_s=1.5)
    assert running.samples_per_s > 200 * 1.3, running.window_samples_per_s


def test_batches_arriving_in_bursts_are_timed_over_whole_bursts(tiny_images):
    # Three producers sleeping 60 ms each: 200 samples/s, in bursts of three that a thaw lines up
    # (the sleeps in flight end while the worker is frozen). A window of five batches (0.1 s) would
    # start or end inside a burst and be off by up to two batches in five.
    pair = [Target.scenario(FAKES + "BURSTY_60MS"), Target.scenario(FAKES + "STEADY_20MS")]
    # A time cap that lets a window hold enough bursts: it grows to a third of the cap at most,
    # at the rate its calibration window read. Beside the fast tier on 2 cores, that read half
    # the 50 batches/s, and a 3 s cap held windows of 24 batches; 1.5 s holds 32 even then.
    (bursty, _), _ = measure_together(tiny_images, pair, time_cap_s=4.5)
    assert 200 * 0.9 < bursty.samples_per_s <= 200 * 1.07, bursty.window_samples_per_s
    assert bursty.window_batches is not None and bursty.window_batches >= 2 / BURST_ERROR


def test_a_machine_that_slows_half_way_leaves_the_ratio_of_two_fakes(tiny_images, tmp_path):
    # Both fakes sleep STEP_FACTOR longer per batch from a moment half-way through: each one's
    # rate steps down, their ratio (25 ms against 20 ms a batch) does not.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STEP_FILE_ENV, str(tmp_path / "first-batch"))
        (fast, slow), _ = measure_together(
            tiny_images,
            [Target.scenario(FAKES + "STEPPING_20MS"), Target.scenario(FAKES + "STEPPING_25MS")],
            time_cap_s=3.0,
            precision=0.0,
        )
    for result in (fast, slow):  # the step fell inside the measured turns
        rates = result.window_samples_per_s
        assert max(rates) / min(rates) > STEP_FACTOR * 0.9, rates
    ratio = ratio_between(fast, slow)
    assert ratio is not None and ratio.value == pytest.approx(25 / 20, rel=0.05)


def test_a_knob_that_changes_nothing_is_never_kept(tiny_images):
    # Twenty trials: a configuration with the no-op knob set against the same without it, each
    # pair measured side by side in one group, as tune measures a value beside the best so far.
    default = Target.scenario(FAKES + "NOOP_KNOB")
    changed = Target.tuned(FAKES + "NOOP_KNOB", {"noop": 2})
    results, _ = measure_together(tiny_images, [default, changed] * 5, time_cap_s=1.0)
    machine = None
    kept = [
        (a.name, b.name)
        for a, b in itertools.permutations(results, 2)
        if a.name != b.name and beats(a, b, machine)
    ]
    trials = sum(1 for a, b in itertools.permutations(results, 2) if a.name != b.name)
    assert trials >= 20 and not kept, f"kept in {len(kept)} of {trials} trials: {kept}"
