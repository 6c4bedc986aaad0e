"""How a figure grows with the number of samples: a constant or a straight line, with its error.

Peak memory and epoch time are measured at a few dataset sizes. Each is fitted by least squares
as a line ``a + b * samples``; the line is kept only when its slope stands out of the scatter (a
t-statistic of at least 3) and moves the figure by a meaningful amount across the measured sizes.
Otherwise the figure is taken as constant, its mean. Two points always lie on a line, so a fit
from fewer than three sizes is never trusted for extrapolation.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CONSTANT = "constant"
LINEAR = "linear"

MIN_SIZES = 3
# A slope must be this many standard errors from zero to count.
_SLOPE_T = 3.0
# By default, a fit that misses a measured point by more than this share of it is not used.
MAX_RELATIVE_ERROR = 0.15
# Beyond this multiple of the largest measured size, a prediction is flagged as a long reach.
LONG_REACH = 10.0


@dataclass(frozen=True)
class Fit:
    """``intercept + slope * samples``; a constant fit has slope 0."""

    model: str
    intercept: float
    slope: float
    sizes: tuple[int, ...]
    values: tuple[float, ...]
    max_error: float  # largest absolute residual, in the figure's unit
    relative_error: float  # largest residual over its own point's value (or the floor, if larger)
    tolerance: float = MAX_RELATIVE_ERROR  # the largest relative_error at which the fit is used

    def predict(self, samples: float) -> float:
        return self.intercept + self.slope * samples

    @property
    def distinct_sizes(self) -> int:
        return len(set(self.sizes))

    def unreliable_reason(self) -> str | None:
        """Why this fit cannot support an extrapolation, or None when it can."""
        if self.distinct_sizes < MIN_SIZES:
            return (
                f"measured at {self.distinct_sizes} size(s); a trend needs at least {MIN_SIZES}, "
                "so pass more --samples values"
            )
        if self.relative_error > self.tolerance:
            return (
                f"neither a constant nor a line fits the measured points (off by up to "
                f"{self.relative_error:.0%}), so no size beyond them can be predicted"
            )
        return None

    def describe(self, unit: str, slope_unit: str, slope_scale: float = 1.0) -> str:
        """Such as 'linear 10.5 MiB + 148 KiB per sample (±0.02)'; ``slope_unit`` says per how many samples."""
        if self.model == CONSTANT:
            return f"constant {_figure(self.intercept)} {unit} (±{_figure(self.max_error)})"
        return (
            f"linear {_figure(self.intercept)} {unit} + {self.slope * slope_scale:,.3g} {slope_unit} "
            f"(±{_figure(self.max_error)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "intercept": self.intercept,
            "slope": self.slope,
            "sizes": list(self.sizes),
            "values": list(self.values),
            "max_error": self.max_error,
            "relative_error": self.relative_error,
            "tolerance": self.tolerance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fit:
        return cls(
            model=str(data["model"]),
            intercept=float(data["intercept"]),
            slope=float(data["slope"]),
            sizes=tuple(int(n) for n in data["sizes"]),
            values=tuple(float(v) for v in data["values"]),
            max_error=float(data["max_error"]),
            relative_error=float(data["relative_error"]),
            tolerance=float(data.get("tolerance", MAX_RELATIVE_ERROR)),
        )


def _figure(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def fit_growth(
    sizes: Sequence[int], values: Sequence[float], min_change: float, floor: float,
    tolerance: float = MAX_RELATIVE_ERROR,
) -> Fit:
    """Fit ``values`` measured at ``sizes``.

    ``min_change``: the least change across the measured sizes that counts as growth (memory
    readings move by a few MiB on their own). ``floor``: the smallest value a miss is judged
    against, so a figure near zero is not called a poor fit for a miss of noise size.
    ``tolerance``: the largest relative miss at which the fit may be used to extrapolate.
    """
    if len(sizes) != len(values) or not sizes:
        raise ValueError("fit_growth needs one value per size, and at least one")
    xs = [float(n) for n in sizes]
    ys = [float(v) for v in values]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread_x = sum((x - mean_x) ** 2 for x in xs)
    constant = _fit(CONSTANT, mean_y, 0.0, sizes, ys, floor, tolerance)
    if spread_x == 0:
        return constant
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread_x
    intercept = mean_y - slope * mean_x
    linear = _fit(LINEAR, intercept, slope, sizes, ys, floor, tolerance)
    change = abs(slope) * (max(xs) - min(xs))
    if change < min_change:
        return constant
    if len(xs) > 2:
        residual_ss = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
        standard_error = math.sqrt(residual_ss / (len(xs) - 2) / spread_x)
        if standard_error > 0 and abs(slope) / standard_error < _SLOPE_T:
            return constant
    return linear


def _fit(
    model: str, intercept: float, slope: float, sizes: Sequence[int], ys: list[float], floor: float, tolerance: float
) -> Fit:
    residuals = [abs(y - (intercept + slope * n)) for n, y in zip(sizes, ys, strict=True)]
    # Each miss against its own point: a line that misses the small sizes by their whole value
    # says nothing about the large ones, however small the miss looks beside the largest value.
    relative = max(r / max(abs(y), floor) for r, y in zip(residuals, ys, strict=True))
    return Fit(model, intercept, slope, tuple(int(n) for n in sizes), tuple(ys), max(residuals), relative, tolerance)
