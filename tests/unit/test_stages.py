"""The stage breakdown against stages whose cost is a known sleep, and the bound it names."""

from __future__ import annotations

import time

import pytest

from profiler.reporters.stages import bounding_sentence
from profiler.stages import BATCH, CONSUMER, StageWork, breakdown

READ_S, DECODE_S, RESIZE_S, BATCH_PER_SAMPLE_S = 0.006, 0.015, 0.003, 0.001


def _costing(seconds: float):
    def step(value, index):
        time.sleep(seconds)
        return value

    return step


def _read(index: int) -> int:
    time.sleep(READ_S)
    return index


def _batch(samples: list) -> list:
    time.sleep(BATCH_PER_SAMPLE_S * len(samples))
    return samples


def test_each_stage_is_measured_within_15_percent_and_decode_bounds():
    work = StageWork(8, _read, (("decode", _costing(DECODE_S)), ("resize+normalize", _costing(RESIZE_S))), _batch)
    stages = breakdown(work, batch_size=4, cores=2, min_s=0.05)
    alone = {stage.name: stage.alone_s for stage in stages.stages}
    assert alone["read"] == pytest.approx(READ_S, rel=0.15)
    assert alone["decode"] == pytest.approx(DECODE_S, rel=0.15)
    assert alone["resize+normalize"] == pytest.approx(RESIZE_S, rel=0.15)
    assert alone[BATCH] == pytest.approx(BATCH_PER_SAMPLE_S, rel=0.15)
    cumulative = {stage.name: stage.cumulative_s for stage in stages.stages}
    assert cumulative["decode"] == pytest.approx(READ_S + DECODE_S, rel=0.15)
    assert cumulative["resize+normalize"] == pytest.approx(READ_S + DECODE_S + RESIZE_S, rel=0.15)
    assert stages.bounding.name == "decode"
    total = READ_S + DECODE_S + RESIZE_S + BATCH_PER_SAMPLE_S
    assert stages.share(stages.bounding) == pytest.approx(DECODE_S / total, rel=0.15)
    assert stages.samples_per_s(stages.bounding) == pytest.approx(2 / DECODE_S, rel=0.15)
    assert bounding_sentence(stages).startswith("Decoding bounds this data")


def test_a_consumer_slower_than_all_the_work_on_every_core_is_the_bound():
    def consume():
        time.sleep(0.020)  # one thread: 2 samples per 20 ms, 100/s, against 2 cores / 6 ms = 333/s

    work = StageWork(4, _read, (), lambda samples: samples, consume)
    stages = breakdown(work, batch_size=2, cores=2, min_s=0.05)
    consumer = stages.stages[-1]
    assert consumer.name == CONSUMER and not consumer.parallel
    assert consumer.alone_s == pytest.approx(0.010, rel=0.15)
    assert stages.bounding is consumer
    assert bounding_sentence(stages).startswith("The consumer taking ready batches bounds this data: in one thread")
