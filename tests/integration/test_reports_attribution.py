"""Attribution in the activity stream, driven by real ingestion through the API and runtime.drain()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import wiring
from chalicelib.activity.consumer import Change
from chalicelib.core.clock import to_iso
from chalicelib.dispatch.reaches import Reach
from chalicelib.reports.model import Counts

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
REACH_AT = NOW - timedelta(days=10)


def seed(merchant: Any, *reaches: Reach) -> None:
    wiring.reach_log().record_reaches(merchant.id, list(reaches))


def order(oid: str, cid: str, paid_at: datetime, amount: int = 5000, status: str = "paid", **extra: Any
          ) -> dict[str, Any]:
    return {"order_id": oid, "customer_id": cid, "paid_at": to_iso(paid_at), "amount_fen": amount,
            "discount_fen": 100, "status": status, **extra}


def ingest(api: Any, merchant: Any, runtime: Any, *orders: dict[str, Any]) -> None:
    r = api.post("/v1/orders/batch", {"items": list(orders)}, token=merchant.token)
    assert r.status == 200 and r.json["rejected"] == 0, r.json
    runtime.drain()


def events(api: Any, merchant: Any, runtime: Any, *items: dict[str, Any]) -> None:
    r = api.post("/v1/events/batch", {"items": list(items)}, token=merchant.token)
    assert r.status == 200 and r.json["rejected"] == 0, r.json
    runtime.drain()


def totals(merchant: Any, campaign: str) -> Counts:
    return sum(wiring.stats_store().daily(merchant.id, campaign, None, None).values(), Counts())


def start(clock: Any, runtime: Any) -> None:
    clock.set(NOW)
    runtime.set_time(NOW)


def test_paid_order_in_window_is_attributed_and_a_resent_order_counts_once(api, merchant, runtime, clock):
    start(clock, runtime)
    seed(merchant, Reach("c1", "cA", "r1", REACH_AT))
    ingest(api, merchant, runtime, order("o1", "c1", REACH_AT + timedelta(days=2)))
    assert totals(merchant, "cA") == Counts(orders=1, gmv=5000, discount=100)
    ingest(api, merchant, runtime, order("o1", "c1", REACH_AT + timedelta(days=2)))
    assert totals(merchant, "cA") == Counts(orders=1, gmv=5000, discount=100)


def test_window_edges_when_orders_arrive_at_the_end_and_one_second_after(api, merchant, runtime, clock):
    start(clock, runtime)
    seed(merchant, Reach("c1", "cA", "r1", REACH_AT, window_days=3), Reach("c2", "cA", "r1", REACH_AT, window_days=3))
    end = REACH_AT + timedelta(days=3)
    ingest(api, merchant, runtime, order("o1", "c1", end, 1000), order("o2", "c2", end + timedelta(seconds=1), 2000))
    assert totals(merchant, "cA") == Counts(orders=1, gmv=1000, discount=100)
    attrs = wiring.stats_store().attributions(merchant.id, "cA")
    assert [a.order_id for a in attrs] == ["o1"]


def test_refund_reverses_and_a_later_repayment_counts_again(api, merchant, runtime, clock):
    start(clock, runtime)
    seed(merchant, Reach("c1", "cA", "r1", REACH_AT))
    paid_at = REACH_AT + timedelta(days=1)
    ingest(api, merchant, runtime, order("o1", "c1", paid_at), order("o2", "c1", paid_at + timedelta(hours=1), 700))
    assert totals(merchant, "cA") == Counts(orders=2, gmv=5700, discount=200)
    ingest(api, merchant, runtime, order("o1", "c1", paid_at, status="refunded"))
    assert totals(merchant, "cA") == Counts(orders=1, gmv=700, discount=100)
    ingest(api, merchant, runtime, order("o2", "c1", paid_at + timedelta(hours=1), 700, status="cancelled"))
    assert totals(merchant, "cA") == Counts()
    attrs = {a.order_id: a.counted for a in wiring.stats_store().attributions(merchant.id, "cA")}
    assert attrs == {"o1": False, "o2": False}  # still "ordered" in the funnel, no longer "paid"
    ingest(api, merchant, runtime, order("o1", "c1", paid_at, status="paid"))
    assert totals(merchant, "cA") == Counts(orders=1, gmv=5000, discount=100)


def test_two_campaigns_touching_the_same_customer_last_touch_wins(api, merchant, runtime, clock):
    start(clock, runtime)
    seed(merchant, Reach("c1", "cA", "rA", REACH_AT, window_days=30))
    seed(merchant, Reach("c1", "cB", "rB", REACH_AT + timedelta(days=2), window_days=30))
    ingest(api, merchant, runtime, order("o1", "c1", REACH_AT + timedelta(days=1), 1000),
           order("o2", "c1", REACH_AT + timedelta(days=3), 2000))
    assert totals(merchant, "cA").gmv == 1000 and totals(merchant, "cB").gmv == 2000


def test_a_redeemed_coupon_names_its_campaign_beyond_the_window_and_over_a_later_reach(api, merchant, runtime, clock):
    # The reach log keeps no coupon ids: the redeemed instance itself names the campaign and run that issued it.
    start(clock, runtime)
    seed(merchant, Reach("c1", "cA", "rA", NOW - timedelta(days=60)),
         Reach("c1", "cB", "rB", NOW - timedelta(days=2), window_days=7))  # the last touch, but not the coupon's
    coupon = api.post("/v1/coupons", {
        "name": "10 off", "kind": "store_threshold", "threshold_fen": 1000, "discount_fen": 100,
        "validity": {"kind": "relative", "days": 90}, "claim_window": {"kind": "any_time"}, "stock": 10},
        token=merchant.token).json["coupon_id"]
    wallet = wiring.wallet_service()
    from_a = wallet.issue_coupons(merchant.id, "c1", coupon, 1, campaign_id="cA", run_id="rA", delivery_key="rA:c1",
                                  direct=True, now=NOW - timedelta(days=60))
    from_z = wallet.issue_coupons(merchant.id, "c2", coupon, 1, campaign_id="cZ", run_id="rZ", delivery_key="rZ:c2",
                                  direct=True, now=NOW - timedelta(days=50))
    ingest(api, merchant, runtime, order("o1", "c1", NOW - timedelta(days=1), coupon_instance_id=from_a[0].instance_id),
           order("o2", "c2", NOW - timedelta(days=1), 3000, coupon_instance_id=from_z[0].instance_id))
    assert totals(merchant, "cA") == Counts(orders=1, gmv=5000, discount=100, coupon_orders=1)
    assert totals(merchant, "cB") == Counts()
    assert totals(merchant, "cZ") == Counts(orders=1, gmv=3000, discount=100, coupon_orders=1)


def test_held_out_customers_orders_are_control_conversions(api, merchant, runtime, clock):
    start(clock, runtime)
    seed(merchant, Reach("c1", "cA", "r1", REACH_AT, held_out=True), Reach("c2", "cA", "r1", REACH_AT))
    ingest(api, merchant, runtime, order("o1", "c1", REACH_AT + timedelta(days=1), 800),
           order("o2", "c2", REACH_AT + timedelta(days=1), 900))
    assert totals(merchant, "cA") == Counts(orders=1, gmv=900, discount=100, ctl_orders=1, ctl_gmv=800)


def test_unsubscribe_and_unfollow_after_a_reach_count_once_per_customer(api, merchant, runtime, clock):
    start(clock, runtime)
    seed(merchant, Reach("c1", "cA", "r1", REACH_AT), Reach("c2", "cA", "r1", REACH_AT, held_out=True))
    at = to_iso(REACH_AT + timedelta(days=1))
    batch = [{"event_id": "e1", "customer_id": "c1", "type": "unsubscribe", "at": at},
             {"event_id": "e2", "customer_id": "c1", "type": "unfollow", "at": at},
             {"event_id": "e3", "customer_id": "c2", "type": "unsubscribe", "at": at},
             {"event_id": "e4", "customer_id": "c1", "type": "visit", "at": at}]
    events(api, merchant, runtime, *batch)
    events(api, merchant, runtime, *batch[:2], {"event_id": "e5", "customer_id": "c1", "type": "unsubscribe",
                                               "at": at})
    assert totals(merchant, "cA") == Counts(unsubscribes=1, unfollows=1)


def test_stream_replay_through_the_consumer_and_the_hook_changes_nothing(api, merchant, runtime, clock):
    start(clock, runtime)
    seed(merchant, Reach("c1", "cA", "r1", REACH_AT), Reach("c2", "cA", "r1", REACH_AT, held_out=True))
    captured: list[dict[str, Any]] = []
    original = runtime.app.activity_stream

    def spy(event: dict[str, Any], context: Any) -> Any:
        captured.extend(event["Records"])
        return original(event, context)

    runtime.app.activity_stream = spy
    try:
        ingest(api, merchant, runtime, order("o1", "c1", REACH_AT + timedelta(days=1)),
               order("o2", "c2", REACH_AT + timedelta(days=1), 300))
        ingest(api, merchant, runtime, order("o1", "c1", REACH_AT + timedelta(days=1), status="refunded"))
        events(api, merchant, runtime, {"event_id": "e1", "customer_id": "c1", "type": "unfollow",
                                        "at": to_iso(REACH_AT + timedelta(days=2))})
    finally:
        runtime.app.activity_stream = original
    expected = Counts(ctl_orders=1, ctl_gmv=300, unfollows=1)
    assert totals(merchant, "cA") == expected and len(captured) == 4
    assert runtime.app.activity_stream({"Records": captured}, None)["batchItemFailures"] == []
    assert runtime.app.activity_stream({"Records": captured[:1]}, None)["batchItemFailures"] == []
    assert totals(merchant, "cA") == expected
    hook = wiring.attribution_hook()
    first = Change(merchant.id, "ORDER", order("o3", "c1", REACH_AT + timedelta(days=3), 400), None, "1")
    hook.after_batch(merchant.id, [first])
    hook.after_batch(merchant.id, [first])
    assert totals(merchant, "cA") == expected + Counts(orders=1, gmv=400, discount=100)


def test_orders_of_customers_without_touches_cost_no_writes(api, merchant, runtime, clock):
    start(clock, runtime)
    ingest(api, merchant, runtime, order("o1", "nobody", NOW - timedelta(hours=1)))
    assert wiring.stats_store().get_attributions(merchant.id, ["o1"]) == {}
