"""The pick at a sweep's target size, from its predictions: the rule of profiler.analysis.recommend,
with predicted figures and a memory budget in place of measured ones."""

from __future__ import annotations

from collections.abc import Sequence

from profiler.analysis.fits import LONG_REACH
from profiler.analysis.forecast import Prediction
from profiler.analysis.recommend import MEMORY_MARGIN_MIB, break_tie, busy_cut, overlap
from profiler.base.units import plain, significant
from profiler.results.records import Pick


def pick_at_target(
    predictions: Sequence[Prediction], usable: set[str], budget_mib: float, at: str
) -> Pick:
    """Pick at a sweep's target size: busy, then predicted to fit the budget, then the shortest
    epoch."""
    if not predictions:
        return Pick(None, "nothing was measured")
    where = f"at {predictions[0].target_samples:,} samples in a {budget_mib:,.0f} MiB budget"
    rated = [p for p in predictions if p.name in usable and p.idle_fraction is not None]
    known = [p for p in rated if p.problem is None]
    fitting = [p for p in known if p.fits]
    unknown = [p for p in rated if p.problem is not None]
    if not fitting:
        return Pick(None, _nothing_fits(known, unknown, where))
    cut, keeps_up = busy_cut(min(_predicted_idle(p) for p in fitting))
    busy, tied = _predictions_with_ties([p for p in fitting if _predicted_idle(p) <= cut])
    best = busy[0]
    others = busy[1:] + sorted(
        (p for p in fitting if p not in busy),
        key=lambda p: (_predicted_idle(p), _predicted_epoch(p)),
    )
    what = (
        "the fastest strategy predicted to fit"
        if keeps_up
        else "of those predicted to fit, the one waiting least"
    )
    reason = (
        f"{what} {where}: {best.peak_mib:,.0f} MiB peak, {seconds(best.epoch_s)} per epoch flat "
        f"out, {best.idle_fraction:.1%} idle {at}"
    )
    if not keeps_up:
        reason += f" (none keeps the step busy {at}: add decode workers or store pre-decoded data)"
    if best.disk_mib is not None:
        reason += (
            f"; it writes the decoded dataset to disk, about {best.disk_mib:,.0f} MiB at that size"
        )
    faster = [
        p
        for p in known
        if not p.fits and _predicted_epoch(p) < _predicted_epoch(best) and _predicted_idle(p) <= cut
    ]
    if faster:
        quickest = min(faster, key=_predicted_epoch)
        reason += (
            f"; {quickest.name} would be faster ({seconds(quickest.epoch_s)}) but needs "
            f"{quickest.peak_mib:,.0f} MiB"
        )
    if unknown:
        reason += f"; {_unknown_text(unknown)}"
    if best.long_reach:
        reason += (
            f"; the target is over {plain(LONG_REACH)} times the largest size measured, so these "
            "are estimates"
        )
    others_tied = tuple(p.name for p in tied if p.name != best.name)
    if others_tied:
        reason += (
            f". It is tied with {', '.join(others_tied)}: their predicted epochs' ranges overlap, "
            f"and the tie goes by {TARGET_TIE_RULE}"
        )
    return Pick(best.name, reason, others[0].name if others else None, others_tied)


TARGET_TIE_RULE = (
    f"no disk before disk, then less peak memory (by more than {MEMORY_MARGIN_MIB:.0f} MiB), then "
    "the order of the list"
)


def _predictions_with_ties(
    candidates: list[Prediction],
) -> tuple[list[Prediction], list[Prediction]]:
    """Shortest epoch first; those whose predicted range overlaps the shortest one's are tied with
    it."""
    ranked = sorted(candidates, key=_predicted_epoch)
    fastest = ranked[0]
    tied = [
        p for p in ranked if p is fastest or overlap(p.epoch_s_interval, fastest.epoch_s_interval)
    ]
    if len(tied) < 2:
        return ranked, []
    winner = break_tie(
        tied,
        candidates,
        [
            lambda p: 0.0 if p.disk_mib is None else 1.0,
            lambda p: (p.peak_mib or 0.0) / MEMORY_MARGIN_MIB,
        ],
    )
    order = [winner] + [p for p in tied if p is not winner]
    return order + [p for p in ranked if p not in tied], order


def _nothing_fits(known: list[Prediction], unknown: list[Prediction], where: str) -> str:
    if known:
        smallest = min(known, key=lambda p: p.peak_mib or 0.0)
        reason = (
            f"no strategy is predicted to fit {where}; the smallest, {smallest.name}, needs "
            f"{smallest.peak_mib:,.0f} MiB"
        )
    else:
        reason = f"no strategy's growth could be extrapolated {where}"
    return reason + (f"; {_unknown_text(unknown)}" if unknown else "")


def _predicted_idle(prediction: Prediction) -> float:
    return prediction.idle_fraction if prediction.idle_fraction is not None else 1.0


def _predicted_epoch(prediction: Prediction) -> float:
    return prediction.epoch_s if prediction.epoch_s is not None else float("inf")


def seconds(value: float | None) -> str:
    """Three significant figures: epochs of a sample dataset last from milliseconds to minutes."""
    if value is None:
        return "-"
    return f"{significant(value)} s"


def _unknown_text(unknown: Sequence[Prediction]) -> str:
    first = unknown[0]
    more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
    return f"not predicted: {first.name}{more}, whose {first.problem}"
