"""Which strategy to pick, and why, from the results of one run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from profiler.results import MODERATELY_INPUT_BOUND_AT, RunResult, ScenarioResult, idle_condition

# Idle fractions within this of the least idle one count as equally busy. Fetching a ready batch
# from an eager iterator alone costs about 1 ms a step on a small machine, and that floor moves by
# a point or so from run to run; a sharp cut at 5% would flip the pick between runs.
_IDLE_TIE = 0.02


@dataclass(frozen=True)
class Recommendation:
    name: str
    reason: str
    runner_up: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reason": self.reason, "runner_up": self.runner_up}


def recommend(
    results: Sequence[ScenarioResult], step_ms: float, at_step: str | None = None
) -> Recommendation | None:
    """Pick the strategy that keeps the training step busy, then stays flat in memory, then is fastest.

    The dataset is assumed bigger than RAM at full size, so among strategies that keep up, one
    whose memory grows with the dataset is chosen only if no streaming strategy keeps up.
    ``at_step`` words the step for the reason (default: "at STEP_MS ms/step").
    """
    at = at_step or f"at {step_ms:g} ms/step"
    candidates = [
        r
        for r in results
        if r.ok and r.idle_fraction is not None and r.samples_per_s and r.data_status != "differs"
    ]
    if not candidates:
        return None
    least = min(candidates, key=lambda r: r.idle_fraction)  # type: ignore[arg-type, return-value]
    least_idle: float = least.idle_fraction  # type: ignore[assignment]
    keeps_up = least_idle < MODERATELY_INPUT_BOUND_AT
    cut = least_idle + _IDLE_TIE
    if keeps_up:
        cut = max(cut, MODERATELY_INPUT_BOUND_AT)
    busiest = [r for r in candidates if r.idle_fraction <= cut]  # type: ignore[operator]
    streaming = [r for r in busiest if not r.memory_grows_with_data]
    ranked = sorted(streaming or busiest, key=lambda r: -(r.samples_per_s or 0.0))
    best = ranked[0]
    if not keeps_up:
        reason = (
            f"no strategy keeps the step busy {at}; it waits least ({_figures(best, at)}). "
            "Add decode workers, decode less per sample, or store pre-decoded data"
        )
        return Recommendation(best.name, reason, _next_best(candidates, best))
    if streaming:
        busy = "keeps the training step busy"
        if best.idle_fraction >= MODERATELY_INPUT_BOUND_AT:  # type: ignore[operator]
            busy = f"keeps the training step nearly as busy as {least.name} ({least_idle:.1%} idle)"
        reason = (
            f"it {busy} with the most headroom among strategies whose memory stays flat as the "
            f"dataset grows ({_figures(best, at)})"
        )
        if best.disk_grows_with_data:
            reason += "; it writes the whole decoded dataset to disk, so that needs room for it"
        runner_up = ranked[1].name if len(ranked) > 1 else _next_best(candidates, best)
        return Recommendation(best.name, reason, runner_up)
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
    runner_up = fallback.name if fallback is not None else _next_best(candidates, best)
    return Recommendation(best.name, reason, runner_up)


def _figures(result: ScenarioResult, at: str) -> str:
    return (
        f"idle {result.idle_fraction:.1%} {at}, "
        f"{result.samples_per_s:,.0f} samples/s flat out, "
        f"{result.peak_rss_mb or 0:+,.0f} MiB peak RSS"
    )


def _best_streaming(candidates: Sequence[ScenarioResult]) -> ScenarioResult | None:
    streaming = [r for r in candidates if not r.memory_grows_with_data]
    if not streaming:
        return None
    return min(streaming, key=lambda r: (r.idle_fraction, -(r.samples_per_s or 0.0)))


def _next_best(candidates: Sequence[ScenarioResult], best: ScenarioResult) -> str | None:
    others = [r for r in candidates if r is not best]
    if not others:
        return None
    return min(others, key=lambda r: (r.idle_fraction, -(r.samples_per_s or 0.0))).name


def with_results(run: RunResult, results: Sequence[ScenarioResult], interrupted: bool = False) -> RunResult:
    """``run`` holding ``results``, with the recommendation they lead to."""
    chosen = recommend(results, float(run.options.get("step_ms", 0.0)), idle_condition(run.options))
    return replace(
        run, scenarios=tuple(results), interrupted=interrupted, recommendation=chosen.to_dict() if chosen else None
    )
