"""The wallet under moto: issuing (stock, limits, retries, 100 per issue), claiming through the API, the wallet list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.coupons.model import InstanceStatus, IssueRefused

# 2026-11-23 23:59 in Asia/Shanghai (UTC+8) is 15:59 UTC; local midnight is 16:00 UTC.
LATE = datetime(2026, 11, 23, 15, 59, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
STORE = {"name": "满30减5", "kind": "store_threshold", "threshold_fen": 3000, "discount_fen": 500,
         "validity": {"kind": "relative", "days": 7}, "claim_window": {"kind": "issue_day"}, "stock": 50}


def coupon(api: Any, merchant: Any, **change: Any) -> str:
    r = api.post("/v1/coupons", {**STORE, **change}, token=merchant.token)
    assert r.status == 201, r.json
    cid: str = r.json["coupon_id"]
    return cid


def customers(api: Any, merchant: Any, *ids: str) -> None:
    r = api.post("/v1/customers/batch", {"items": [{"customer_id": c, "nickname": c} for c in ids]},
                 token=merchant.token)
    assert r.status == 200 and r.json["accepted"] == len(ids), r.json


def issue(merchant: Any, customer: str, cid: str, quantity: int = 1, key: str = "d1", direct: bool = False,
          now: datetime | None = None) -> list[Any]:
    from chalicelib import wiring
    return wiring.wallet_service().issue_coupons(merchant.id, customer, cid, quantity, campaign_id="cmp1",
                                                 run_id="run1", delivery_key=key, direct=direct, now=now)


def issued(merchant: Any, cid: str) -> int:
    from chalicelib import wiring
    return wiring.wallet_store().issued_counts(merchant.id, [cid])[cid]


def test_claim_succeeds_at_2359_local_and_is_refused_at_0000(api: Any, merchant: Any, clock: Any) -> None:
    customers(api, merchant, "c1")
    cid = coupon(api, merchant)
    clock.set(LATE)
    first, second = issue(merchant, "c1", cid, 2)
    assert first.status is InstanceStatus.ISSUED and first.claim_deadline == MIDNIGHT
    clock.set(LATE + timedelta(seconds=59))
    ok = api.post(f"/v1/coupon-instances/{first.instance_id}/claim", {"customer_id": "c1"}, token=merchant.token)
    assert ok.status == 200, ok.json
    # 7 natural days from the claim day: the 23rd to the 29th, until 24:00 local.
    assert ok.json["status"] == "claimed" and ok.json["valid_until"] == "2026-11-29T16:00:00Z"
    clock.set(MIDNIGHT)
    late = api.post(f"/v1/coupon-instances/{second.instance_id}/claim", {"customer_id": "c1"}, token=merchant.token)
    assert late.status == 409 and late.json["error"]["reason"].startswith("claim_window_closed")
    expired = api.get("/v1/customers/c1/coupons?status=expired", token=merchant.token).json["items"]
    assert [c["instance_id"] for c in expired] == [second.instance_id]
    claimed = api.get("/v1/customers/c1/coupons?status=claimed", token=merchant.token).json["items"]
    assert [c["instance_id"] for c in claimed] == [first.instance_id]


def test_claim_is_refused_for_another_customer_twice_or_across_tenants(api: Any, merchant: Any, other_merchant: Any,
                                                                       clock: Any) -> None:
    customers(api, merchant, "c1", "c2")
    inst = issue(merchant, "c1", coupon(api, merchant))[0]
    path = f"/v1/coupon-instances/{inst.instance_id}/claim"
    wrong = api.post(path, {"customer_id": "c2"}, token=merchant.token)
    assert wrong.status == 404 and wrong.json["error"]["field"] == "body.customer_id"
    assert api.post(path, {"customer_id": "c1"}, token=other_merchant.token).status == 404
    assert api.post(path, {"customer_id": "c1"}, token=merchant.token).status == 200
    twice = api.post(path, {"customer_id": "c1"}, token=merchant.token)
    assert twice.status == 409 and twice.json["error"]["reason"].startswith("already_claimed")
    missing = api.post("/v1/coupon-instances/ci_nothing/claim", {"customer_id": "c1"}, token=merchant.token)
    assert missing.status == 404 and missing.json["error"]["field"] == "path.instance_id"


def test_claim_validates_its_body_and_role(api: Any, merchant: Any, clock: Any) -> None:
    inst = issue(merchant, "c1", coupon(api, merchant))[0]
    path = f"/v1/coupon-instances/{inst.instance_id}/claim"
    assert api.post(path, {}, token=merchant.token).json["error"]["field"] == "body.customer_id"
    assert api.post(path, {"customer_id": "bad id!"}, token=merchant.token).json["error"]["field"] == "body.customer_id"
    readonly = api.post("/v1/keys", {"role": "readonly"}, token=merchant.token).json["api_key"]
    assert api.post(path, {"customer_id": "c1"}, token=readonly).status == 403


def test_wallet_lists_by_status_and_404s_for_unknown_or_foreign_customers(api: Any, merchant: Any,
                                                                          other_merchant: Any, clock: Any) -> None:
    customers(api, merchant, "c1")
    cid = coupon(api, merchant)
    direct = issue(merchant, "c1", cid, 2, key="w1", direct=True)
    claimable = issue(merchant, "c1", cid, 1, key="m1")
    everything = api.get("/v1/customers/c1/coupons", token=merchant.token).json
    assert {c["instance_id"] for c in everything["items"]} == {i.instance_id for i in direct + claimable}
    assert all(c["terms"]["discount_fen"] == 500 and c["campaign_id"] == "cmp1" for c in everything["items"])
    only = api.get("/v1/customers/c1/coupons?status=issued", token=merchant.token).json["items"]
    assert [c["instance_id"] for c in only] == [claimable[0].instance_id]
    page = api.get("/v1/customers/c1/coupons?limit=1", token=merchant.token).json
    assert len(page["items"]) == 1 and page["next_cursor"]
    assert api.get("/v1/customers/c1/coupons?status=lost", token=merchant.token).json["error"]["field"] == (
        "query.status")
    assert api.get("/v1/customers/nobody/coupons", token=merchant.token).status == 404
    assert api.get("/v1/customers/c1/coupons", token=other_merchant.token).status == 404


def test_issued_coupons_keep_their_terms_when_the_template_changes(api: Any, merchant: Any, clock: Any) -> None:
    cid = coupon(api, merchant)
    before = issue(merchant, "c1", cid, key="t1", direct=True)[0]
    assert api.patch(f"/v1/coupons/{cid}", {"discount_fen": 800}, token=merchant.token).status == 200
    after = issue(merchant, "c1", cid, key="t2", direct=True)[0]
    from chalicelib import wiring
    stored = wiring.wallet_store().get_instance(merchant.id, before.instance_id)
    assert stored is not None and stored.terms.discount_fen == 500 and after.terms.discount_fen == 800


def test_retried_issue_creates_nothing_twice(api: Any, merchant: Any, clock: Any) -> None:
    cid = coupon(api, merchant)
    first = issue(merchant, "c1", cid, 3, key="same")
    again = issue(merchant, "c1", cid, 3, key="same")
    assert [i.instance_id for i in first] == [i.instance_id for i in again]
    assert issued(merchant, cid) == 3


def test_stock_and_per_customer_limit_refuse_with_a_reason(api: Any, merchant: Any, clock: Any) -> None:
    cid = coupon(api, merchant, stock=3, per_customer_limit=2)
    issue(merchant, "c1", cid, 2, key="a")
    with pytest.raises(IssueRefused) as limit:
        issue(merchant, "c1", cid, 1, key="b")
    assert limit.value.why == "customer_limit"
    issue(merchant, "c2", cid, 1, key="c")
    with pytest.raises(IssueRefused) as stock:
        issue(merchant, "c3", cid, 1, key="d")
    assert stock.value.why == "out_of_stock" and issued(merchant, cid) == 3
    with pytest.raises(IssueRefused) as unknown:
        issue(merchant, "c1", "cp_missing", 1, key="e")
    assert unknown.value.why == "coupon_not_found"


def test_one_issue_carries_at_most_100_coupons_and_completes_after_a_crash(api: Any, merchant: Any,
                                                                          clock: Any) -> None:
    from chalicelib.core.errors import Invalid
    from chalicelib.coupons.store import INSTANCE, WalletItem, instance_pk
    cid = coupon(api, merchant, stock=500, per_customer_limit=100)
    with pytest.raises(Invalid) as err:
        issue(merchant, "c1", cid, 101, key="big")
    assert err.value.field == "quantity"
    hundred = issue(merchant, "c1", cid, 100, key="big", direct=True)
    assert len({i.instance_id for i in hundred}) == 100 and issued(merchant, cid) == 100
    # The last units go in after the transaction; lose two as a crash would, then retry the delivery.
    for inst in hundred[-2:]:
        WalletItem(instance_pk(merchant.id, inst.instance_id), INSTANCE).delete()
    again = issue(merchant, "c1", cid, 100, key="big", direct=True)
    from chalicelib import wiring
    stored = wiring.wallet_store().get_instances(merchant.id, [i.instance_id for i in again])
    assert len(stored) == 100 and issued(merchant, cid) == 100


def test_expired_fixed_validity_coupon_is_not_issued(api: Any, merchant: Any, clock: Any) -> None:
    cid = coupon(api, merchant, validity={"kind": "fixed", "start": "2026-01-01", "end": "2026-01-31"})
    with pytest.raises(IssueRefused) as err:
        issue(merchant, "c1", cid)
    assert err.value.why == "coupon_expired" and issued(merchant, cid) == 0
