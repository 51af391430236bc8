"""Holdout lift: two-proportion 95 % interval against a hand computation, and the minimum-sample labels."""

from __future__ import annotations

import pytest

from chalicelib.reports.stats import Z95, interval, lift, rate


def test_lift_interval_matches_a_hand_computation() -> None:
    # p1 = 120/1000 = 0.12, p2 = 90/1000 = 0.09, diff = 0.03
    # se = sqrt(0.12*0.88/1000 + 0.09*0.91/1000) = sqrt(0.0001056 + 0.0000819) = sqrt(0.0001875) = 0.013693064
    # 1.959964 * 0.013693064 = 0.026837911 -> [0.003162089, 0.056837911]
    got = lift(1000, 120, 1000, 90)
    assert got.status == "ok" and got.reason is None
    assert (got.treated_rate, got.control_rate, got.difference) == (0.12, 0.09, 0.03)
    assert got.ci_low == pytest.approx(0.003162, abs=1e-6)
    assert got.ci_high == pytest.approx(0.056838, abs=1e-6)
    assert got.relative == pytest.approx(0.333333, abs=1e-6)
    assert got.significant


def test_interval_with_unequal_arms_matches_the_formula() -> None:
    # p1 = 30/200 = 0.15, p2 = 5/50 = 0.10; se = sqrt(0.15*0.85/200 + 0.1*0.9/50) = sqrt(0.0006375 + 0.0018)
    low, high = interval(0.15, 200, 0.10, 50)
    se = 0.0024375 ** 0.5
    assert low == pytest.approx(0.05 - Z95 * se) and high == pytest.approx(0.05 + Z95 * se)
    got = lift(200, 30, 50, 5)
    assert got.status == "ok" and not got.significant and got.ci_low is not None and got.ci_low < 0


@pytest.mark.parametrize(("args", "why"), [
    ((29, 10, 100, 10), "fewer than 30 customers"),
    ((100, 10, 29, 10), "fewer than 30 customers"),
    ((100, 4, 100, 10), "fewer than 5 conversions"),
    ((100, 10, 100, 4), "fewer than 5 conversions"),
])
def test_lift_is_labelled_insufficient_below_the_minimum_sample(args: tuple[int, int, int, int], why: str) -> None:
    got = lift(*args)
    assert got.status == "insufficient" and why in (got.reason or "")
    assert got.ci_low is None and got.ci_high is None and not got.significant
    assert got.difference is not None  # point estimates are still shown


def test_lift_without_holdout_says_so() -> None:
    got = lift(500, 50, 0, 0)
    assert got.status == "no_holdout" and got.control_rate is None and got.difference is None


def test_rate_is_none_without_a_denominator() -> None:
    assert rate(1, 0) is None and rate(1, 3) == 0.333333
