"""Issue 15 item 2: no single record dated ahead of the clock can corrupt a customer's derived state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from chalicelib.core.clock import MAX_FUTURE_SKEW
from chalicelib.customers.metrics import apply_event, apply_order, epoch_seconds, facts_as_of
from chalicelib.customers.model import CustomerActivity, CustomerProfile, EventFact, OrderFact
from chalicelib.customers.schemas import CustomerIn, EventIn

TZ = "Asia/Shanghai"
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


def real_orders() -> CustomerActivity:
    activity = CustomerActivity()
    for i, days in enumerate((2, 20, 60, 100, 170)):
        activity = apply_order(activity, OrderFact(f"o{i}", "c1", NOW - timedelta(days=days), 1000, "paid"), TZ, NOW)
    return activity


def windows(activity: CustomerActivity) -> tuple[int, int, int, int]:
    f = facts_as_of(CustomerProfile("c1"), activity, TZ, NOW)
    return f.orders_30d, f.orders_90d, f.orders_180d, f.orders_total


def test_an_order_paid_in_2099_archives_no_real_order_when_it_reaches_the_consumer():
    activity = real_orders()
    assert windows(activity) == (2, 3, 5, 5)
    polluted = apply_order(activity, OrderFact("typo", "c1", FUTURE, 999, "paid"), TZ, NOW)
    assert polluted.watermark == epoch_seconds(NOW + MAX_FUTURE_SKEW)
    assert len(polluted.orders) == 6 and polluted.archived_orders == 0
    assert windows(polluted) == (2, 3, 5, 5)  # the 2099 order lies after as_of: not yet known
    corrected = apply_order(polluted, OrderFact("typo", "c1", NOW - timedelta(days=1), 999, "paid"), TZ, NOW)
    assert windows(corrected) == (3, 4, 6, 6)


def test_a_watermark_already_ahead_of_the_clock_comes_back_when_the_next_record_is_folded():
    activity = CustomerActivity(watermark=epoch_seconds(FUTURE))  # stored before the edge refused such records
    activity = apply_order(activity, OrderFact("o1", "c1", NOW - timedelta(days=10), 500, "paid"), TZ, NOW)
    assert activity.watermark == epoch_seconds(NOW + MAX_FUTURE_SKEW)
    assert windows(activity) == (1, 1, 1, 1) and activity.archived_orders == 0


def test_an_event_dated_in_2099_drops_no_engagement_day_when_it_reaches_the_consumer():
    activity = CustomerActivity()
    for i in range(3):
        activity = apply_event(activity, EventFact(f"v{i}", "c1", "product_view", NOW - timedelta(days=i + 1)), TZ, NOW)
    activity = apply_event(activity, EventFact("late", "c1", "product_view", FUTURE), TZ, NOW)
    assert facts_as_of(CustomerProfile("c1"), activity, TZ, NOW).product_views_30d == 3


def test_the_edge_accepts_an_instant_exactly_the_skew_ahead_and_refuses_one_second_more():
    def event(at: datetime) -> EventIn:
        return EventIn.model_validate({"event_id": "e", "customer_id": "c", "type": "visit",
                                       "at": at.isoformat()}, context={"now": NOW})

    assert event(NOW + MAX_FUTURE_SKEW).at == NOW + MAX_FUTURE_SKEW
    with pytest.raises(ValidationError, match="lies in the future"):
        event(NOW + MAX_FUTURE_SKEW + timedelta(seconds=1))
    # 04:00 UTC is 18:00 on 11-23 at UTC+14: 11-23 is some merchant's today, 11-24 is nobody's yet.
    assert CustomerIn.model_validate({"customer_id": "c", "birthday": "2026-11-23"}, context={"now": NOW})
    late = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 00:00 on 11-24 at UTC+14
    assert CustomerIn.model_validate({"customer_id": "c", "birthday": "2026-11-24"}, context={"now": late})
    with pytest.raises(ValidationError, match="lies in the future"):
        CustomerIn.model_validate({"customer_id": "c", "birthday": "2026-11-24"}, context={"now": NOW})
