"""Fits of figures measured at several dataset sizes, against values built with a known law."""

from __future__ import annotations

import json

import pytest

from profiler.analysis.fits import CONSTANT, LINEAR, MIN_SIZES, Fit, fit_epoch_time, fit_memory
from profiler.base.codec import decode, encode

SIZES = (1000, 2000, 4000, 8000)


def test_exact_line_is_linear_with_its_slope_and_intercept():
    fit = fit_memory(SIZES, [200 + 0.05 * n for n in SIZES])
    assert fit.model == LINEAR
    assert fit.slope == pytest.approx(0.05)
    assert fit.intercept == pytest.approx(200)
    assert fit.predict(16000) == pytest.approx(1000)
    assert fit.interval(16000) == pytest.approx((1000, 1000))
    assert fit.unreliable_reason() is None


def test_scatter_without_a_trend_is_flat_in_the_middle_with_room_for_hidden_growth():
    fit = fit_memory(SIZES, [30.0, 36.0, 29.0, 33.0])
    assert fit.model == CONSTANT
    assert fit.intercept == pytest.approx(32.5)
    assert fit.predict(10**6) == pytest.approx(32.5)
    low, high = fit.interval(10**6)
    # up to 16 MiB per 7,000 samples could hide in the scatter
    assert low <= 32.5 <= high and high > 100


def test_a_significant_but_tiny_change_stays_constant():
    # Steady 1 MiB per size step: below what memory readings move on their own.
    assert fit_memory(SIZES, [40.0, 41.0, 43.0, 47.0]).model == CONSTANT


def test_noisy_line_is_still_linear():
    noise = [3.0, -4.0, 2.0, -1.0]
    fit = fit_memory(SIZES, [100 + 0.1 * n + e for n, e in zip(SIZES, noise, strict=True)])
    assert fit.model == LINEAR
    assert fit.slope == pytest.approx(0.1, rel=0.05)
    low, high = fit.interval(10**6)
    assert low < fit.predict(10**6) < high


def test_one_outlying_reading_is_left_out_and_named_not_followed():
    values = [100 + 0.1 * n for n in SIZES]
    values[1] *= 1.6  # one reading off by 60%
    fit = fit_memory(SIZES, values)
    assert fit.outliers == (2000,)
    assert fit.slope == pytest.approx(0.1)
    assert fit.unreliable_reason() is None
    assert fit.predict(10**6) == pytest.approx(100 + 0.1 * 10**6)


def test_two_sizes_cannot_support_an_extrapolation():
    fit = fit_memory((1000, 2000), [100.0, 200.0])
    reason = fit.unreliable_reason()
    assert reason is not None and f"at least {MIN_SIZES}" in reason


def test_a_curve_is_a_poor_fit_and_says_so():
    fit = fit_memory(SIZES, [n * n / 20000 for n in SIZES])
    reason = fit.unreliable_reason()
    assert reason is not None and "neither a constant nor a line fits" in reason


def test_epoch_time_grows_with_the_samples_even_when_small_epochs_scatter():
    # Epochs of 38, 22 and 50 ms at 250, 500 and 1,000 samples: dominated by a fixed cost and noise,
    # yet an epoch of a million samples cannot last 40 ms.
    fit = fit_epoch_time((250, 500, 1000), [0.038, 0.022, 0.050])
    assert fit.slope > 0 and fit.intercept >= 0
    assert fit.predict(10**6) > 10
    assert fit.predict(10**6) > fit.predict(10**5) > fit.predict(10**4)


def test_epoch_time_from_rates_with_intervals():
    # 10 ms fixed per epoch and 50 us per sample, each point known within 3%.
    epochs = [0.010 + 0.00005 * n for n in SIZES]
    fit = fit_epoch_time(SIZES, epochs, [e * 0.97 for e in epochs], [e * 1.03 for e in epochs])
    assert fit.slope == pytest.approx(0.00005) and fit.intercept == pytest.approx(0.010)
    low, high = fit.interval(10**6)
    assert low < 50.01 < high
    assert low / 50.01 > 0.9 and high / 50.01 < 1.15


def test_a_falling_scatter_is_charged_to_the_samples():
    fit = fit_epoch_time(SIZES, [0.020, 0.019, 0.018, 0.017])
    assert fit.slope == pytest.approx(0.017 / 8000) and fit.intercept == 0


def test_round_trip_through_json_form():
    fit = fit_memory(SIZES, [1.0, 2.0, 4.1, 7.9])
    assert decode(Fit, json.loads(json.dumps(encode(fit)))) == fit
