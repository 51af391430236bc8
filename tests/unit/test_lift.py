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


def test_lift_reports_both_arms_counts_and_rates() -> None:
    got = lift(300, 100, 300, 50)
    assert (got.treated_n, got.treated_conversions, got.treated_rate) == (300, 100, 0.333333)
    assert (got.control_n, got.control_conversions, got.control_rate) == (300, 50, 0.166667)
    assert (got.difference, got.relative) == (0.166667, 1.0)  # rounded to 6 places


def test_lift_is_computed_at_exactly_the_minimum_sample() -> None:
    assert lift(30, 5, 30, 5).status == "ok"
    assert lift(30, 5, 31, 5).ci_low is not None


def test_lift_names_every_shortfall_and_an_empty_arm() -> None:
    assert lift(29, 4, 100, 10).reason == "fewer than 30 customers in an arm; fewer than 5 conversions in an arm"
    assert lift(500, 50, 0, 0).reason == "the campaign held no customer out"
    empty = lift(0, 0, 100, 10)
    assert (empty.status, empty.treated_rate, empty.difference) == ("insufficient", None, None)
    bare = lift(0, 0, 100, 10, min_arm=0, min_conversions=0)
    assert (bare.status, bare.reason) == ("insufficient", "an arm is empty")


def test_identical_arms_with_no_spread_are_not_significant() -> None:
    # Everyone converted in both arms: the interval is the single point 0, which is no evidence of a lift.
    got = lift(100, 100, 100, 100)
    assert (got.status, got.ci_low, got.ci_high, got.significant) == ("ok", 0.0, 0.0, False)
    assert lift(100, 0, 100, 0, min_conversions=0).significant is False


def test_rate_of_a_single_customer_is_exact() -> None:
    assert rate(1, 1) == 1.0 and rate(0, 1) == 0.0
