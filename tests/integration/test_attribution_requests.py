"""AWS requests of the order path (ingestion, stream consumer, hooks) stay within a per-order budget."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.counting import PUMP, RequestCounter, fresh_clients
from chalicelib import wiring
from chalicelib.core.clock import to_iso
from chalicelib.dispatch.reaches import Reach
from chalicelib.reports.model import Counts

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
REACH_AT = NOW - timedelta(days=3)
ORDERS = 100
# bench/attribution.py measures 0.055 a order for 1,000; a batch of 100 spreads the per-call and per-batch
# requests (key check, settings, trigger query, counters) over fewer orders. Anything per order breaks this.
BUDGET_PER_ORDER = 0.10


@pytest.fixture
def counted(aws: None) -> Iterator[RequestCounter]:
    """Every request from here on, counted from botocore's events (clients rebuilt to carry the hook)."""
    counter = RequestCounter().install()
    fresh_clients()
    yield counter
    counter.uninstall()
    fresh_clients()


def _orders(customers: list[str], status: str = "paid") -> list[dict[str, Any]]:
    return [{"order_id": f"o-{c}", "customer_id": c, "paid_at": to_iso(REACH_AT + timedelta(days=1)),
             "amount_fen": 2000, "discount_fen": 0, "status": status} for c in customers]


def _application(counts: Counter[tuple[str, str]]) -> Counter[tuple[str, str]]:
    return Counter({k: n for k, n in counts.items() if k not in PUMP})


def test_attributing_a_batch_of_orders_stays_within_the_request_budget_when_every_buyer_was_reached(
        api: Any, merchant: Any, runtime: Any, clock: Any, counted: RequestCounter) -> None:
    clock.set(NOW)
    runtime.set_time(NOW)
    customers = [f"c{i:03d}" for i in range(ORDERS)]
    wiring.reach_log().record_reaches(merchant.id, [Reach(c, "cB", "r1", REACH_AT, i % 10 == 0)
                                                      for i, c in enumerate(customers)])
    counted.reset()
    r = api.post("/v1/orders/batch", {"items": _orders(customers)}, token=merchant.token)
    assert r.status == 200 and r.json["accepted"] == ORDERS
    runtime.drain()
    used = _application(counted.snapshot())

    totals = sum(wiring.stats_store().daily(merchant.id, "cB", None, None).values(), Counts())
    assert (totals.orders, totals.ctl_orders) == (90, 10)
    assert sum(used.values()) <= BUDGET_PER_ORDER * ORDERS, sorted(used.items())


def test_a_resent_batch_costs_no_writes_when_nothing_changed(api: Any, merchant: Any, runtime: Any, clock: Any,
                                                             counted: RequestCounter) -> None:
    clock.set(NOW)
    runtime.set_time(NOW)
    customers = [f"c{i:03d}" for i in range(20)]
    wiring.reach_log().record_reaches(merchant.id, [Reach(c, "cR", "r1", REACH_AT) for c in customers])
    api.post("/v1/orders/batch", {"items": _orders(customers)}, token=merchant.token)
    runtime.drain()
    counted.reset()
    api.post("/v1/orders/batch", {"items": _orders(customers)}, token=merchant.token)
    runtime.drain()
    used = _application(counted.snapshot())

    # The key check and the ingestion write, then one read each by the consumer (activity: unchanged) and the
    # attribution hook (stored states: settled); no touches read, no activity or stats write.
    assert used[("dynamodb", "TransactWriteItems")] == 1, sorted(used.items())
    assert sum(used.values()) <= 4, sorted(used.items())
    totals = sum(wiring.stats_store().daily(merchant.id, "cR", None, None).values(), Counts())
    assert totals.orders == 20


def test_orders_beyond_one_transaction_are_all_stored_when_a_batch_has_250(api: Any, merchant: Any,
                                                                           clock: Any) -> None:
    clock.set(NOW)
    items = _orders([f"c{i:03d}" for i in range(250)])
    assert api.post("/v1/orders/batch", {"items": items}, token=merchant.token).json["accepted"] == 250
    store = wiring.activity_store()
    assert all(store.get(merchant.id, "ORDER", f"o-c{i:03d}") is not None for i in (0, 99, 100, 199, 200, 249))


def test_a_time_zone_change_reaches_the_stream_consumer_when_the_cached_minute_has_passed(
        api: Any, merchant: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(wiring.settings_cache(), "ticks", lambda: now[0])
    assert wiring.cached_timezone_of(merchant.id) == "Asia/Shanghai"
    before = wiring.cached_settings(merchant.id)
    assert api.put("/v1/settings", {"timezone": "Europe/Berlin"}, token=merchant.token).status == 200
    assert wiring.cached_timezone_of(merchant.id) == "Europe/Berlin"  # the writing process sees it at once
    # The stream consumer is another process: its cache still holds what it read before the write.
    wiring.settings_cache().put(merchant.id, before)
    now[0] += 30
    assert wiring.cached_timezone_of(merchant.id) == "Asia/Shanghai"  # within the minute: not read again
    now[0] += 31
    assert wiring.cached_timezone_of(merchant.id) == "Europe/Berlin"


def test_redeeming_a_batch_of_coupons_reads_them_once_when_orders_carry_them(api: Any, merchant: Any, clock: Any,
                                                                            counted: RequestCounter) -> None:
    from chalicelib.activity.consumer import Change

    coupon = api.post("/v1/coupons", {"name": "满30减5", "kind": "store_threshold", "threshold_fen": 3000,
                                      "discount_fen": 500, "validity": {"kind": "relative", "days": 7},
                                      "claim_window": {"kind": "issue_day"}, "stock": 10},
                      token=merchant.token).json["coupon_id"]
    wallet = wiring.wallet_service()
    issued = {c: wallet.issue_coupons(merchant.id, c, coupon, 1, campaign_id="cmp", run_id="r", delivery_key=c,
                                      direct=True, now=NOW)[0].instance_id for c in ("c1", "c2", "c3", "c4", "c5")}
    changes = [Change(merchant.id, "ORDER", {"order_id": f"o-{c}", "customer_id": c, "paid_at": to_iso(NOW),
                                             "amount_fen": 2500, "discount_fen": 500, "status": "paid",
                                             "coupon_instance_id": i}, None, str(n))
               for n, (c, i) in enumerate(issued.items(), start=1)]
    hook = wiring.redemption_hook()
    counted.reset()
    hook.after_batch(merchant.id, changes)
    assert [r.ok for r in hook.last] == [True] * 5
    # One read for the five coupons, a conditional write each; then each accepted redemption moves its
    # customer's last redemption forward on the guard item (one conditional write, no read).
    assert _application(counted.snapshot()) == Counter({("dynamodb", "BatchGetItem"): 1, ("dynamodb", "PutItem"): 5,
                                                       ("dynamodb", "UpdateItem"): 5})
    hook.after_batch(merchant.id, changes)  # the batch replayed: every order is a no-op
    assert [(r.ok, r.replayed) for r in hook.last] == [(True, True)] * 5
