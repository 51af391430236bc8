"""Customer metrics: folding orders and events into activity, and facts as of any instant."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.customers.metrics import (
    EVENT_ID_MEMORY,
    MAX_TRACKED_ORDERS,
    ORDER_HORIZON_DAYS,
    apply_event,
    apply_order,
    facts_as_of,
)
from chalicelib.customers.model import (
    Consent,
    CustomerActivity,
    CustomerFacts,
    CustomerProfile,
    EventFact,
    EventType,
    OrderFact,
    OrderStatus,
    activity_from_doc,
    activity_to_doc,
)

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)
AS_OF = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
# The consumer's clock: after every record folded here (the cap on records ahead of it: test_future_records).
CLOCK = datetime(2030, 1, 1, tzinfo=UTC)
PROFILE = CustomerProfile("c1")


def order(oid: str, at: datetime, amount: int = 1000, status: OrderStatus = "paid") -> OrderFact:
    return OrderFact(oid, "c1", at, amount, status)


def event(eid: str, kind: EventType, at: datetime, **kw: object) -> EventFact:
    return EventFact(eid, "c1", kind, at, **kw)  # type: ignore[arg-type]


def fold(*records: OrderFact | EventFact) -> CustomerActivity:
    activity = CustomerActivity()
    for record in records:
        if isinstance(record, OrderFact):
            activity = apply_order(activity, record, TZ, CLOCK)
        else:
            activity = apply_event(activity, record, TZ, CLOCK)
    return activity


def facts(activity: CustomerActivity, as_of: datetime = AS_OF, profile: CustomerProfile = PROFILE) -> CustomerFacts:
    return facts_as_of(profile, activity, TZ, as_of)


def test_refund_reverses_exactly_what_payment_added_when_order_refunded() -> None:
    kept = order("o2", AS_OF - timedelta(days=40), 700)
    paid = order("o1", AS_OF - timedelta(days=3), 2500)
    refunded = fold(kept, paid, order("o1", paid.paid_at, 2500, "refunded"))
    only_kept = fold(kept)
    assert refunded.orders == only_kept.orders
    assert facts(refunded) == facts(only_kept)
    assert facts(refunded).orders_total == 1 and facts(refunded).spend_total == 700


def test_replaying_same_order_state_changes_nothing_when_sent_twice() -> None:
    once = fold(order("o1", AS_OF - timedelta(days=1)))
    assert apply_order(once, order("o1", AS_OF - timedelta(days=1)), TZ, CLOCK) is once
    refunded = apply_order(once, order("o1", AS_OF - timedelta(days=1), status="refunded"), TZ, CLOCK)
    assert apply_order(refunded, order("o1", AS_OF - timedelta(days=1), status="refunded"), TZ, CLOCK) is refunded


def test_stale_paid_replay_is_ignored_when_order_already_refunded() -> None:
    at = AS_OF - timedelta(days=2)
    activity = fold(order("o1", at), order("o1", at, status="refunded"), order("o1", at))
    assert facts(activity).orders_total == 0


def test_completed_after_paid_counts_once() -> None:
    at = AS_OF - timedelta(days=2)
    f = facts(fold(order("o1", at, 900), order("o1", at, 900, "completed"), order("o1", at, 900, "paid")))
    assert (f.orders_total, f.spend_total, f.orders_30d) == (1, 900, 1)


def test_resent_order_replaces_its_contribution_when_amount_changes() -> None:
    at = AS_OF - timedelta(days=2)
    f = facts(fold(order("o1", at, 900), order("o1", at, 1200, "completed")))
    assert (f.orders_total, f.spend_total) == (1, 1200)


def test_cancelled_order_is_never_a_first_payment() -> None:
    cancelled_at = AS_OF - timedelta(days=20)
    paid_at = AS_OF - timedelta(days=5)
    f = facts(fold(order("c", cancelled_at, 5000, "cancelled"), order("p", paid_at, 100),
                   order("c", cancelled_at, 5000, "paid")))
    assert f.first_order_at == paid_at
    assert (f.orders_total, f.spend_total) == (1, 100)


def test_first_order_moves_to_next_purchase_when_first_is_refunded() -> None:
    first, second = AS_OF - timedelta(days=50), AS_OF - timedelta(days=10)
    f = facts(fold(order("a", first), order("b", second), order("a", first, status="refunded")))
    assert f.first_order_at == second == f.last_order_at


def test_replaying_event_id_changes_nothing() -> None:
    view = event("e1", "product_view", AS_OF - timedelta(hours=1))
    once = fold(view)
    assert apply_event(once, view, TZ, CLOCK) is once
    assert facts(once).product_views_30d == 1


@pytest.mark.parametrize("days", [15, 30, 90, 180])
def test_purchase_exactly_n_days_ago_is_outside_the_window_and_one_second_later_inside(days: int) -> None:
    at_boundary = facts(fold(order("o", AS_OF - timedelta(days=days))))
    inside = facts(fold(order("o", AS_OF - timedelta(days=days) + timedelta(seconds=1))))
    assert getattr(at_boundary, f"orders_{days}d") == 0
    assert getattr(inside, f"orders_{days}d") == 1


@pytest.mark.parametrize("as_of", [AS_OF, datetime(2025, 2, 28, 16, 0, 0, 1, tzinfo=UTC),
                                   datetime(2024, 12, 31, 23, 59, 59, tzinfo=SH)])
def test_windows_hold_for_any_as_of_including_sub_second_ones(as_of: datetime) -> None:
    # whole-second instants: as_of - 30 d itself is out, the next stored second is in
    boundary = (as_of - timedelta(days=30)).replace(microsecond=0)
    later = boundary + timedelta(seconds=1)
    f = facts(fold(order("a", boundary), order("b", later), order("c", as_of + timedelta(seconds=1))), as_of)
    assert f.orders_30d == 1
    assert f.orders_total == 2  # the order after as_of is not known yet


def test_orders_after_as_of_are_invisible() -> None:
    activity = fold(order("a", AS_OF - timedelta(days=10), 100), order("b", AS_OF + timedelta(hours=1), 200))
    f = facts(activity)
    assert (f.orders_total, f.spend_total, f.last_order_at) == (1, 100, AS_OF - timedelta(days=10))
    earlier = facts(activity, AS_OF - timedelta(days=11))
    assert earlier.orders_total == 0 and earlier.last_order_at is None and earlier.days_since_last_order is None


def test_aov_is_integer_fen_and_zero_without_purchases() -> None:
    f = facts(fold(order("a", AS_OF - timedelta(days=1), 100), order("b", AS_OF - timedelta(days=200), 201)))
    assert (f.aov, f.aov_180d) == (150, 100)
    assert facts(CustomerActivity()).aov == 0


def test_days_since_last_order_counts_local_calendar_days_across_shanghai_midnight() -> None:
    before_midnight = datetime(2026, 11, 22, 23, 59, 59, tzinfo=SH)
    as_of = datetime(2026, 11, 23, 0, 0, 30, tzinfo=SH)
    assert facts(fold(order("a", before_midnight)), as_of).days_since_last_order == 1
    assert facts(fold(order("a", as_of - timedelta(seconds=30))), as_of).days_since_last_order == 0


def test_events_are_bucketed_by_shanghai_local_day_at_2359_and_0000() -> None:
    as_of = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    late = fold(event("v", "visit", datetime(2026, 11, 22, 23, 59, 59, tzinfo=SH)))
    assert "2026-11-22" in late.days and facts(late, as_of).visited_yesterday
    early = fold(event("v", "visit", datetime(2026, 11, 23, 0, 0, tzinfo=SH)))
    assert "2026-11-23" in early.days and not facts(early, as_of).visited_yesterday
    assert facts(early, as_of).last_visit_at == datetime(2026, 11, 23, 0, 0, tzinfo=SH)


def test_ordered_yesterday_uses_local_day_bounds() -> None:
    as_of = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    assert facts(fold(order("a", datetime(2026, 11, 22, 0, 0, tzinfo=SH))), as_of).ordered_yesterday
    assert not facts(fold(order("a", datetime(2026, 11, 21, 23, 59, 59, tzinfo=SH))), as_of).ordered_yesterday
    assert not facts(fold(order("a", datetime(2026, 11, 23, 0, 0, tzinfo=SH))), as_of).ordered_yesterday


def test_engagement_counts_cover_the_local_days_ending_today() -> None:
    as_of = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    day = timedelta(days=1)
    activity = fold(
        event("w1", "live_watch", as_of - 14 * day, value=40), event("w2", "live_watch", as_of - 14 * day, value=5),
        event("w3", "live_watch", as_of - 15 * day, value=99), event("p1", "product_view", as_of - 29 * day),
        event("p2", "product_view", as_of - 30 * day), event("i", "live_interaction", as_of),
        event("cv", "cart_view", as_of), event("cc", "cart_click", as_of),
    )
    f = facts(activity, as_of)
    assert f.live_watch_max_seconds_15d == 40 and f.live_watch_seconds_30d == 144
    assert (f.product_views_30d, f.product_views_15d) == (1, 0)
    assert (f.live_interactions_30d, f.cart_views_30d, f.cart_clicks_30d) == (1, 1, 1)


def test_good_review_needs_content_and_good_rating() -> None:
    at = AS_OF - timedelta(days=1)
    activity = fold(event("r1", "review", at, rating="good", content="  "),
                    event("r2", "review", at, rating="bad", content="meh"))
    f = facts(activity)
    assert f.last_review_at == at and f.last_good_review_at is None and f.reviews_30d == 2
    f = facts(apply_event(activity, event("r3", "review", at, rating="good", content="great"), TZ, CLOCK))
    assert f.last_good_review_at == at and f.review_good_30d == 1


def test_latest_follow_event_wins_whatever_the_arrival_order_else_profile_flag() -> None:
    follow = event("f", "follow", AS_OF - timedelta(days=2))
    unfollow = event("u", "unfollow", AS_OF - timedelta(days=1))
    assert not facts(fold(follow, unfollow)).is_follower
    assert not facts(fold(unfollow, follow)).is_follower
    assert facts(CustomerActivity(), profile=CustomerProfile("c1", is_follower=True)).is_follower


def test_unsubscribe_removes_a_channel_and_fan_level_only_rises() -> None:
    profile = CustomerProfile("c1", fan_level=1, consent=Consent(sms=True))
    activity = fold(event("u", "unsubscribe", AS_OF, channel="sms"), event("l", "fan_level_up", AS_OF, value=3))
    f = facts(activity, profile=profile)
    assert "sms" not in f.reachable_channels and "wallet" in f.reachable_channels and f.fan_level == 3
    assert facts(fold(event("u", "unsubscribe", AS_OF)), profile=profile).reachable_channels == frozenset()


def test_old_purchases_are_archived_and_still_counted_once() -> None:
    old = order("old", AS_OF - timedelta(days=ORDER_HORIZON_DAYS + 20), 300)
    activity = fold(order("new", AS_OF - timedelta(days=1), 100), old)
    assert "old" not in activity.orders and activity.archived_orders == 1
    again = apply_order(activity, old, TZ, CLOCK)
    replayed = apply_order(again, order("old", old.paid_at, 300, "completed"), TZ, CLOCK)
    assert replayed is activity
    f = facts(replayed)
    assert (f.orders_total, f.spend_total, f.first_order_at) == (2, 400, old.paid_at)


def test_heavy_buyers_keep_180_day_windows_exact_when_over_the_order_cap() -> None:
    activity = CustomerActivity()
    count = MAX_TRACKED_ORDERS + 300
    for n in range(count):
        activity = apply_order(activity, order(f"o{n}", AS_OF - timedelta(hours=3 * n), 10), TZ, CLOCK)
    f = facts(activity)
    assert f.orders_total == count and f.orders_180d == len([n for n in range(count) if 3 * n < 180 * 24])
    assert len(json.dumps(activity_to_doc(activity))) < 200_000


def test_event_id_memory_is_bounded() -> None:
    activity = CustomerActivity()
    for n in range(EVENT_ID_MEMORY + 10):
        activity = apply_event(activity, event(f"e{n}", "visit", AS_OF), TZ, CLOCK)
    assert len(activity.event_ids) == EVENT_ID_MEMORY and activity.event_ids[-1] == f"e{EVENT_ID_MEMORY + 9}"


def test_activity_document_round_trips_through_json() -> None:
    activity = fold(order("a", AS_OF - timedelta(days=500), 5), order("b", AS_OF - timedelta(days=1), 7),
                    order("c", AS_OF, 9, "cancelled"), event("f", "follow", AS_OF),
                    event("r", "review", AS_OF, rating="good", content="ok"), event("u", "unsubscribe", AS_OF))
    assert activity_from_doc(json.loads(json.dumps(activity_to_doc(activity)))) == activity


record_strategy = st.tuples(
    st.sampled_from(["o1", "o2", "o3", "o4"]),
    st.integers(min_value=0, max_value=400),
    st.sampled_from([100, 250, 999]),
    st.sampled_from(["paid", "completed", "refunded", "cancelled"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(record_strategy, max_size=12), st.integers(min_value=0, max_value=2))
def test_replaying_any_record_again_right_after_itself_changes_nothing(
        records: list[tuple[str, int, int, OrderStatus]], repeat: int) -> None:
    orders = [order(oid, AS_OF - timedelta(days=days), amount, status) for oid, days, amount, status in records]
    once = fold(*orders)
    again = fold(*(o for o in orders for _ in range(repeat + 1)))
    assert again == once


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=-5, max_value=400), st.integers(min_value=1, max_value=10**6),
                          st.sampled_from(["paid", "completed", "refunded", "cancelled"])), max_size=15))
def test_facts_match_a_brute_force_count_of_purchases(rows: list[tuple[int, int, OrderStatus]]) -> None:
    orders = [order(f"o{n}", AS_OF - timedelta(hours=days * 24 + n), amount, status)
              for n, (days, amount, status) in enumerate(rows)]
    f = facts(fold(*orders))
    bought = [o for o in orders if o.status in ("paid", "completed") and o.paid_at <= AS_OF]
    for days in (15, 30, 90, 180):
        window = [o for o in bought if AS_OF - timedelta(days=days) < o.paid_at]
        assert getattr(f, f"orders_{days}d") == len(window)
    assert (f.orders_total, f.spend_total) == (len(bought), sum(o.amount_fen for o in bought))
    assert f.first_order_at == min((o.paid_at for o in bought), default=None)
    last = max((o.paid_at for o in bought), default=None)
    assert f.last_order_at == last
    expected_days = None if last is None else (AS_OF.astimezone(SH).date() - last.astimezone(SH).date()).days
    assert f.days_since_last_order == expected_days


def test_naive_instants_are_rejected() -> None:
    with pytest.raises(ValueError):
        apply_order(CustomerActivity(), order("a", datetime(2026, 1, 1)), TZ, CLOCK)
