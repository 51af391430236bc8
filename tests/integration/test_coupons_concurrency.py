"""Issuing and redeeming under concurrency: the stock is never oversold, a coupon is redeemed once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.coupons.model import InstanceStatus, IssueRefused, OrderLine

STORE = {"name": "满30减5", "kind": "store_threshold", "threshold_fen": 3000, "discount_fen": 500,
         "validity": {"kind": "relative", "days": 7}, "claim_window": {"kind": "issue_day"}, "stock": 5}
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


@pytest.fixture
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each moto request atomic, as each DynamoDB request is.

    moto checks a transaction's conditions and applies it without a lock, and rolls a failed one back by
    restoring a copy of the whole table — which can erase a concurrent winner's write. Real DynamoDB makes
    every request atomic; this serialises each request (not each issue), so threads still interleave
    between the reads and the conditional writes exactly as concurrent Lambdas would.
    """
    from moto.core.botocore_stubber import BotocoreStubber
    lock = threading.RLock()
    original = BotocoreStubber.__call__

    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", serialised)
    yield


def coupon(api: Any, merchant: Any, **change: Any) -> str:
    r = api.post("/v1/coupons", {**STORE, **change}, token=merchant.token)
    assert r.status == 201, r.json
    cid: str = r.json["coupon_id"]
    return cid


def race(n: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return work(i)
        except IssueRefused as exc:
            return exc.why

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_stock_is_never_oversold_when_12_threads_issue_the_last_units(api: Any, merchant: Any, clock: Any,
                                                                      atomic_requests: None) -> None:
    from chalicelib import wiring
    service = wiring.wallet_service()
    cid = coupon(api, merchant, stock=5)
    service.issue_coupons(merchant.id, "warm", coupon(api, merchant), 1, campaign_id=None, run_id=None,
                          delivery_key="warm", direct=True)
    results = race(12, lambda i: service.issue_coupons(merchant.id, f"c{i}", cid, 1, campaign_id="cmp", run_id="r",
                                                       delivery_key=f"k{i}", direct=True, now=NOW))
    winners = [r for r in results if isinstance(r, list)]
    assert len(winners) == 5 and sorted(r for r in results if isinstance(r, str)) == ["out_of_stock"] * 7
    assert wiring.wallet_store().issued_counts(merchant.id, [cid])[cid] == 5
    holders = [f"c{i}" for i, r in enumerate(results) if isinstance(r, list)]
    stored = sum(len(wiring.wallet_store().wallet(merchant.id, c, (), 50, None)[0]) for c in holders)
    assert stored == 5


def test_per_customer_limit_holds_when_8_threads_issue_to_one_customer(api: Any, merchant: Any, clock: Any,
                                                                       atomic_requests: None) -> None:
    from chalicelib import wiring
    service = wiring.wallet_service()
    cid = coupon(api, merchant, stock=100, per_customer_limit=2)
    results = race(8, lambda i: service.issue_coupons(merchant.id, "c1", cid, 1, campaign_id="cmp", run_id="r",
                                                      delivery_key=f"k{i}", direct=True, now=NOW))
    assert sum(isinstance(r, list) for r in results) == 2
    assert [r for r in results if isinstance(r, str)] == ["customer_limit"] * 6
    assert len(wiring.wallet_store().wallet(merchant.id, "c1", (), 50, None)[0]) == 2


def test_second_redemption_is_rejected_and_never_counted(api: Any, merchant: Any, clock: Any) -> None:
    from chalicelib import wiring
    service = wiring.wallet_service()
    inst = service.issue_coupons(merchant.id, "c1", coupon(api, merchant), 1, campaign_id="cmp", run_id="r",
                                 delivery_key="k", direct=True, now=NOW)[0]
    paid = NOW + timedelta(hours=2)
    first = service.redeem(merchant.id, inst.instance_id, "o1", 3000, [], paid, customer_id="c1")
    assert (first.ok, first.discount_fen, first.campaign_id, first.replayed) == (True, 500, "cmp", False)
    replay = service.redeem(merchant.id, inst.instance_id, "o1", 3000, [], paid)
    assert (replay.ok, replay.replayed, replay.discount_fen) == (True, True, 500)
    second = service.redeem(merchant.id, inst.instance_id, "o2", 9000, [], paid)
    assert (second.ok, second.reason, second.discount_fen) == (False, "already_redeemed", 0)
    stored = wiring.wallet_store().get_instance(merchant.id, inst.instance_id)
    assert stored is not None and (stored.status, stored.order_id, stored.discount_fen) == (
        InstanceStatus.REDEEMED, "o1", 500)


def test_two_orders_racing_for_one_coupon_redeem_it_once(api: Any, merchant: Any, clock: Any,
                                                         atomic_requests: None) -> None:
    from chalicelib import wiring
    service = wiring.wallet_service()
    inst = service.issue_coupons(merchant.id, "c1", coupon(api, merchant), 1, campaign_id="cmp", run_id="r",
                                 delivery_key="k", direct=True, now=NOW)[0]
    results = race(8, lambda i: service.redeem(merchant.id, inst.instance_id, f"o{i}", 5000, [], NOW))
    assert sum(r.ok for r in results) == 1
    assert {r.reason for r in results if not r.ok} == {"already_redeemed"}


def test_redemption_is_refused_with_a_reason_when_terms_do_not_hold(api: Any, merchant: Any, clock: Any) -> None:
    from chalicelib import wiring
    service = wiring.wallet_service()
    store_cid = coupon(api, merchant)
    direct = service.issue_coupons(merchant.id, "c1", store_cid, 1, campaign_id=None, run_id=None,
                                   delivery_key="a", direct=True, now=NOW)[0]
    claimable = service.issue_coupons(merchant.id, "c1", store_cid, 1, campaign_id=None, run_id=None,
                                      delivery_key="b", direct=False, now=NOW)[0]
    assert service.redeem(merchant.id, direct.instance_id, "o1", 2999, [], NOW).reason == "below_threshold"
    assert service.redeem(merchant.id, direct.instance_id, "o1", 3000, [], NOW + timedelta(days=8)).reason == (
        "expired")
    assert service.redeem(merchant.id, direct.instance_id, "o1", 3000, [], NOW, customer_id="c2").reason == (
        "wrong_customer")
    assert service.redeem(merchant.id, claimable.instance_id, "o1", 3000, [], NOW).reason == "not_claimed"
    assert service.redeem(merchant.id, "ci_unknown", "o1", 3000, [], NOW).reason == "not_found"
    item_cid = coupon(api, merchant, kind="item_discount", threshold_fen=None, discount_fen=None, percent_off=20,
                      item_ids=["sku1"], cap_fen=300)
    item = service.issue_coupons(merchant.id, "c1", item_cid, 1, campaign_id=None, run_id=None, delivery_key="c",
                                 direct=True, now=NOW)[0]
    assert service.redeem(merchant.id, item.instance_id, "o2", 1000, ["sku9"], NOW).reason == "items_not_eligible"
    done = service.redeem(merchant.id, item.instance_id, "o2", 5000,
                          [{"item_id": "sku1", "quantity": 2, "price_fen": 1000}, OrderLine("sku9", 1, 3000)], NOW)
    assert done.ok and done.discount_fen == 300
