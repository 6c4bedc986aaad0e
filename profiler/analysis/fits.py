"""A robust line through figures measured at a few dataset sizes, and the range it allows.

Peak memory is a line when it grows by more than readings move on their own, else flat. Epoch
time always grows: a fixed part per epoch and a part per sample that cannot be negative. Two
points always lie on a line, so a fit from fewer than three sizes is never trusted for
extrapolation. ``profiler.analysis.forecast`` carries these fits to a target size.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from profiler.base.stats import pair_slopes, pairwise_lines, theil_sen

CONSTANT = "constant"
LINEAR = "linear"

MIN_SIZES = 3
# Beyond this multiple of the largest measured size, a prediction is flagged as a long reach.
LONG_REACH = 10.0
# Peak memory readings move by several MiB between runs on their own; less than this across the
# measured sizes is not growth, and misses are judged against at least MEMORY_FLOOR_MIB.
MEMORY_MIN_CHANGE_MIB = 16.0
MEMORY_FLOOR_MIB = 64.0
# Memory is steady from run to run: a miss of 15% is a wrong law. Epoch times come from rates with
# intervals of a few percent, but a shared machine moves them by more between sizes: 25%.
MEMORY_TOLERANCE = 0.15
EPOCH_TOLERANCE = 0.25
EPOCH_FLOOR_S = 0.005


@dataclass(frozen=True)
class Fit:
    """``intercept + slope * samples``, never falling (a constant fit has slope 0), with its range.

    Robust: the slope is the median of the slopes between every two sizes (Theil-Sen), and with
    four sizes or more a point the others' line misses by more than its tolerance is left out and
    named in ``outliers``. ``slope_low``..``slope_high``, ``intercept_low``..``intercept_high``:
    what the measurements allow.
    """

    model: str
    intercept: float
    slope: float
    sizes: tuple[int, ...]
    values: tuple[float, ...]
    max_error: float  # largest absolute miss of the points kept, in the figure's unit
    relative_error: (
        float  # largest miss of a point kept over its own value (or the floor, if larger)
    )
    tolerance: float = MEMORY_TOLERANCE  # the largest relative miss at which the fit is used...
    # ...unless the point's own interval is wider: the largest miss over what each point allows.
    misfit: float = 0.0
    slope_low: float = 0.0
    slope_high: float = 0.0
    intercept_low: float = 0.0
    intercept_high: float = 0.0
    outliers: tuple[int, ...] = ()  # sizes whose point was left out

    def predict(self, samples: float) -> float:
        return max(0.0, self.intercept + self.slope * samples)

    def interval(self, samples: float) -> tuple[float, float]:
        low = max(0.0, self.intercept_low + self.slope_low * samples)
        high = self.intercept_high + self.slope_high * samples
        return min(low, self.predict(samples)), max(high, self.predict(samples))

    @property
    def spans_every_pair(self) -> bool:
        """Three points that disagree: the range takes in every line through two of them."""
        return self.misfit > 1.0 and len(set(self.sizes)) == MIN_SIZES and self.model == LINEAR

    @property
    def distinct_sizes(self) -> int:
        return len(set(self.sizes) - set(self.outliers))

    def unreliable_reason(self) -> str | None:
        """Why this fit cannot support an extrapolation, or None when it can."""
        if self.distinct_sizes < MIN_SIZES:
            return (
                f"measured at {len(set(self.sizes))} size(s); a trend needs at least {MIN_SIZES}, "
                "so pass more --samples values"
            )
        if self.misfit > 1.0 and not self.spans_every_pair:
            return (
                "neither a constant nor a line fits the measured points (off by up to "
                f"{self.relative_error:.0%}), so no size beyond them can be predicted"
            )
        return None


def fit_memory(sizes: Sequence[int], peaks_mib: Sequence[float]) -> Fit:
    """A line when memory grows by more than readings move on their own, else flat."""
    xs, ys = [float(n) for n in sizes], [float(v) for v in peaks_mib]
    allowed = _allowed(ys, ys, ys, MEMORY_FLOOR_MIB, MEMORY_TOLERANCE)
    slope, intercept, outliers = _robust_line(xs, ys, allowed)
    kept = [i for i in range(len(xs)) if i not in outliers]
    slopes = pair_slopes([xs[i] for i in kept], [ys[i] for i in kept], [ys[i] for i in kept])
    span = max(xs) - min(xs)
    if slope * span < MEMORY_MIN_CHANGE_MIB:
        # The middle of the range: no level misses the readings by less.
        level = (min(ys[i] for i in kept) + max(ys[i] for i in kept)) / 2
        # Flat, but a growth too small to stand out of the readings' noise could hide in it.
        hidden = MEMORY_MIN_CHANGE_MIB / span if span else 0.0
        return _fit(
            CONSTANT,
            level,
            0.0,
            xs,
            ys,
            outliers,
            (MEMORY_FLOOR_MIB, MEMORY_TOLERANCE, allowed),
            (0.0, hidden),
            (min(ys[i] for i in kept) - hidden * min(xs), max(ys[i] for i in kept)),
        )
    low = max(0.0, min(s for s, _ in slopes)) if slopes else slope
    high = max(s for _, s in slopes) if slopes else slope
    offsets = [ys[i] - slope * xs[i] for i in kept]
    return _fit(
        LINEAR,
        intercept,
        slope,
        xs,
        ys,
        outliers,
        (MEMORY_FLOOR_MIB, MEMORY_TOLERANCE, allowed),
        (low, high),
        (min(offsets), max(offsets)),
    )


def fit_epoch_time(
    sizes: Sequence[int],
    epochs_s: Sequence[float],
    lows: Sequence[float] | None = None,
    highs: Sequence[float] | None = None,
) -> Fit:
    """An epoch costs a fixed part and a part per sample that cannot be negative: always a rising
    line.

    The fixed part may come out below zero where the cost per sample rises with the size at the
    small sizes (caches overflowing, say); the predictions never do.

    ``lows``/``highs``: each point's 95% interval, from the interval of its rate.
    """
    xs, ys = [float(n) for n in sizes], [float(v) for v in epochs_s]
    lows, highs = list(lows or ys), list(highs or ys)
    allowed = _allowed(ys, lows, highs, EPOCH_FLOOR_S, EPOCH_TOLERANCE)
    slope, intercept, outliers = _robust_line(xs, ys, allowed)
    if slope <= 0:  # the scatter hides the per-sample part: count every second as per sample
        largest = max(range(len(xs)), key=lambda i: xs[i])
        slope, intercept = ys[largest] / xs[largest], 0.0
    kept = [i for i in range(len(xs)) if i not in outliers]
    pairs = pair_slopes([xs[i] for i in kept], [lows[i] for i in kept], [highs[i] for i in kept])
    low = max(0.0, statistics.median(s for s, _ in pairs)) if pairs else slope
    high = statistics.median(s for _, s in pairs) if pairs else slope
    low, high = min(low, slope), max(high, slope)
    fixed = (
        statistics.median(lows[i] - high * xs[i] for i in kept),
        statistics.median(highs[i] - low * xs[i] for i in kept),
    )
    return _fit(
        LINEAR,
        intercept,
        slope,
        xs,
        ys,
        outliers,
        (EPOCH_FLOOR_S, EPOCH_TOLERANCE, allowed),
        (low, high),
        fixed,
    )


def _robust_line(
    xs: list[float], ys: list[float], allowed: list[float]
) -> tuple[float, float, list[int]]:
    """(slope >= 0, intercept >= 0, outliers): Theil-Sen, then at most one point left out and
    refitted.

    ``allowed``: the miss each point tolerates, in the figure's unit.
    """
    slope, intercept = theil_sen(xs, ys)
    misses = [abs(y - intercept - slope * x) / a for x, y, a in zip(xs, ys, allowed, strict=True)]
    worst = max(range(len(xs)), key=lambda i: misses[i]) if xs else 0
    # Which of three points is the odd one cannot be told: leaving one out needs four sizes or more.
    if len(set(xs)) > MIN_SIZES and misses and misses[worst] > 1.0:
        rest = [i for i in range(len(xs)) if i != worst]
        slope, intercept = theil_sen([xs[i] for i in rest], [ys[i] for i in rest])
        if all(abs(ys[i] - intercept - slope * xs[i]) <= allowed[i] for i in rest):
            return slope, intercept, [worst]
        slope, intercept = theil_sen(xs, ys)
    return slope, intercept, []


def _allowed(
    ys: list[float], lows: list[float], highs: list[float], floor: float, tolerance: float
) -> list[float]:
    """The miss each point tolerates: the tolerance of its value, or its own interval where
    wider."""
    return [
        max(tolerance * max(abs(y), floor), high - y, y - low)
        for y, low, high in zip(ys, lows, highs, strict=True)
    ]


def _fit(
    model: str,
    intercept: float,
    slope: float,
    xs: list[float],
    ys: list[float],
    outliers: list[int],
    limits: tuple[float, float, list[float]],
    slopes: tuple[float, float],
    intercepts: tuple[float, float],
) -> Fit:
    """``limits``: (floor, tolerance, the miss each point allows)."""
    floor, tolerance, allowed = limits
    kept = [i for i in range(len(xs)) if i not in outliers] or list(range(len(xs)))
    residuals = [abs(ys[i] - (intercept + slope * xs[i])) for i in kept]
    # Each miss against its own point: a line that misses the small sizes by their whole value
    # says nothing about the large ones, however small the miss looks beside the largest value.
    relative = max(
        (r / max(abs(ys[i]), floor) for r, i in zip(residuals, kept, strict=True)), default=0.0
    )
    misfit = max((r / allowed[i] for r, i in zip(residuals, kept, strict=True)), default=0.0)
    if misfit > 1.0 and len(set(xs)) == MIN_SIZES and model == LINEAR:
        # Three points that disagree, and which is odd cannot be told: take in every line through
        # two.
        every_slope, every_intercept = pairwise_lines(xs, ys)
        slopes = (min(slopes[0], every_slope[0]), max(slopes[1], every_slope[1]))
        intercepts = (
            min(intercepts[0], every_intercept[0]),
            max(intercepts[1], every_intercept[1]),
        )
    return Fit(
        model,
        intercept,
        slope,
        tuple(int(n) for n in xs),
        tuple(ys),
        max(residuals, default=0.0),
        relative,
        tolerance,
        misfit,
        slopes[0],
        slopes[1],
        intercepts[0],
        intercepts[1],
        tuple(int(xs[i]) for i in outliers),
    )
