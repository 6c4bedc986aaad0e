"""Fits of figures measured at several dataset sizes, against values built with a known law."""

from __future__ import annotations

import json

import pytest

from profiler.codec import decode, encode
from profiler.forecast import CONSTANT, LINEAR, MIN_SIZES, Fit, fit_growth

SIZES = (1000, 2000, 4000, 8000)


def test_exact_line_is_linear_with_its_slope_and_intercept():
    fit = fit_growth(SIZES, [200 + 0.05 * n for n in SIZES], min_change=16, floor=64)
    assert fit.model == LINEAR
    assert fit.slope == pytest.approx(0.05)
    assert fit.intercept == pytest.approx(200)
    assert fit.predict(16000) == pytest.approx(1000)
    assert fit.unreliable_reason() is None


def test_scatter_without_a_trend_is_constant_at_the_mean():
    values = [30.0, 36.0, 29.0, 33.0]
    fit = fit_growth(SIZES, values, min_change=16, floor=64)
    assert fit.model == CONSTANT
    assert fit.intercept == pytest.approx(32.0)
    assert fit.max_error == pytest.approx(4.0)
    assert fit.predict(10**6) == pytest.approx(32.0)


def test_a_significant_but_tiny_change_stays_constant():
    # Steady 1 MiB per size step: significant, but below what memory readings move on their own.
    fit = fit_growth(SIZES, [40.0, 41.0, 43.0, 47.0], min_change=16, floor=64)
    assert fit.model == CONSTANT


def test_noisy_line_is_still_linear():
    noise = [3.0, -4.0, 2.0, -1.0]
    fit = fit_growth(SIZES, [100 + 0.1 * n + e for n, e in zip(SIZES, noise, strict=True)], min_change=16, floor=64)
    assert fit.model == LINEAR
    assert fit.slope == pytest.approx(0.1, rel=0.05)


def test_two_sizes_cannot_support_an_extrapolation():
    fit = fit_growth((1000, 2000), [100.0, 200.0], min_change=16, floor=64)
    assert fit.model == LINEAR
    reason = fit.unreliable_reason()
    assert reason is not None and f"at least {MIN_SIZES}" in reason


def test_a_curve_is_a_poor_fit_and_says_so():
    fit = fit_growth(SIZES, [n * n / 20000 for n in SIZES], min_change=16, floor=64)
    reason = fit.unreliable_reason()
    assert reason is not None and "neither a constant nor a line fits" in reason


def test_round_trip_through_json_form():
    fit = fit_growth(SIZES, [1.0, 2.0, 4.1, 7.9], min_change=0.1, floor=0.05)
    assert decode(Fit, json.loads(json.dumps(encode(fit)))) == fit


def test_mismatched_input_is_refused():
    with pytest.raises(ValueError):
        fit_growth((1, 2), [1.0], min_change=1, floor=1)
