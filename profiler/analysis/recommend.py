"""Which strategy to pick, and why: one rule for a run's measurements and for a sweep's predictions.

The rule, in order: keep the training step busy (idle under 5%, or within IDLE_TIE of the least
idle strategy), then prefer what the full dataset allows (memory that stays flat for a run, a
predicted peak within the budget for a sweep), then the fastest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from profiler.analysis.pairing import ratio_between
from profiler.base.moved import left_behind
from profiler.results.records import (
    DATA_DIFFERS,
    MODERATELY_INPUT_BOUND_AT,
    Pick,
    ReferenceRecord,
    ScenarioResult,
)

# Idle fractions within this of the least idle one count as equally busy. Fetching a ready batch
# from an eager iterator alone costs about 1 ms a step on a small machine, and that floor moves by
# a point or so from run to run; a sharp cut at 5% would flip the pick between runs.
IDLE_TIE = 0.02
# A rate whose 95% interval is wider than this either side says too little to rank: such a row is
# shown, and left out of the pick, which says so.
WIDE_RATE_INTERVAL = 0.5


def too_wide(result: ScenarioResult) -> bool:
    width = result.rate_half_width
    return width is not None and width > WIDE_RATE_INTERVAL


def busy_cut(least_idle: float) -> tuple[float, bool]:
    """(the most idle a strategy may be and still count as busy, whether any keeps the step
    busy)."""
    keeps_up = least_idle < MODERATELY_INPUT_BOUND_AT
    cut = least_idle + IDLE_TIE
    return (max(cut, MODERATELY_INPUT_BOUND_AT) if keeps_up else cut), keeps_up


def comparable(
    results: Sequence[ScenarioResult], reference: str | None
) -> tuple[str | None, list[ScenarioResult]]:
    """(what the ranked rows delivered, the rows that delivered something else). ``reference`` is
    what the dataset delivers; without one, the data most rows delivered (the first listed of
    equals) is it. A row checked against the dataset is judged by that check (a mismatch is noted as
    such), not here."""
    delivered = [r.delivered for r in results if r.ok and r.delivered is not None]
    if reference is None and delivered:
        reference = max(delivered, key=lambda d: (delivered.count(d), -delivered.index(d)))
    apart = [
        r
        for r in results
        if r.ok and r.data_status is None and r.delivered is not None and r.delivered != reference
    ]
    return reference, apart


def recommend(
    results: Sequence[ScenarioResult],
    at: str,
    reference: str | None = None,
    machine: ReferenceRecord | None = None,
) -> Pick | None:
    """Pick from one run: busy, then flat in memory (the dataset is assumed bigger than RAM), then
    fastest.

    ``at`` words the step for the reason, such as "at 20 ms/step"; only rows that delivered the same
    kind of sample (``reference``, see ``comparable``) are ranked together. ``machine``: the run's
    speed reference, which compares rates of targets measured in different groups.
    """
    compared_on, apart = comparable(results, reference)
    usable = [
        r
        for r in results
        if r.ok
        and r.idle_fraction is not None
        and r.samples_per_s
        and r.data_status != DATA_DIFFERS
        and not any(r is other for other in apart)
    ]
    wide = tuple(r.name for r in usable if too_wide(r))
    candidates = [r for r in usable if not too_wide(r)]
    if not candidates:
        if not wide:
            return None
        return Pick(
            None,
            f"every rate's 95% interval is wider than ±{WIDE_RATE_INTERVAL:.0%}: more --time-cap, "
            "or a quieter machine, narrows them",
            too_wide=wide,
        )
    pick = replace(_pick(candidates, at, machine), too_wide=wide)
    if not apart:
        return pick
    return replace(pick, not_compared=tuple(r.name for r in apart), compared_on=compared_on)


def _pick(candidates: list[ScenarioResult], at: str, machine: ReferenceRecord | None) -> Pick:
    least = min(candidates, key=_idle)
    cut, keeps_up = busy_cut(_idle(least))
    busiest = [r for r in candidates if _idle(r) <= cut]
    streaming = [r for r in busiest if r.memory_grows_with_data is not True]
    ranked, tied = ranked_with_ties(streaming or busiest, machine)
    best = ranked[0]
    if not keeps_up:
        reason = (
            f"no strategy keeps the step busy {at}; it waits least ({_figures(best, at)}). Add "
            "decode workers, decode less per sample, or store pre-decoded data"
        )
        pick = Pick(best.name, reason, _next_best(candidates, best))
    elif streaming:
        pick = _streaming_pick(best, least, ranked, candidates, at)
    else:
        # Only strategies that hold the whole dataset keep up: name the streaming fallback too.
        fallback = _best_streaming(candidates)
        reason = (
            f"it keeps the training step busy ({_figures(best, at)}), but its memory grows with "
            "the dataset"
        )
        if fallback is not None:
            reason += (
                f"; if the full dataset does not fit in RAM, pick {fallback.name} "
                f"({_figures(fallback, at)})"
            )
        pick = Pick(
            best.name,
            reason,
            fallback.name if fallback is not None else _next_best(candidates, best),
        )
    return _with_ties(pick, tied)


def ranked_with_ties(
    results: Sequence[ScenarioResult], machine: ReferenceRecord | None = None
) -> tuple[list[ScenarioResult], list[ScenarioResult]]:
    """Fastest first; those the fastest is not shown faster than by more than RATE_TIE are tied with
    it, and the tie is broken by TIE_RULE, so runs that cannot tell them apart pick the same one.

    The comparison is turn by turn where both were measured interleaved (profiler.analysis.pairing):
    a slow stretch of the machine slows both and cancels; otherwise their intervals must overlap.
    Ranked by the rate over the machine's reference where every one has it, for the same reason.
    """
    relative = all(r.reference_ratio is not None for r in results)
    ranked = sorted(
        results, key=lambda r: -((r.reference_ratio if relative else r.samples_per_s) or 0.0)
    )
    fastest = ranked[0]
    tied = [r for r in ranked if r is fastest or _tied(fastest, r, machine)]
    if len(tied) < 2:
        return ranked, []
    winner = break_tie(
        tied,
        list(results),
        [
            lambda r: 1.0 if r.disk_grows_with_data else 0.0,
            lambda r: _relative(_cpu_per_sample(r), _CPU_MARGIN),
            lambda r: (r.peak_rss_mib or 0.0) / MEMORY_MARGIN_MIB,
        ],
    )
    order = [winner] + [r for r in tied if r is not winner]
    return order + [r for r in ranked if r not in tied], order


# Rates the paired turns cannot tell apart by more than this count as tied: a pick must not turn on
# a difference the next run may reverse.
RATE_TIE = 0.05
# How a tie is broken, in order; a figure decides only where the two differ by more than its noise.
_CPU_MARGIN = 0.10
MEMORY_MARGIN_MIB = 16.0
TIE_RULE = (
    f"no disk before disk, then less CPU per sample (by more than {_CPU_MARGIN:.0%}), then less "
    f"peak memory (by more than {MEMORY_MARGIN_MIB:.0f} MiB), then the order of the scenario list"
)


def break_tie(tied: list[Any], listed: list[Any], keys: list[Callable[[Any], float | None]]) -> Any:
    """One of ``tied``, the same whatever order they come in: each key in turn keeps those less than
    one unit above the least (a key's unit is its noise), and the first of them in ``listed``
    wins."""
    keep = list(tied)
    for key in keys:
        values = {id(item): key(item) for item in keep}
        known = [v for v in values.values() if v is not None]
        if len(known) < len(keep):
            continue  # a figure some of them lack cannot decide between them
        least = min(known)
        # A difference, not least + 1: at 2**53 and beyond adding one is lost to rounding.
        keep = [item for item in keep if (values[id(item)] or 0.0) - least < 1.0]
    return min(keep, key=lambda item: next(i for i, other in enumerate(listed) if other is item))


def _relative(value: float | None, margin: float) -> float | None:
    """A positive figure on a scale where one unit is ``margin`` of it: log base (1 + margin)."""
    return None if value is None or value <= 0 else math.log(value) / math.log1p(margin)


def _cpu_per_sample(result: ScenarioResult) -> float | None:
    if result.cpu_s is None or not result.samples_per_epoch:
        return None
    return result.cpu_s / result.samples_per_epoch


def _tied(fastest: ScenarioResult, other: ScenarioResult, machine: ReferenceRecord | None) -> bool:
    ratio = ratio_between(fastest, other, machine)
    if ratio is None:
        return overlap(other.samples_per_s_ci, fastest.samples_per_s_ci)
    return ratio.interval[0] <= 1.0 + RATE_TIE


def overlap(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool:
    return a is not None and b is not None and a[0] <= b[1] and b[0] <= a[1]


def _with_ties(pick: Pick, tied: list[ScenarioResult]) -> Pick:
    if not tied:
        return pick
    others = [r.name for r in tied if r.name != pick.name]
    reason = (
        f"{pick.reason}. It is tied with {', '.join(others)}: turn by turn, neither is faster by "
        f"more than {RATE_TIE:.0%} at 95% confidence, and the tie goes by {TIE_RULE}"
    )
    return replace(pick, reason=reason, tied_with=tuple(others))


def _streaming_pick(
    best: ScenarioResult,
    least: ScenarioResult,
    ranked: list[ScenarioResult],
    candidates: list[ScenarioResult],
    at: str,
) -> Pick:
    busy = "keeps the training step busy"
    if _idle(best) >= MODERATELY_INPUT_BOUND_AT:
        busy = f"keeps the training step nearly as busy as {least.name} ({_idle(least):.1%} idle)"
    if all(r.memory_grows_with_data is False for r in ranked):
        among = "strategies whose memory stays flat as the dataset grows"
    else:
        among = "strategies not known to hold the whole dataset in memory"
    reason = f"it {busy} with the most headroom among {among} ({_figures(best, at)})"
    if best.memory_grows_with_data is None:
        reason += (
            "; its memory was measured at one size only, so whether it grows with the data is not "
            "known: 'sweep --pipeline' measures it at several"
        )
    runner_up = ranked[1].name if len(ranked) > 1 else _next_best(candidates, best)
    if best.disk_grows_with_data:
        reason += "; it writes the whole decoded dataset to disk, so that needs room for it"
        # As busy, nothing on disk: the answer where the room is short.
        diskless = [r for r in ranked if r.disk_grows_with_data is False]
        if diskless:
            reason += (
                f"; where it is short, {diskless[0].name} also keeps the step busy with nothing "
                f"on disk ({_figures(diskless[0], at)})"
            )
            runner_up = diskless[0].name
    return Pick(best.name, reason, runner_up)


def _idle(result: ScenarioResult) -> float:
    return result.idle_fraction if result.idle_fraction is not None else 1.0


def _figures(result: ScenarioResult, at: str) -> str:
    return (
        f"idle {result.idle_fraction:.1%} {at}, {result.samples_per_s:,.0f} samples/s flat out, "
        f"{result.peak_rss_mib or 0:+,.0f} MiB peak RSS"
    )


def _best_streaming(candidates: Sequence[ScenarioResult]) -> ScenarioResult | None:
    streaming = [r for r in candidates if r.memory_grows_with_data is not True]
    if not streaming:
        return None
    return min(streaming, key=lambda r: (_idle(r), -(r.samples_per_s or 0.0)))


def _next_best(candidates: Sequence[ScenarioResult], best: ScenarioResult) -> str | None:
    others = [r for r in candidates if r is not best]
    if not others:
        return None
    return min(others, key=lambda r: (_idle(r), -(r.samples_per_s or 0.0))).name


# Names that lived here in 0.2 and moved since, still found (with a DeprecationWarning).
__getattr__ = left_behind(__name__)
