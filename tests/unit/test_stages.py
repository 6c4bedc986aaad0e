"""The stage breakdown against fake stages that record how long they slept, and the bound it names.

Each fake stage reads ``time.perf_counter`` around its sleep, and a spy on the breakdown's timer
notes when each timed loop began and ended. A loop's figure per call can then be neither less than
the time its calls recorded (they ran inside it) nor more than the loop's own span: bounds taken
from what happened on this machine, however busy it is, rather than from the nominal sleeps.
"""

from __future__ import annotations

import time

import pytest

from profiler.ceiling import stage_times
from profiler.ceiling.stage_times import BATCH, CONSUMER, DECODE, READ, RESIZE, StageWork, breakdown
from profiler.reporters.stages import bounding_sentence

READ_S, DECODE_S, RESIZE_S, BATCH_PER_SAMPLE_S, CONSUME_S = 0.006, 0.015, 0.003, 0.001, 0.020
ROUNDING = 1e-9  # the bounds are exact; this covers only the rounding of sums of floats


class Recorder:
    """The fake stages: each sleeps and records (stage, entered, left) from
    ``time.perf_counter``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float]] = []

    def sleep(self, stage: str, seconds: float) -> None:
        entered = time.perf_counter()
        time.sleep(seconds)
        self.calls.append((stage, entered, time.perf_counter()))

    def read(self, index: int) -> int:
        self.sleep(READ, READ_S)
        return index

    def step(self, stage: str, seconds: float):
        def run(value, index):
            self.sleep(stage, seconds)
            return value

        return stage, run

    def batch(self, per_sample_s: float):
        def run(samples: list) -> list:
            self.sleep(BATCH, per_sample_s * len(samples))
            return samples

        return run


@pytest.fixture
def loops(monkeypatch) -> list[tuple[float, float]]:
    """(began, ended) of every loop the breakdown timed, read just outside the timer it calls."""
    spans: list[tuple[float, float]] = []
    timer = stage_times.timed

    def spy(*args, **kwargs):
        began = time.perf_counter()
        try:
            return timer(*args, **kwargs)
        finally:
            spans.append((began, time.perf_counter()))

    monkeypatch.setattr(stage_times, "timed", spy)
    return spans


def _bounds(
    recorder: Recorder, spans: list[tuple[float, float]]
) -> dict[frozenset[str], tuple[float, float]]:
    """For each timed loop, keyed by the stages its calls ran: (least, most) seconds per call of the
    loop.

    Least: the sleeps its calls recorded, which lie inside the timer's reading. Most: the loop's
    span.
    """
    found = {}
    for began, ended in spans:
        inside = [call for call in recorder.calls if began <= call[1] and call[2] <= ended]
        counts = {
            name: sum(1 for call in inside if call[0] == name)
            for name in {call[0] for call in inside}
        }
        assert len(set(counts.values())) == 1, f"a loop ran its stages unevenly: {counts}"
        calls = next(iter(counts.values()))
        slept = sum(left - entered for _, entered, left in inside)
        assert frozenset(counts) not in found, f"{sorted(counts)} timed twice"
        found[frozenset(counts)] = (slept / calls, (ended - began) / calls)
    return found


def _within(figure: float, bounds: tuple[float, float], what: str) -> None:
    least, most = bounds
    assert least * (1 - ROUNDING) <= figure <= most * (1 + ROUNDING), (
        f"{what}: {figure * 1e3:.4f} ms, but its calls recorded {least * 1e3:.4f} ms and its loop "
        f"lasted {most * 1e3:.4f} ms a sample"
    )


def _per_sample(bounds: tuple[float, float], batch_size: int) -> tuple[float, float]:
    return bounds[0] / batch_size, bounds[1] / batch_size


def test_each_stage_is_measured_as_its_calls_recorded_and_decode_bounds(loops):
    recorder = Recorder()
    work = StageWork(
        8,
        recorder.read,
        (recorder.step(DECODE, DECODE_S), recorder.step(RESIZE, RESIZE_S)),
        recorder.batch(BATCH_PER_SAMPLE_S),
    )
    stages = breakdown(work, batch_size=4, cores=2, min_s=0.05)
    found = _bounds(recorder, loops)
    # Each stage alone on the output of the one before, and the chain up to each stage.
    chain_decode, chain_resize = frozenset({READ, DECODE}), frozenset({READ, DECODE, RESIZE})
    assert set(found) == {
        frozenset({READ}),
        frozenset({DECODE}),
        frozenset({RESIZE}),
        frozenset({BATCH}),
        chain_decode,
        chain_resize,
    }
    alone_bounds = {name: found[frozenset({name})] for name in (READ, DECODE, RESIZE)}
    alone_bounds[BATCH] = _per_sample(found[frozenset({BATCH})], 4)
    assert [stage.name for stage in stages.stages] == [READ, DECODE, RESIZE, BATCH]
    for stage in stages.stages:
        _within(stage.alone_s, alone_bounds[stage.name], f"{stage.name} alone")
    cumulative = {stage.name: stage.cumulative_s for stage in stages.stages}
    _within(cumulative[READ], found[frozenset({READ})], "read cumulative")
    _within(cumulative[DECODE], found[chain_decode], "decode cumulative")
    _within(cumulative[RESIZE], found[chain_resize], "resize+normalize cumulative")
    _within(
        cumulative[BATCH],
        (
            found[chain_resize][0] + alone_bounds[BATCH][0],
            found[chain_resize][1] + alone_bounds[BATCH][1],
        ),
        "batch cumulative",
    )

    # What the calls recorded makes decode the costliest stage beyond doubt, so it is the bound.
    decode_least, decode_most = alone_bounds[DECODE]
    assert decode_least > max(most for name, (_, most) in alone_bounds.items() if name != DECODE), (
        alone_bounds
    )
    assert stages.bounding.name == DECODE
    least_total = sum(least for least, _ in alone_bounds.values())
    most_total = sum(most for _, most in alone_bounds.values())
    share = stages.share(stages.bounding)
    assert (
        decode_least / most_total * (1 - ROUNDING)
        <= share
        <= decode_most / least_total * (1 + ROUNDING)
    )
    rate = stages.samples_per_s(stages.bounding)
    assert 2 / decode_most * (1 - ROUNDING) <= rate <= 2 / decode_least * (1 + ROUNDING)
    assert bounding_sentence(stages).startswith("Decoding bounds this data")


def test_a_consumer_slower_than_all_the_work_on_every_core_is_the_bound(loops):
    recorder = Recorder()
    work = StageWork(
        4, recorder.read, (), recorder.batch(0.0), lambda: recorder.sleep(CONSUMER, CONSUME_S)
    )
    stages = breakdown(work, batch_size=2, cores=2, min_s=0.05)
    found = _bounds(recorder, loops)
    assert set(found) == {frozenset({READ}), frozenset({BATCH}), frozenset({CONSUMER})}
    consumer = stages.stages[-1]
    assert consumer.name == CONSUMER and not consumer.parallel
    consumer_least, consumer_most = _per_sample(found[frozenset({CONSUMER})], 2)
    _within(consumer.alone_s, (consumer_least, consumer_most), "consumer alone")
    # What the calls recorded: the consumer's one thread, at its fastest, is slower than the work
    # (read and batch) on both cores at its slowest; so it is the bound.
    work_most = found[frozenset({READ})][1] + _per_sample(found[frozenset({BATCH})], 2)[1]
    assert 1 / consumer_least < 2 / work_most, (consumer_least, work_most)
    assert stages.bounding is consumer
    assert bounding_sentence(stages).startswith(
        "The consumer taking ready batches bounds this data: in one thread"
    )


def test_a_chain_timed_cheaper_than_the_chain_before_it_is_shown_as_dear_as_that_one(monkeypatch):
    # Timings as a busy machine may give them: the chain up to the resize timed at 3.3 ms a sample,
    # below the 4.6 ms of the chain up to the decode. A cumulative figure never falls.
    from profiler.ceiling.decoder_rates import Timing

    scripted = iter([0.0005, 0.004, 0.0046, 0.0002, 0.0033, 0.00001])
    monkeypatch.setattr(stage_times, "timed", lambda *args: Timing(next(scripted), 10))
    work = StageWork(
        8,
        lambda index: index,
        ((DECODE, lambda value, index: value), (RESIZE, lambda value, index: value)),
        lambda samples: samples,
    )
    stages = breakdown(work, batch_size=4, cores=2, min_s=0.05)
    cumulative = [stage.cumulative_s for stage in stages.stages]
    assert [stage.name for stage in stages.stages] == [READ, DECODE, RESIZE, BATCH]
    assert cumulative[1] == pytest.approx(0.0046) and cumulative[2] == pytest.approx(0.0046)
    assert cumulative == sorted(cumulative)
