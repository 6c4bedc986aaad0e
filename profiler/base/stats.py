"""Statistics of repeated measurements: intervals, warm-up truncation and a test for a real change.

Windows of a flat-out stream and paced steps are not independent draws (a pipeline drifts, warms
up, autotunes), so the intervals here are distribution-free where they can be (the median's from
order statistics), and idle's takes the turn, not the step, as its unit. Resampling uses a fixed
seed: the same measurements always give the same interval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.95
_RESAMPLES = 2000
_SEED = 20261126


def median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, dtype=float)))


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The distribution-free interval of the median from order statistics (a binomial argument).

    With fewer than six values no pair of order statistics reaches 95%: the interval is then the
    full range, which says less than it seems to, and ``relative_half_width`` is large enough to
    keep a measurement going.
    """
    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no values")
    alpha = 1.0 - confidence
    if n > 500:  # the binomial is normal enough, and 2**n would overflow a float
        k = max(1, math.floor(n / 2 - 1.959964 * math.sqrt(n) / 2))
        return ordered[k - 1], ordered[n - k]
    # The largest k with P(Binomial(n, 1/2) < k) <= alpha / 2: x_(k) .. x_(n-k+1) cover the median.
    k, below = 0, 0.0
    while k < n and below + math.comb(n, k) / 2.0**n <= alpha / 2.0:
        below += math.comb(n, k) / 2.0**n
        k += 1
    if k == 0:
        return ordered[0], ordered[-1]
    return ordered[k - 1], ordered[n - k]


def pooled_median_interval(
    groups: Sequence[Sequence[float]],
    confidence: float = CONFIDENCE,
    resamples: int = _RESAMPLES,
) -> tuple[float, float]:
    """Interval of the median of several processes' values pooled, from a two-level bootstrap:
    processes are resampled, then the values within each, so a process that ran apart from the
    others widens the interval as it should rather than counting as many independent values."""
    if len(groups) == 1:
        return median_interval(groups[0], confidence)
    arrays = [np.asarray(group, dtype=float) for group in groups if len(group)]
    rng = np.random.default_rng(_SEED)
    medians = np.empty(resamples)
    for index in range(resamples):
        chosen = rng.integers(0, len(arrays), size=len(arrays))
        pooled = np.concatenate(
            [arrays[c][rng.integers(0, len(arrays[c]), size=len(arrays[c]))] for c in chosen]
        )
        medians[index] = np.median(pooled)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(medians, [tail, 1.0 - tail])
    return float(low), float(high)


def relative_half_width(centre: float, interval: tuple[float, float]) -> float:
    """The larger distance from the centre to an end of the interval, as a fraction of the
    centre."""
    if centre == 0:
        return math.inf
    return max(centre - interval[0], interval[1] - centre) / abs(centre)


def warmup_cut(values: Sequence[float], most: float = 0.5) -> int:
    """How many leading rates to drop as warm-up (autotuning ramping up, caches filling).

    The leading rates that lie more than four robust standard deviations (1.4826 x the median
    absolute deviation) below the median of the later half, one after the other from the start,
    and never more than ``most`` of them: warm-up is slow, never fast. On rates without a trend it
    drops the first one about once in 20 with nine rates and once in 100 with twenty (the deviation
    of a few is itself uncertain).
    """
    y = np.asarray(values, dtype=float)
    n = len(y)
    if n < 6:
        return 0
    later = y[n // 2 :]
    centre = float(np.median(later))
    spread = 1.4826 * float(np.median(np.abs(later - centre)))
    limit = 4.0 * max(spread, 1e-9 * abs(centre))
    cut = 0
    while cut < int(n * most) and centre - y[cut] > limit:
        cut += 1
    return cut


# The fewest paced turns an idle interval is drawn from: with two, its Student t quantile is 12.7
# and the interval says nothing.
MIN_IDLE_TURNS = 3
# Results written before the turn became the interval's unit drew it from blocks of 8 neighbouring
# steps, at least 3 of them: an interval from fewer steps in such a file is one block's, zero wide.
IDLE_BLOCK = 8
MIN_IDLE_BLOCKS = 3

# Student's t at 97.5% for 1 to 30 degrees of freedom (two-sided 95%).
_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile(degrees: int) -> float:
    """Student's t quantile for a two-sided 95% interval."""
    if degrees < 1:
        raise ValueError("a t interval needs at least one degree of freedom")
    if degrees <= len(_T_975):
        return _T_975[degrees - 1]
    return 1.96 + 2.5 / degrees  # within 0.003 of the exact quantile beyond 30


def idle_over_turns(
    turns: Sequence[tuple[Sequence[float], Sequence[float]]],
    floor_s: Sequence[float] = (),
) -> tuple[float, tuple[float, float] | None]:
    """Idle fraction above the fetch floor over paced turns of (waits, steps), and its 95% interval
    with the turn as the unit (None, unknown, from fewer than MIN_IDLE_TURNS turns).

    idle = (sum of waits - steps x mean floor) / (that + sum of steps), never below 0. Steps in
    one turn share one moment of the machine and the worker's state, so they are not independent
    draws: the interval is Student's t over the turns (a ratio estimator's standard error), widened
    by the floor's own standard error. Runs of the same pipeline differ by more than steps within a
    turn do; they differ by about what turns do.
    """
    kept = [(list(w), list(s)) for w, s in turns if len(w)]
    waits = [x for w, _ in kept for x in w]
    steps = [x for _, s in kept for x in s]
    floor = np.asarray(floor_s, dtype=float) if len(floor_s) else np.zeros(1)
    floor_mean = float(floor.mean())
    point = _idle(sum(waits), sum(steps), len(waits) * floor_mean)
    if len(kept) < MIN_IDLE_TURNS:
        return point, None
    above = np.array([sum(w) - len(w) * floor_mean for w, _ in kept])
    step_sums = np.array([sum(s) for _, s in kept])
    totals = np.abs(above) + step_sums
    # Not clamped at 0: a turn below the floor counts as below, so an idle near 0 keeps an upper
    # bound above it.
    centre = float(above.sum() / totals.sum())
    residuals = above - centre * totals
    count = len(kept)
    spread = math.sqrt(count / (count - 1) * float((residuals**2).sum())) / float(totals.sum())
    floor_error = float(floor.std(ddof=1)) / math.sqrt(len(floor)) if len(floor) > 1 else 0.0
    # d idle / d floor = -steps x sum(steps) / total^2
    floor_spread = len(waits) * float(step_sums.sum()) / float(totals.sum()) ** 2 * floor_error
    half = t_quantile(count - 1) * math.hypot(spread, floor_spread)
    low, high = max(centre - half, 0.0), max(centre + half, 0.0)
    if high <= low:
        # The whole interval at or below the floor: what the floor's own jitter could hide is the
        # bound, never a zero width that claims certainty; unknown where the floor has none.
        jitter = float(floor.max() - floor_mean)
        if jitter <= 0:
            return point, None
        high = low + jitter / (jitter + float(np.mean(steps)))
    # Nor above 1: a pipeline nearly always waited for could not be idle more than all the time,
    # and a results file holding more is refused when read.
    return point, (low, min(high, 1.0))


def _idle(wait_sum: float, step_sum: float, floor_sum: float) -> float:
    above = max(wait_sum - floor_sum, 0.0)
    total = above + step_sum
    return above / total if total > 0 else 0.0


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, ties corrected)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return 1.0
    values = np.concatenate([x, y])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    ties = 0.0
    while i < len(values):  # average ranks over runs of equal values
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        size = j - i + 1
        ties += size**3 - size
        i = j + 1
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    variance = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2.0) - 0.5) / math.sqrt(variance)
    return max(0.0, min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2.0))))


def ratio_interval(
    base: Sequence[float], new: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Interval of median(new) / median(base) from a bootstrap of both samples."""
    x, y = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    rng = np.random.default_rng(_SEED)
    base_medians = np.median(x[rng.integers(0, len(x), size=(_RESAMPLES, len(x)))], axis=1)
    new_medians = np.median(y[rng.integers(0, len(y), size=(_RESAMPLES, len(y)))], axis=1)
    ratios = new_medians / np.where(base_medians == 0, np.nan, base_medians)
    tail = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(ratios, [tail, 1.0 - tail])
    return float(low), float(high)


def theil_sen(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(slope, intercept) of a line that never falls, robust to an outlying point: the median slope
    between every two points (Theil-Sen), at least 0, then the median intercept."""
    slopes = [s for s, _ in pair_slopes(xs, ys, ys)]
    slope = max(0.0, statistics.median(slopes)) if slopes else 0.0
    intercept = statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True)) if ys else 0.0
    return slope, intercept


def pair_slopes(
    xs: list[float], lows: list[float], highs: list[float]
) -> list[tuple[float, float]]:
    """For every two sizes, the least and the most slope their points' ranges allow."""
    found = []
    for i in range(len(xs)):
        for j in range(len(xs)):
            if xs[j] > xs[i]:
                found.append(
                    ((lows[j] - highs[i]) / (xs[j] - xs[i]), (highs[j] - lows[i]) / (xs[j] - xs[i]))
                )
    return found


def pairwise_lines(
    xs: list[float], ys: list[float]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(least, most) slope, never below 0, and (least, most) intercept of the lines through every
    two points."""
    lines = [
        (s, ys[i] - s * xs[i])
        for i in range(len(xs))
        for j in range(len(xs))
        if xs[j] > xs[i]
        for s in [max(0.0, (ys[j] - ys[i]) / (xs[j] - xs[i]))]
    ]
    return (min(s for s, _ in lines), max(s for s, _ in lines)), (
        min(c for _, c in lines),
        max(c for _, c in lines),
    )


def percentile(values: list[float] | tuple[float, ...], fraction: float) -> float:
    """Linear-interpolated percentile; ``fraction`` in [0, 1]."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
