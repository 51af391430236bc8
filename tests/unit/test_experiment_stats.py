"""Experiment statistics against published results, and their properties over random arms (hypothesis)."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.experiments.stats import (
    MIN_INTERVAL_N,
    MIN_VERDICT_CONVERSIONS,
    MIN_VERDICT_N,
    Z95,
    Arm,
    Sample,
    lift,
    mean_interval,
    sample_size,
    verdict,
    wilson,
    z_two_sided,
)


def arm(name: str, n: int, converted: int, revenue: list[int] | None = None) -> Arm:
    """An arm whose converting recipients each spent the given fen (default 10,000 each)."""
    spent = revenue if revenue is not None else [10_000] * converted
    return Arm(name, Sample.proportion(n, converted), Sample.of(spent, n), Sample.of([v - 1_000 for v in spent], n))


# -- known results ----------------------------------------------------------------------------------------------
def test_z_is_the_normal_quantile() -> None:
    assert round(Z95, 6) == 1.959964
    assert z_two_sided(0.99) == pytest.approx(2.575829, abs=1e-6)
    assert z_two_sided(0.975) == pytest.approx(2.241403, abs=1e-6)  # 95 % over two comparisons (Bonferroni)


def test_wilson_matches_newcombe_1998() -> None:
    # Newcombe, Statistics in Medicine 17 (1998), table I: 81/263 → 0.2553 to 0.3662; 0/10 → 0 to 0.2775.
    got = wilson(81, 263)
    assert got is not None and (round(got.low, 4), round(got.high, 4)) == (0.2553, 0.3662)
    zero = wilson(0, 10)
    assert zero is not None and (zero.low, round(zero.high, 4)) == (0.0, 0.2775)
    full = wilson(10, 10)
    assert full is not None and (round(full.low, 4), full.high) == (0.7225, 1.0)
    assert wilson(0, 0) is None


def test_difference_interval_matches_a_hand_computation() -> None:
    # p1 = 0.12, p2 = 0.09 of 1,000 each: se = √(0.12·0.88/1000 + 0.09·0.91/1000) = 0.0136931 → 0.03 ± 0.0268379
    got = lift(Sample.proportion(1000, 120), Sample.proportion(1000, 90))
    assert got.difference == pytest.approx(0.03) and got.relative == pytest.approx(1 / 3)
    assert got.interval is not None
    assert (round(got.interval.low, 6), round(got.interval.high, 6)) == (0.003162, 0.056838)
    assert got.significant


def test_mean_interval_matches_a_hand_computation() -> None:
    # 40 recipients: 10 spent 100, 30 nothing. mean 25, s² = (10·100² − 40·25²)/39 = 75000/39, half = z·√(s²/40)
    got = mean_interval(Sample.of([100] * 10, 40))
    half = Z95 * (75000 / 39 / 40) ** 0.5
    assert got is not None and got.low == pytest.approx(25 - half) and got.high == pytest.approx(25 + half)
    assert mean_interval(Sample.of([100] * 10, MIN_INTERVAL_N - 1)) is None


def test_sample_size_matches_the_textbook_figures() -> None:
    # Two proportions 0.10 vs 0.15, α 0.05 two-sided, power 0.8 (unpooled): 682.9 → 683 per arm.
    assert sample_size(Sample.proportion(10_000, 1_000), Sample.proportion(10_000, 1_500)) == 683
    # Two means, σ = 1 each, δ = 0.5: 2·(1.96 + 0.8416)²/0.25 = 62.8 → 63 per arm.
    n = 1000
    a, b = Sample(n, 0.5 * n, (n - 1) + n * 0.25), Sample(n, 0.0, n - 1.0)
    assert (a.variance, b.variance) == (pytest.approx(1.0), pytest.approx(1.0))
    assert sample_size(a, b) == 63
    assert sample_size(Sample.proportion(100, 0), Sample.proportion(100, 0)) is None  # nothing varies yet


def test_verdict_names_a_clear_winner_with_its_interval() -> None:
    arms = [arm("A", 2000, 100), arm("B", 2000, 180)]
    got = verdict(arms, "conversion")
    assert got.decided and got.winner == "B" and got.runner_up == "A" and got.metric == "conversion"
    assert got.lead is not None and got.lead.interval is not None and got.lead.interval.low > 0
    assert got.more_needed == {"A": 0, "B": 0}


def test_verdict_waits_for_the_minimum_arm_size() -> None:
    got = verdict([arm("A", MIN_VERDICT_N - 1, 1), arm("B", MIN_VERDICT_N - 1, 60)], "conversion")
    assert not got.decided and got.winner is None and got.leader == "B"
    assert "fewer than 100 reached recipients" in got.reason
    assert all(v is not None and v >= 1 for v in got.more_needed.values())


def test_verdict_says_how_many_more_recipients_a_close_race_needs() -> None:
    got = verdict([arm("A", 500, 50), arm("B", 500, 60)], "conversion")  # 10 % vs 12 %
    assert not got.decided and "within the noise" in got.reason
    needed = sample_size(Sample.proportion(500, 60), Sample.proportion(500, 50))
    assert needed is not None and got.more_needed == {"A": needed - 500, "B": needed - 500}


def test_verdict_on_revenue_counts_what_recipients_spent() -> None:
    big = [30_000] * 100  # B converts as often as A, but its recipients spend three times as much
    arms = [arm("A", 1000, 100), arm("B", 1000, 100, big)]
    assert not verdict(arms, "conversion").decided
    got = verdict(arms, "revenue_per_recipient")
    assert got.decided and got.winner == "B"
    assert verdict(arms, "net_revenue_per_recipient").winner == "B"


def test_verdict_refuses_unknown_metrics_and_single_arms() -> None:
    with pytest.raises(ValueError):
        verdict([arm("A", 10, 1), arm("B", 10, 1)], "clicks")
    with pytest.raises(ValueError):
        verdict([arm("A", 10, 1)], "conversion")


# -- properties ---------------------------------------------------------------------------------------------------
counts = st.integers(min_value=1, max_value=5_000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n)))


@given(counts)
def test_wilson_holds_the_observed_rate_inside_zero_one(nx: tuple[int, int]) -> None:
    n, x = nx
    got = wilson(x, n)
    assert got is not None and 0.0 <= got.low <= x / n <= got.high <= 1.0


@given(counts)
def test_wilson_narrows_with_four_times_the_data(nx: tuple[int, int]) -> None:
    n, x = nx
    small, large = wilson(x, n), wilson(4 * x, 4 * n)
    assert small is not None and large is not None
    assert large.high - large.low <= small.high - small.low + 1e-12


@given(st.lists(st.integers(min_value=0, max_value=1_000_000), min_size=2, max_size=200))
def test_sample_summary_equals_the_statistics_module(values: list[int]) -> None:
    s = Sample.of(values)
    assert s.mean == pytest.approx(statistics.fmean(values))
    assert s.variance == pytest.approx(statistics.variance(values), rel=1e-6, abs=1e-6)


@given(counts, counts)
def test_lift_is_antisymmetric(a: tuple[int, int], b: tuple[int, int]) -> None:
    one, other = Sample.proportion(*a), Sample.proportion(*b)
    ab, ba = lift(one, other), lift(other, one)
    assert ab.difference == pytest.approx(-(ba.difference or 0.0))
    if ab.interval is not None:
        assert ba.interval is not None
        assert ab.interval.low == pytest.approx(-ba.interval.high) and ab.interval.contains(ab.difference or 0.0)
    assert (ab.interval is None) == (min(a[0], b[0]) < MIN_INTERVAL_N)


arms_strategy = st.lists(counts, min_size=2, max_size=5)


@settings(max_examples=200)
@given(arms_strategy, st.permutations(range(5)))
def test_a_verdict_does_not_depend_on_arm_order_and_crowns_the_best(data: list[tuple[int, int]],
                                                                     order: list[int]) -> None:
    arms = [arm(f"T{i}", n, x) for i, (n, x) in enumerate(data)]
    got = verdict(arms, "conversion")
    shuffled = verdict([arms[i] for i in order if i < len(arms)], "conversion")
    assert (got.decided, got.winner) == (shuffled.decided, shuffled.winner)
    if got.decided:
        best = max(a.conversion.mean or 0 for a in arms)
        winner = next(a for a in arms if a.name == got.winner)
        assert winner.conversion.mean == best
        assert sum(a.conversion.mean == best for a in arms) == 1
        assert all(a.n >= MIN_VERDICT_N and a.converted >= MIN_VERDICT_CONVERSIONS for a in arms)
    assert all(v is None or v >= 0 for v in got.more_needed.values())
    assert set(got.more_needed) == {a.name for a in arms}


@settings(max_examples=200)
@given(arms_strategy)
def test_a_verdict_holds_with_four_times_the_data(data: list[tuple[int, int]]) -> None:
    small = verdict([arm(f"T{i}", n, x) for i, (n, x) in enumerate(data)], "conversion")
    large = verdict([arm(f"T{i}", 4 * n, 4 * x) for i, (n, x) in enumerate(data)], "conversion")
    if small.decided:
        assert large.decided and large.winner == small.winner


@given(counts, counts)
def test_more_arms_make_each_comparison_stricter(a: tuple[int, int], b: tuple[int, int]) -> None:
    two = verdict([arm("A", *a), arm("B", *b)], "conversion")
    three = verdict([arm("A", *a), arm("B", *b), arm("C", *b)], "conversion")
    assert three.per_comparison > two.per_comparison
    if three.decided:
        assert two.decided and two.winner == three.winner


def test_empty_arms_give_no_figures() -> None:
    empty, some = Sample.proportion(0, 0), Sample.proportion(100, 10)
    assert lift(empty, some) == lift(some, empty)
    assert (lift(empty, some).difference, lift(empty, some).relative, lift(empty, some).interval) == (None, None, None)
    assert sample_size(empty, some) is None and sample_size(some, empty) is None
    assert lift(some, Sample.proportion(100, 0)).relative is None  # a zero base has no relative lift


def test_nothing_to_estimate_from_arms_without_conversions() -> None:
    got = verdict([arm("A", MIN_VERDICT_N, 0), arm("B", MIN_VERDICT_N + 5, 0)], "revenue_per_recipient")
    assert not got.decided and got.metric == "revenue_per_recipient"
    assert got.more_needed == {"A": None, "B": None}
    short = verdict([arm("A", MIN_VERDICT_N - 3, 0), arm("B", MIN_VERDICT_N, 0)], "conversion")
    assert short.more_needed == {"A": 3, "B": None}
