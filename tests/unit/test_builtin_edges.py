"""Each built-in audience on both sides of every condition of its SPEC §4 definition, at the window's edges."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from chalicelib.audiences.builtin import BUILTIN_IDS, BuiltinEvaluator, RfmSettings, builtin_counts, median_fen
from chalicelib.customers.model import CustomerFacts

AS_OF = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def facts(**kw: Any) -> CustomerFacts:
    """A customer with nothing at all, then `kw`."""
    blank: dict[str, Any] = {}
    for f in dataclasses.fields(CustomerFacts):
        kind = str(f.type)
        blank[f.name] = (False if kind == "bool" else 0 if kind == "int" else frozenset() if "frozenset" in kind
                         else () if "tuple" in kind else None)
    blank["customer_id"] = "c"
    return CustomerFacts(**{**blank, **kw})


def evaluator() -> BuiltinEvaluator:
    # Built inside each test, never at import: a mutant must reach the code that builds the predicates.
    return BuiltinEvaluator(AS_OF, RfmSettings(recent_days=30, frequency_threshold=3), median=Fraction(5000))


def members(f: CustomerFacts) -> set[str]:
    return set(evaluator().memberships(f))


@pytest.mark.parametrize(("audience", "inside", "outside"), [
    ("scene_followers", {"is_follower": True}, {}),
    ("scene_visited_no_order_yesterday", {"visited_yesterday": True},
     {"visited_yesterday": True, "ordered_yesterday": True}),
    ("scene_good_reviewers", {"last_good_review_at": ago(30) + S}, {"last_good_review_at": ago(30)}),
    ("scene_good_reviewers", {"last_good_review_at": AS_OF}, {"last_good_review_at": AS_OF + S}),
    ("scene_non_reviewers", {"orders_30d": 1, "last_review_at": ago(30)},
     {"orders_30d": 1, "last_review_at": ago(30) + S}),
    ("scene_non_reviewers", {"orders_30d": 1}, {"orders_30d": 0}),
    ("key_new", {"orders_30d": 1, "orders_180d": 1, "first_order_at": ago(180) + S},
     {"orders_30d": 1, "orders_180d": 1, "first_order_at": ago(180)}),
    ("key_new", {"orders_30d": 1, "orders_180d": 1, "first_order_at": AS_OF},
     {"orders_30d": 2, "orders_180d": 2, "first_order_at": ago(10)}),
    ("key_old", {"orders_180d": 1, "orders_30d": 2, "first_order_at": ago(10)},
     {"orders_30d": 1, "orders_180d": 1, "first_order_at": ago(10)}),
    ("key_potential", {"product_views_15d": 1}, {"product_views_15d": 1, "orders_180d": 1}),
    ("key_potential", {"live_watch_max_seconds_15d": 16}, {"live_watch_max_seconds_15d": 15}),
    ("key_potential", {"product_views_15d": 1},
     {"product_views_15d": 1, "orders_30d": 1, "orders_180d": 1, "first_order_at": ago(5)}),
    ("rec_silent", {"orders_180d": 1}, {"orders_180d": 1, "orders_30d": 1}),
    ("rec_silent", {"orders_180d": 1}, {}),
    ("rec_fan_level", {"is_follower": True, "fan_level": 1}, {"is_follower": True, "fan_level": 0}),
    ("rec_fan_level", {"is_follower": True, "fan_level": 1}, {"fan_level": 1}),
    ("rec_live_active_non_buyers", {"live_interactions_30d": 1}, {"live_interactions_30d": 1, "orders_total": 1}),
    ("rec_live_active_non_buyers", {"live_interactions_30d": 1}, {}),
    ("rec_loyal", {"orders_30d": 1, "orders_180d": 2}, {"orders_30d": 1, "orders_180d": 1}),
    ("rec_loyal", {"orders_30d": 1, "orders_180d": 2}, {"orders_30d": 0, "orders_180d": 2}),
    ("rec_returning", {"orders_180d": 2}, {"orders_180d": 1}),
    ("rec_recent_buyers", {"orders_30d": 1}, {"orders_30d": 0, "orders_180d": 3}),
    ("scenario_grow_new_members", {"registered_at": ago(7)}, {"registered_at": ago(7) + S}),
    ("scenario_grow_new_members", {"registered_at": ago(30) + S}, {"registered_at": ago(30)}),
    ("scenario_grow_new_members", {"registered_at": ago(10), "orders_total": 2},
     {"registered_at": ago(10), "orders_total": 3}),
    ("scenario_sleeping", {"orders_90d": 1}, {"orders_90d": 1, "orders_15d": 1}),
    ("scenario_sleeping", {"orders_90d": 1}, {}),
])
def test_a_builtin_audience_holds_exactly_on_its_side_of_each_condition(audience, inside, outside):
    assert audience in members(facts(**inside))
    assert audience not in members(facts(**outside))


def _rfm(last: datetime | None, orders: int, aov: int) -> str | None:
    return evaluator().rfm_cell(facts(last_order_at=last, orders_180d=orders, aov_180d=aov))


def test_rfm_recency_frequency_and_monetary_cuts_at_their_exact_edges():
    assert _rfm(ago(30) + S, 3, 5000) == "rfm_high_value"  # recent, frequent (= threshold), at the cut
    assert _rfm(ago(30), 3, 5000) == "rfm_churned_high_value"  # exactly recent_days old: not recent
    assert _rfm(ago(10), 2, 5000) == "rfm_potential_high_value"
    assert _rfm(ago(10), 3, 4999) == "rfm_raise_basket"
    assert _rfm(ago(10), 2, 4999) == "rfm_repurchase"
    assert _rfm(ago(40), 3, 4999) == "rfm_churned_raise_basket"
    assert _rfm(ago(40), 2, 9999) is None  # lapsed with a low purchase count has no audience
    assert _rfm(ago(10), 0, 9999) is None and _rfm(None, 3, 9999) is None


def test_rfm_needs_a_monetary_cut_from_the_settings_or_the_median():
    no_cut = BuiltinEvaluator(AS_OF, RfmSettings(), median=None)
    assert no_cut.rfm_cell(facts(last_order_at=ago(1), orders_180d=3, aov_180d=9999)) is None
    fixed = BuiltinEvaluator(AS_OF, RfmSettings(monetary_threshold_fen=0), median=Fraction(10**9))
    assert fixed.monetary_cut == 0 and fixed.rfm_cell(facts(last_order_at=ago(1), orders_180d=3)) == "rfm_high_value"


def test_rfm_settings_accept_their_bounds_and_refuse_what_lies_beyond():
    for ok in ({"recent_days": 1}, {"recent_days": 180}, {"frequency_threshold": 1}, {"monetary_threshold_fen": 0}):
        RfmSettings(**ok)
    for bad, message in (({"recent_days": 0}, "recent_days must be 1..180"), ({"recent_days": 181}, "recent_days"),
                         ({"frequency_threshold": 0}, "frequency_threshold must be at least 1"),
                         ({"monetary_threshold_fen": -1}, "monetary_threshold_fen must not be negative")):
        with pytest.raises(ValueError, match=message):
            RfmSettings(**bad)


def test_the_evaluator_needs_an_aware_instant_and_answers_by_audience_id():
    with pytest.raises(ValueError) as caught:
        BuiltinEvaluator(datetime(2026, 11, 23))
    assert str(caught.value) == "as_of must be timezone-aware"
    follower = facts(is_follower=True)
    assert evaluator().matches("scene_followers", follower) and evaluator().predicate("scene_followers")(follower)
    assert not evaluator().matches("rec_recent_buyers", follower)
    with pytest.raises(KeyError):
        evaluator().matches("nope", follower)


def test_memberships_come_in_catalogue_order_and_counts_cover_every_audience():
    loyal = facts(orders_30d=1, orders_180d=2, orders_total=2, is_follower=True, last_order_at=ago(1),
                  first_order_at=ago(200), aov_180d=1)
    got = evaluator().memberships(loyal)
    assert list(got) == [a for a in BUILTIN_IDS if a in got]
    counts = builtin_counts([loyal, loyal, facts()], evaluator())
    assert set(counts) == set(BUILTIN_IDS)
    assert counts["rec_loyal"] == 2 and counts["scene_followers"] == 2 and counts["key_new"] == 0


def test_median_of_fen_amounts():
    assert median_fen([]) is None
    assert median_fen([7]) == 7
    assert median_fen([9, 1, 5]) == 5
    assert median_fen([4, 1, 3, 10]) == Fraction(7, 2)
