"""Ratios of turns taken side by side: the figures that survive a machine whose speed wanders.

Interleaved (profiler.measuring.turns), every worker and the machine's reference take one turn per
round, so two turns of the same round saw the same moment of the machine. A target's rate over
another's, or over the reference, is taken round by round and summarised by the median of those
ratios with its distribution-free interval: a slow stretch slows both sides of a ratio, and
cancels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from profiler.base.stats import median, median_interval
from profiler.results.records import ReferenceRecord, ScenarioResult

# Rounds two targets must share before their paired ratio says more than their separate intervals.
LEAST_PAIRS = 6


class Ratio(NamedTuple):
    """The median of round-by-round ratios, its 95% interval (at least 90% between groups: see
    ``ratio_between``), and how many rounds it rests on."""

    value: float
    interval: tuple[float, float]
    pairs: int


def by_round(rates: Sequence[float], rounds: Sequence[int | None]) -> dict[int, float]:
    """One rate per round: the median of a target's turns in it (one per process)."""
    gathered: dict[int, list[float]] = {}
    for rate, number in zip(rates, rounds, strict=False):
        if number is not None and number >= 0 and rate > 0:  # -1: taken in no round
            gathered.setdefault(number, []).append(rate)
    return {number: median(values) for number, values in gathered.items()}


def paired_ratio(
    top: dict[int, float], bottom: dict[int, float], least: int = LEAST_PAIRS
) -> Ratio | None:
    """The ratio top/bottom over the rounds both took a turn in; None with fewer than ``least``."""
    ratios = [top[number] / bottom[number] for number in top if number in bottom]
    if len(ratios) < least:
        return None
    return Ratio(median(ratios), median_interval(ratios), len(ratios))


def turns_of(result: ScenarioResult) -> dict[int, float]:
    return by_round(result.window_samples_per_s, result.turn_rounds)


def reference_turns(reference: ReferenceRecord | None) -> dict[int, float]:
    return {} if reference is None else by_round(reference.rates, reference.rounds)


def relative_turns(result: ScenarioResult, reference: ReferenceRecord | None) -> list[float]:
    """The target's rate over the reference's, one value per round both took a turn in."""
    mine, machine = turns_of(result), reference_turns(reference)
    return [mine[number] / machine[number] for number in mine if number in machine]


def ratio_between(
    a: ScenarioResult, b: ScenarioResult, reference: ReferenceRecord | None = None
) -> Ratio | None:
    """a's rate over b's: round by round where they shared rounds (one group), else each over the
    reference in its own rounds, whose medians' ratio stands for theirs (different groups).

    Across groups the interval divides the ends of two independent 95% intervals: it holds the
    true ratio whenever both hold theirs, at least 90% of the time."""
    direct = paired_ratio(turns_of(a), turns_of(b))
    if direct is not None:
        return direct
    top, bottom = relative_turns(a, reference), relative_turns(b, reference)
    if len(top) < LEAST_PAIRS or len(bottom) < LEAST_PAIRS:
        return None
    (top_low, top_high), (bottom_low, bottom_high) = median_interval(top), median_interval(bottom)
    return Ratio(
        median(top) / median(bottom),
        (top_low / bottom_high, top_high / bottom_low),
        min(len(top), len(bottom)),
    )


def reference_record(
    unit: str,
    rates: Sequence[float],
    rounds: Sequence[int],
    work_rates: Sequence[float] = (),
    work_rounds: Sequence[int] = (),
) -> ReferenceRecord | None:
    """The machine's reference over a run, or None where it took no turn; with the run's sample
    work where it was timed in the same turns."""
    if not rates:
        return None
    # Fewer turns than that give no 95% interval of a median, only their range.
    interval = median_interval(rates) if len(rates) >= LEAST_PAIRS else None
    return ReferenceRecord(
        unit,
        tuple(rates),
        tuple(rounds),
        median(rates),
        interval,
        tuple(work_rates),
        tuple(work_rounds),
    )


def with_reference(result: ScenarioResult, reference: ReferenceRecord | None) -> ScenarioResult:
    """``result`` with its rate over the reference's, round by round."""
    ratios = relative_turns(result, reference)
    if not ratios:
        return result
    interval = median_interval(ratios) if len(ratios) >= LEAST_PAIRS else None
    return replace(result, reference_ratio=median(ratios), reference_ratio_ci=interval)
