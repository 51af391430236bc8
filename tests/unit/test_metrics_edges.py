"""Customer metrics at their edges: every profile value read through, the archive merged into totals, the order
horizon and engagement days pruned exactly at their cutoffs, and ties between events at the same second."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.customers.metrics import (
    DAY,
    ENGAGEMENT_DAYS,
    MAX_TRACKED_ORDERS,
    ORDER_HORIZON_DAYS,
    apply_event,
    apply_order,
    epoch_seconds,
    facts_as_of,
    order_digest,
)
from chalicelib.customers.model import (
    Card,
    Consent,
    CountedOrder,
    CustomerActivity,
    CustomerProfile,
    DayCounts,
    EventFact,
    FollowState,
    OrderFact,
)

TZ = "Asia/Shanghai"
AS_OF = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
NOW = epoch_seconds(AS_OF)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
# The consumer's clock: after every record folded here (the cap on records ahead of it: test_future_records).
CLOCK = datetime(2030, 1, 1, tzinfo=UTC)


def event(eid: str, kind: str, at: datetime, **kw: object) -> EventFact:
    return EventFact(eid, "c1", kind, at, **kw)  # type: ignore[arg-type]


def paid(oid: str, at: datetime, amount: int = 100) -> OrderFact:
    return OrderFact(oid, "c1", at, amount, "paid")  # type: ignore[arg-type]


def test_every_profile_value_reaches_the_facts():
    card = Card("k1", "stored_value", balance_fen=100)  # type: ignore[call-arg]
    profile = CustomerProfile("c1", gender="female", birthday=date(1990, 2, 14), age_band="25-34",
                              device_brand="apple", device_os="ios", region="sh", city_tier=1,
                              registered_at=datetime(2026, 1, 1, 8, 0, tzinfo=ZoneInfo(TZ)), phone_bound=True,
                              member_level=3, fan_level=2, is_follower=True, tags=frozenset({"vip"}),
                              staff_owner="s1", risk_flagged=True, consent=Consent(sms=True), cards=(card,))
    got = facts_as_of(profile, CustomerActivity(), TZ, AS_OF)
    assert (got.customer_id, got.gender, got.age_band, got.birthday, got.birthday_md) == (
        "c1", "female", "25-34", date(1990, 2, 14), 214)
    assert (got.region, got.city_tier, got.device_brand, got.device_os) == ("sh", 1, "apple", "ios")
    assert got.registered_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC) and got.registered_at.tzinfo is UTC
    assert (got.phone_bound, got.member_level, got.fan_level, got.is_follower) == (True, 3, 2, True)
    assert (got.tags, got.staff_owner, got.risk_flagged, got.cards) == (frozenset({"vip"}), "s1", True, (card,))
    assert got.reachable_channels == Consent(sms=True).granted()


def test_activity_instants_are_known_from_their_second_on():
    activity = CustomerActivity(last_at={"registration": NOW - 10, "service_completed": NOW, "card_used": NOW - 1,
                                         "visit": NOW + 1})
    got = facts_as_of(CustomerProfile("c1"), activity, TZ, AS_OF)
    assert got.registered_at == AS_OF - timedelta(seconds=10)
    assert (got.last_service_at, got.last_card_used_at, got.last_visit_at) == (
        AS_OF, AS_OF - timedelta(seconds=1), None)


def test_a_follow_event_decides_from_its_own_second_on():
    activity = CustomerActivity(follow=FollowState(NOW, "e1", False))
    assert facts_as_of(CustomerProfile("c1", is_follower=True), activity, TZ, AS_OF).is_follower is False
    later = CustomerActivity(follow=FollowState(NOW + 1, "e1", False))
    assert facts_as_of(CustomerProfile("c1", is_follower=True), later, TZ, AS_OF).is_follower is True


def test_archived_purchases_join_the_totals_and_the_first_and_last_purchase():
    activity = CustomerActivity(orders={"o1": CountedOrder(NOW - 5 * DAY, 300)}, archived_orders=2,
                                archived_spend_fen=700, archived_first_at=NOW - 600 * DAY,
                                archived_last_at=NOW - 500 * DAY)
    got = facts_as_of(CustomerProfile("c1"), activity, TZ, AS_OF)
    assert (got.orders_total, got.spend_total, got.aov) == (3, 1000, 333)
    assert got.first_order_at == AS_OF - timedelta(days=600)
    assert got.last_order_at == AS_OF - timedelta(days=5)
    only = CustomerActivity(archived_orders=1, archived_spend_fen=50, archived_first_at=NOW)
    alone = facts_as_of(CustomerProfile("c1"), only, TZ, AS_OF)
    assert (alone.orders_total, alone.first_order_at, alone.last_order_at) == (1, AS_OF, AS_OF)
    assert (alone.orders_180d, alone.aov_180d, alone.spend_30d, alone.spend_90d, alone.spend_180d) == (0, 0, 0, 0, 0)
    future = CustomerActivity(archived_orders=1, archived_spend_fen=50, archived_first_at=NOW + 1)
    assert facts_as_of(CustomerProfile("c1"), future, TZ, AS_OF).orders_total == 0


def test_window_spends_and_engagement_sums_over_the_local_days():
    activity = CustomerActivity(orders={"o1": CountedOrder(NOW - 20 * DAY, 300), "o2": CountedOrder(NOW - DAY, 200),
                                        "o3": CountedOrder(NOW - 100 * DAY, 1000)},
                                days={"2026-11-23": DayCounts(visits=2, live_watch_max_seconds=3),
                                      "2026-10-25": DayCounts(visits=5, product_views=1),
                                      "2026-10-24": DayCounts(visits=7)})
    got = facts_as_of(CustomerProfile("c1"), activity, TZ, AS_OF)
    assert (got.spend_30d, got.spend_90d, got.spend_180d, got.aov_180d) == (500, 500, 1500, 500)
    assert (got.visits_30d, got.product_views_30d, got.product_views_15d, got.live_watch_max_seconds_15d) == (
        7, 1, 0, 3)
    assert facts_as_of(CustomerProfile("c1"), CustomerActivity(), TZ, AS_OF).live_watch_max_seconds_15d == 0


# -- pruning at the exact cutoffs ---------------------------------------------------------------------------
def test_a_purchase_exactly_the_order_horizon_old_is_kept_and_one_second_older_is_archived():
    activity = apply_order(CustomerActivity(), paid("old", T0, 300), TZ, CLOCK)
    horizon = T0 + timedelta(days=ORDER_HORIZON_DAYS)
    kept = apply_order(activity, paid("new", horizon), TZ, CLOCK)
    assert set(kept.orders) == {"old", "new"} and kept.archived_orders == 0
    moved = apply_order(activity, paid("new", horizon + timedelta(seconds=1)), TZ, CLOCK)
    assert set(moved.orders) == {"new"}
    t0 = epoch_seconds(T0)
    assert (moved.archived_orders, moved.archived_spend_fen, moved.archived_first_at, moved.archived_last_at) == (
        1, 300, t0, t0)
    assert moved.archived_ids == {order_digest("old")}


def test_a_second_archive_widens_the_first_and_last_archived_purchase():
    start = CustomerActivity(archived_orders=1, archived_spend_fen=5, archived_first_at=epoch_seconds(T0) - 10,
                             archived_last_at=epoch_seconds(T0) - 5)
    activity = apply_order(start, paid("old", T0, 300), TZ, CLOCK)
    moved = apply_order(activity, paid("new", T0 + timedelta(days=ORDER_HORIZON_DAYS + 1)), TZ, CLOCK)
    assert (moved.archived_orders, moved.archived_first_at, moved.archived_last_at) == (
        2, epoch_seconds(T0) - 10, epoch_seconds(T0))
    early = CustomerActivity(archived_orders=1, archived_spend_fen=5, archived_first_at=epoch_seconds(T0) + 10,
                             archived_last_at=epoch_seconds(T0) + 20)
    moved = apply_order(apply_order(early, paid("old", T0), TZ, CLOCK),
                        paid("new", T0 + timedelta(days=ORDER_HORIZON_DAYS + 1)), TZ, CLOCK)
    assert (moved.archived_first_at, moved.archived_last_at) == (epoch_seconds(T0), epoch_seconds(T0) + 20)


def test_more_than_the_tracked_maximum_archives_early_but_exactly_the_maximum_does_not():
    base = epoch_seconds(T0)
    orders = {f"o{i}": CountedOrder(base + i, 1) for i in range(MAX_TRACKED_ORDERS - 1)}
    activity = CustomerActivity(orders=orders, watermark=base + MAX_TRACKED_ORDERS)
    late = T0 + timedelta(days=200)
    full = apply_order(activity, paid("last", late), TZ, CLOCK)
    assert len(full.orders) == MAX_TRACKED_ORDERS and full.archived_orders == 0
    over = apply_order(full, paid("one-more", late), TZ, CLOCK)
    assert set(over.orders) == {"last", "one-more"} and over.archived_orders == MAX_TRACKED_ORDERS - 1


def test_refunded_ids_are_forgotten_only_past_the_order_horizon():
    refund = OrderFact("r", "c1", T0, 100, "refunded")  # type: ignore[arg-type]
    activity = apply_order(CustomerActivity(), refund, TZ, CLOCK)
    kept = apply_order(activity, paid("n", T0 + timedelta(days=ORDER_HORIZON_DAYS)), TZ, CLOCK)
    assert set(kept.closed_orders) == {"r"}
    gone = apply_order(activity, paid("n", T0 + timedelta(days=ORDER_HORIZON_DAYS, seconds=1)), TZ, CLOCK)
    assert gone.closed_orders == {}


def test_engagement_days_are_kept_exactly_for_the_engagement_window():
    first = apply_event(CustomerActivity(), event("e1", "visit", T0), TZ, CLOCK)
    last_kept = T0 + timedelta(days=ENGAGEMENT_DAYS - 1)
    kept = apply_event(first, event("e2", "visit", last_kept), TZ, CLOCK)
    assert len(kept.days) == 2
    dropped = apply_event(first, event("e2", "visit", last_kept + timedelta(days=1)), TZ, CLOCK)
    assert list(dropped.days) == [(last_kept + timedelta(days=1)).astimezone(ZoneInfo(TZ)).date().isoformat()]
    oldest = last_kept + timedelta(days=1) - timedelta(days=ENGAGEMENT_DAYS - 1)
    late = apply_event(dropped, event("e3", "visit", oldest), TZ, CLOCK)
    assert len(late.days) == 2  # a late event on the oldest day
    assert len(apply_event(dropped, event("e3", "visit", oldest - timedelta(days=1)), TZ, CLOCK).days) == 1


# -- events ---------------------------------------------------------------------------------------------------
def test_live_watch_counts_seconds_never_below_zero():
    a = apply_event(CustomerActivity(), event("e1", "live_watch", T0, value=-5), TZ, CLOCK)
    a = apply_event(a, event("e2", "live_watch", T0), TZ, CLOCK)
    day = next(iter(a.days.values()))
    assert (day.live_watch_seconds, day.live_watch_max_seconds) == (0, 0)


def test_the_latest_instant_of_a_kind_is_kept_and_a_tie_keeps_the_first():
    a = apply_event(CustomerActivity(), event("e1", "visit", T0), TZ, CLOCK)
    a = apply_event(a, event("e2", "visit", T0 - timedelta(seconds=1)), TZ, CLOCK)
    assert a.last_at["visit"] == epoch_seconds(T0)
    old = apply_event(CustomerActivity(), event("e0", "visit", datetime(1900, 1, 1, tzinfo=UTC)), TZ, CLOCK)
    assert old.last_at["visit"] == epoch_seconds(datetime(1900, 1, 1, tzinfo=UTC))


def test_follow_state_is_the_latest_event_with_the_event_id_breaking_a_same_second_tie():
    a = apply_event(CustomerActivity(), event("e2", "follow", T0), TZ, CLOCK)
    assert a.follow == FollowState(epoch_seconds(T0), "e2", True)
    same = apply_event(a, event("e1", "unfollow", T0), TZ, CLOCK)
    assert same.follow == FollowState(epoch_seconds(T0), "e2", True)
    after = apply_event(a, event("e3", "unfollow", T0), TZ, CLOCK)
    assert after.follow == FollowState(epoch_seconds(T0), "e3", False)
    assert apply_event(after, event("e4", "visit", T0), TZ, CLOCK).follow == after.follow


def test_fan_level_moves_only_with_a_level_and_other_events_with_values_do_not_touch_it():
    a = apply_event(CustomerActivity(), event("e1", "fan_level_up", T0, value=3), TZ, CLOCK)
    a = apply_event(a, event("e2", "fan_level_up", T0), TZ, CLOCK)
    a = apply_event(a, event("e3", "live_watch", T0, value=9), TZ, CLOCK)
    assert a.fan_level == 3


def test_a_refund_moves_the_watermark():
    refund = OrderFact("r", "c1", T0, 100, "refunded")  # type: ignore[arg-type]
    assert apply_order(CustomerActivity(), refund, TZ, CLOCK).watermark == epoch_seconds(T0)
    assert apply_event(CustomerActivity(), event("e", "visit", T0), TZ, CLOCK).watermark == epoch_seconds(T0)


def test_epoch_seconds_floor_and_need_an_aware_instant():
    assert epoch_seconds(T0 + timedelta(milliseconds=999)) == epoch_seconds(T0)
    assert isinstance(epoch_seconds(T0 + timedelta(milliseconds=999)), int)
    with pytest.raises(ValueError) as caught:
        epoch_seconds(datetime(2026, 1, 1))
    assert str(caught.value) == "instants must be timezone-aware"


def test_an_order_digest_is_eleven_url_safe_characters_of_eight_bytes():
    digest = order_digest("o1")
    assert len(digest) == 11 and "=" not in digest and digest != order_digest("o2")
    assert digest == order_digest("o1")
