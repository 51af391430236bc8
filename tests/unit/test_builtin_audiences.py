"""Built-in audiences on a hand-built dataset whose members are known, edges included."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.audiences.builtin import (
    BUILTIN_AUDIENCES,
    BUILTIN_IDS,
    BuiltinEvaluator,
    RfmSettings,
    builtin_counts,
    median_fen,
    rfm_median,
)
from chalicelib.audiences.rules import compile_rule, parse_rule
from chalicelib.customers.metrics import apply_event, apply_order, facts_as_of
from chalicelib.customers.model import (
    CustomerActivity,
    CustomerFacts,
    CustomerProfile,
    EventFact,
    EventType,
    OrderFact,
    OrderStatus,
)

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)
AS_OF = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai; yesterday is 2026-11-22
SPEC_IDS = [  # SPEC §11, in its order
    "rfm_high_value", "rfm_potential_high_value", "rfm_raise_basket", "rfm_repurchase", "rfm_churned_high_value",
    "rfm_churned_raise_basket", "scene_followers", "scene_visited_no_order_yesterday", "scene_good_reviewers",
    "scene_non_reviewers", "key_new", "key_old", "key_potential", "rec_silent", "rec_fan_level",
    "rec_live_active_non_buyers", "rec_loyal", "rec_returning", "rec_recent_buyers", "scenario_grow_new_members",
    "scenario_sleeping",
]


def ago(days: float = 0, hours: float = 0) -> datetime:
    return AS_OF - timedelta(days=days, hours=hours)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SH)


Order = tuple[datetime, int] | tuple[str, datetime, int, OrderStatus]
Event = tuple[EventType, datetime] | tuple[EventType, datetime, dict[str, Any]]


def customer(cid: str, orders: Sequence[Order] = (), events: Sequence[Event] = (), as_of: datetime = AS_OF,
             **profile: Any) -> CustomerFacts:
    """Facts of one customer built the real way: orders and events folded by the metrics code."""
    activity = CustomerActivity()
    for n, row in enumerate(orders):
        oid, at, amount, status = row if len(row) == 4 else (f"{cid}-o{n}", *row, "paid")
        fact = OrderFact(oid, cid, at, amount, status)
        activity = apply_order(activity, fact, TZ, as_of)
    for n, event in enumerate(events):
        extra: dict[str, Any] = event[2] if len(event) == 3 else {}
        activity = apply_event(activity, EventFact(f"{cid}-e{n}", cid, event[0], event[1], **extra), TZ, as_of)
    return facts_as_of(CustomerProfile(cid, **profile), activity, TZ, as_of)


DATASET = [
    customer("A", [(ago(1), 50000), (ago(40), 50000)],
             [("review", ago(2), {"rating": "good", "content": "great"}), ("follow", ago(3)),
              ("fan_level_up", ago(3), {"value": 2})]),
    customer("B", [(ago(2), 60000)]),
    customer("C", [(ago(3), 1000), (ago(10), 1000)]),
    customer("D", [(ago(5), 2000)]),
    customer("E", [(ago(40), 40000), (ago(100), 40000)]),
    customer("F", [(ago(60), 1500), (ago(70), 1500)]),
    customer("G", [(ago(30), 3000)]),  # exactly 30 days ago: not within 30 d
    customer("H", [(ago(181), 7000), (ago(5), 7000)]),  # first payment 181 days ago: old, not new
    customer("I", [("i1", ago(2), 9000, "paid"), ("i1", ago(2), 9000, "refunded")], [("live_interaction", ago(3))]),
    customer("J", [("j1", ago(20), 20000, "cancelled"), ("j2", ago(10), 4000, "paid")]),
    customer("K", events=[("live_watch", ago(1), {"value": 15})]),  # exactly 15 s is not > 15 s
    customer("L", events=[("live_watch", ago(14), {"value": 16})]),
    customer("M", events=[("product_view", ago(2))]),
    customer("N", events=[("visit", local(2026, 11, 22, 23, 59, 59))]),
    customer("O", [(local(2026, 11, 22, 18, 0), 2500)], [("visit", local(2026, 11, 22, 17, 0))]),
    customer("P", events=[("visit", local(2026, 11, 23, 0, 0))]),
    customer("Q", registered_at=ago(10)),
    customer("R", registered_at=ago(7)),  # exactly 7 days ago: not within 7 d, so still to grow
    customer("S", [(ago(20), 3100)]),
    customer("T", events=[("unfollow", ago(1))], is_follower=True, fan_level=3),
    customer("U", is_follower=True),
    customer("V", [(ago(3), 2200)], [("review", ago(2), {"rating": "good", "content": "  "})]),
    customer("W", registered_at=ago(3)),
    customer("X", [(ago(200), 1000), (ago(250), 1000), (ago(300), 1000)], registered_at=ago(10)),
]

EXPECTED = {
    "rfm_high_value": "A",
    "rfm_potential_high_value": "BHJS",
    "rfm_raise_basket": "C",
    "rfm_repurchase": "DOV",
    "rfm_churned_high_value": "E",
    "rfm_churned_raise_basket": "F",
    "scene_followers": "AU",
    "scene_visited_no_order_yesterday": "N",
    "scene_good_reviewers": "A",
    "scene_non_reviewers": "BCDHJOS",
    "key_new": "ABDJOSV",
    "key_old": "CEFGH",
    "key_potential": "LM",
    "rec_silent": "EFG",
    "rec_fan_level": "A",
    "rec_live_active_non_buyers": "I",
    "rec_loyal": "AC",
    "rec_returning": "ACEF",
    "rec_recent_buyers": "ABCDHJOSV",
    "scenario_grow_new_members": "QR",
    "scenario_sleeping": "EFGS",
}


def members(evaluator: BuiltinEvaluator, audience_id: str) -> str:
    return "".join(f.customer_id for f in DATASET if evaluator.matches(audience_id, f))


@pytest.fixture(scope="module")
def evaluator() -> BuiltinEvaluator:
    return BuiltinEvaluator(AS_OF, RfmSettings(), rfm_median(DATASET))


@pytest.mark.parametrize("audience_id", SPEC_IDS)
def test_builtin_audience_has_exactly_the_known_members(evaluator: BuiltinEvaluator, audience_id: str) -> None:
    assert members(evaluator, audience_id) == EXPECTED[audience_id]


def test_builtin_ids_are_the_spec_ids_each_named_and_described() -> None:
    assert list(BUILTIN_IDS) == SPEC_IDS
    assert all(a.name_zh and a.name_en and a.description for a in BUILTIN_AUDIENCES)


def test_rfm_median_over_purchasers_with_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert rfm_median(DATASET) == Fraction(3050)  # 3000 (G) and 3100 (S) are the middle of twelve
    assert median_fen([4000, 1000, 2002, 2001]) == Fraction(4003, 2)
    assert median_fen([5, 1, 3]) == 3 and median_fen([]) is None


def test_average_at_the_median_counts_as_high() -> None:
    buyers = [customer(c, [(ago(1), amount)]) for c, amount in (("a", 1000), ("b", 2000), ("c", 2000), ("d", 5000))]
    evaluator = BuiltinEvaluator(AS_OF, median=rfm_median(buyers))
    assert [evaluator.rfm_cell(f) for f in buyers] == [
        "rfm_repurchase", "rfm_potential_high_value", "rfm_potential_high_value", "rfm_potential_high_value"]


def test_merchant_threshold_replaces_the_median_when_set() -> None:
    evaluator = BuiltinEvaluator(AS_OF, RfmSettings(monetary_threshold_fen=2500), median=Fraction(10**9))
    assert members(evaluator, "rfm_potential_high_value") == "BHJOS"
    assert members(evaluator, "rfm_repurchase") == "DV"


def test_recent_days_and_frequency_settings_move_customers_between_cells() -> None:
    median = rfm_median(DATASET)
    longer = BuiltinEvaluator(AS_OF, RfmSettings(recent_days=45), median)
    assert members(longer, "rfm_high_value") == "AE" and members(longer, "rfm_churned_high_value") == ""
    stricter = BuiltinEvaluator(AS_OF, RfmSettings(frequency_threshold=3), median)
    assert members(stricter, "rfm_high_value") == "" and "A" in members(stricter, "rfm_potential_high_value")


def test_no_customer_is_in_rfm_without_median_or_threshold() -> None:
    evaluator = BuiltinEvaluator(AS_OF)
    assert all(evaluator.rfm_cell(f) is None for f in DATASET)


def test_counts_match_the_known_members(evaluator: BuiltinEvaluator) -> None:
    assert builtin_counts(DATASET, evaluator) == {aid: len(EXPECTED[aid]) for aid in BUILTIN_IDS}
    assert evaluator.memberships(DATASET[0]) == tuple(aid for aid in BUILTIN_IDS if "A" in EXPECTED[aid])


def test_membership_follows_the_clock_without_any_new_activity() -> None:
    evaluations = {}
    for days_later in (0, 24, 25):
        as_of = AS_OF + timedelta(days=days_later)
        d = customer("D", [(ago(5), 2000)], as_of=as_of)  # bought 5 days before AS_OF
        evaluator = BuiltinEvaluator(as_of, median=Fraction(1))
        evaluations[days_later] = evaluator.memberships(d)
    assert "rec_recent_buyers" in evaluations[0] and "scenario_sleeping" not in evaluations[0]
    assert "rec_recent_buyers" in evaluations[24] and "rec_silent" not in evaluations[24]
    # 30 days after the purchase to the second: no longer within 30 d
    assert "rec_recent_buyers" not in evaluations[25] and {"rec_silent", "scenario_sleeping"} <= set(evaluations[25])


@pytest.mark.parametrize(("as_of_local", "expected"), [
    (local(2027, 2, 28, 9, 0), ["leap", "feb28"]),  # common year: 29 Feb birthdays are celebrated on 28 Feb
    (local(2028, 2, 28, 9, 0), ["feb28"]),
    (local(2028, 2, 29, 9, 0), ["leap"]),
])
def test_birthday_today_includes_feb_29_birthdays_on_feb_28_of_common_years(as_of_local: datetime,
                                                                          expected: list[str]) -> None:
    people = [customer("leap", birthday=date(2000, 2, 29), as_of=as_of_local),
              customer("feb28", birthday=date(1999, 2, 28), as_of=as_of_local),
              customer("mar1", birthday=date(1999, 3, 1), as_of=as_of_local)]
    today = compile_rule(parse_rule({"all": [{"field": "birthday", "op": "birthday_in_days", "value": 0}]}),
                         as_of_local, TZ)
    assert [f.customer_id for f in people if today(f)] == expected


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        RfmSettings(recent_days=0)
    with pytest.raises(ValueError):
        RfmSettings(frequency_threshold=0)
    with pytest.raises(ValueError):
        RfmSettings(monetary_threshold_fen=-1)
