"""Generated customers, orders and events on a few shared ids: the stream consumer folds all of them, none poisons."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.fuzz import scale

CUSTOMERS = ["c1", "c2", "c3"]
ORDERS = [f"o{i}" for i in range(6)]
EVENT_TYPES = ["visit", "product_view", "live_watch", "live_interaction", "cart_view", "cart_click", "review",
               "follow", "unfollow", "service_completed", "card_used", "order_cancelled", "order_timed_out",
               "fan_level_up", "unsubscribe", "registration"]


def test_generated_ingestion_folds_without_a_dead_letter_when_ids_collide_and_orders_change_status(
        api: Any, merchant: Any, runtime: Any, clock: Any) -> None:
    now = clock.now
    runtime.set_time(now)
    # facts up to the 5 minutes ahead of the clock the edge accepts (MAX_FUTURE_SKEW)
    instants = st.integers(-400 * 24 * 60, 5).map(lambda m: (now + timedelta(minutes=m)).isoformat())
    days = st.dates(min_value=(now - timedelta(days=40_000)).date(),
                    max_value=(now + timedelta(days=800)).date()).map(str)
    cards = st.lists(st.fixed_dictionaries({"card_id": st.sampled_from(["k1", "k2"]),
                                            "kind": st.sampled_from(["stored_value", "times"])},
                                           optional={"balance_fen": st.integers(0, 10**9),
                                                     "remaining_count": st.integers(0, 50),
                                                     "expires_on": st.one_of(st.none(), days)}), max_size=2)
    customer = st.fixed_dictionaries({"customer_id": st.sampled_from(CUSTOMERS)}, optional={
        "birthday": st.one_of(st.none(), days.filter(lambda d: d <= str(now.date()))),
        "registered_at": st.one_of(st.none(), instants),
        "member_level": st.integers(0, 100), "fan_level": st.integers(0, 100), "is_follower": st.booleans(),
        "tags": st.lists(st.sampled_from(["vip", "new", "标签"]), max_size=3), "cards": cards,
        "consent": st.fixed_dictionaries({}, optional={"sms": st.booleans(), "inbox": st.booleans()}),
        "staff_owner": st.sampled_from(["s1", "s2"]), "risk_flag": st.booleans(), "phone_bound": st.booleans()})
    order = st.fixed_dictionaries({
        "order_id": st.sampled_from(ORDERS), "customer_id": st.sampled_from(CUSTOMERS), "paid_at": instants,
        "amount_fen": st.integers(0, 10**9)}, optional={
        "discount_fen": st.integers(0, 10**6),
        "status": st.sampled_from(["paid", "completed", "refunded", "cancelled"]),
        "items": st.lists(st.fixed_dictionaries({"item_id": st.sampled_from(["sku1", "sku2"])},
                                                optional={"quantity": st.integers(1, 5),
                                                          "price_fen": st.integers(0, 10**5)}), max_size=3),
        "coupon_instance_id": st.sampled_from(["ci_unknown", "ci_x"])})
    event = st.fixed_dictionaries({
        "event_id": st.text("abcdef0123", min_size=1, max_size=4), "customer_id": st.sampled_from(CUSTOMERS),
        "type": st.sampled_from(EVENT_TYPES), "at": instants}, optional={
        "value": st.integers(0, 10**9), "rating": st.sampled_from(["good", "neutral", "bad"]),
        "content": st.text(max_size=20), "interaction": st.sampled_from(["comment", "like", "share", "gift"]),
        "item_ids": st.lists(st.sampled_from(["sku1", "sku2"]), max_size=3),
        "channel": st.sampled_from(["sms", "email", "inbox"]), "card_id": st.sampled_from(["k1", "k2"]),
        "order_id": st.sampled_from(ORDERS)})
    refused: list[str] = []

    # An id appears once per batch (a repeat is refused by index); across batches ids collide freely.
    @given(customers=st.lists(customer, max_size=3, unique_by=lambda c: c["customer_id"]),
           orders=st.lists(order, max_size=4, unique_by=lambda o: o["order_id"]),
           events=st.lists(event, max_size=4, unique_by=lambda e: e["event_id"]))
    @settings(max_examples=25 * scale(), database=None, deadline=None, derandomize=scale() == 1,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def ingest(customers: list[Any], orders: list[Any], events: list[Any]) -> None:
        for kind, items in (("customers", customers), ("orders", orders), ("events", events)):
            if items:
                r = api.post(f"/v1/{kind}/batch", {"items": items}, token=merchant.token)
                assert r.status == 200, r
                refused.extend(f"{kind}: {res['errors']}" for res in r.json["results"] if not res["ok"])

    ingest()
    stats = runtime.drain()
    assert not refused, refused[:5]  # every generated item is valid: the fold, not the edge, is under test
    assert (stats.stream_failures, stats.stream_retries, runtime.stream_dead_letters) == (0, 0, []), stats
    assert stats.stream_records > 0
    for c in CUSTOMERS:
        r = api.get(f"/v1/customers/{c}", token=merchant.token)
        if r.status == 404:
            continue
        assert r.status == 200, r
        m = r.json["metrics"]
        assert min(m["orders_total"], m["spend_total"], m["orders_30d"], m["spend_180d"]) >= 0, m
        assert m["orders_30d"] <= m["orders_90d"] <= m["orders_180d"] <= m["orders_total"], m
