"""Coupon template routes: create, read, list, patch (If-Match), delete (refused while a campaign uses it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

STORE = {"name": "满30减5", "kind": "store_threshold", "threshold_fen": 3000, "discount_fen": 500,
         "validity": {"kind": "relative", "days": 7}, "claim_window": {"kind": "issue_day"}, "stock": 10,
         "per_customer_limit": 2}
ITEM = {"name": "85折", "kind": "item_discount", "percent_off": 15, "item_ids": ["sku1", "sku2"], "cap_fen": 1000,
        "validity": {"kind": "fixed", "start": "2026-11-01", "end": "2026-12-31"},
        "claim_window": {"kind": "within_days", "days": 3}, "stock": 100}


def create(api: Any, token: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
    r = api.post("/v1/coupons", body or STORE, token=token, headers=headers)
    return r


def readonly_token(api: Any, merchant: Any) -> str:
    token: str = api.post("/v1/keys", {"role": "readonly"}, token=merchant.token).json["api_key"]
    return token


def test_create_returns_the_template_with_value_text_and_etag(api: Any, merchant: Any) -> None:
    r = create(api, merchant.token)
    assert r.status == 201, r.json
    body = r.json
    assert body["coupon_id"].startswith("cp_") and body["value_text"] == "满30元减5元"
    assert (body["stock"], body["issued"], body["remaining"], body["version"]) == (10, 0, 10, body["version"])
    assert r.headers["etag"] == f'"{body["version"]}"'
    item = create(api, merchant.token, ITEM).json
    assert item["value_text"] == "8.5折(最高减10元)" and item["validity"]["start"] == "2026-11-01"
    got = api.get(f"/v1/coupons/{body['coupon_id']}", token=merchant.token)
    assert got.status == 200 and got.json == body


@pytest.mark.parametrize(("change", "field"), [
    ({"discount_fen": 3000}, "body.discount_fen"),
    ({"threshold_fen": None}, "body.threshold_fen"),
    ({"percent_off": 100, "kind": "item_discount"}, "body.percent_off"),
    ({"stock": 0}, "body.stock"),
    ({"name": ""}, "body.name"),
    ({"validity": {"kind": "fixed", "start": "2026-12-01", "end": "2026-11-01"}}, "body.validity.end"),
    ({"validity": {"kind": "relative", "days": 366}}, "body.validity.days"),
    ({"claim_window": {"kind": "within_days"}}, "body.claim_window.days"),
    ({"claim_window": {"kind": "tomorrow"}}, "body.claim_window.kind"),
    ({"surprise": 1}, "body.surprise"),
    ({"per_customer_limit": 0}, "body.per_customer_limit"),
])
def test_create_names_the_field_when_a_rule_is_broken(api: Any, merchant: Any, change: dict[str, Any],
                                                      field: str) -> None:
    r = create(api, merchant.token, {**STORE, **change})
    assert r.status == 400, r.json
    assert field in [d["field"] for d in r.json["error"]["details"]]


def test_item_discount_needs_items_when_created(api: Any, merchant: Any) -> None:
    r = create(api, merchant.token, {**ITEM, "item_ids": []})
    assert r.status == 400 and r.json["error"]["field"] == "body.item_ids"
    r = create(api, merchant.token, {**ITEM, "item_ids": [f"s{i}" for i in range(101)]})
    assert r.status == 400 and r.json["error"]["field"] == "body.item_ids"


def test_readonly_key_reads_but_cannot_write(api: Any, merchant: Any) -> None:
    token = readonly_token(api, merchant)
    coupon = create(api, merchant.token).json
    assert api.get("/v1/coupons", token=token).status == 200
    assert create(api, token).status == 403
    assert api.patch(f"/v1/coupons/{coupon['coupon_id']}", {"stock": 5}, token=token).status == 403
    assert api.delete(f"/v1/coupons/{coupon['coupon_id']}", token=token).status == 403


def test_another_merchant_gets_404_for_every_template_route(api: Any, merchant: Any, other_merchant: Any) -> None:
    cid = create(api, merchant.token).json["coupon_id"]
    for r in (api.get(f"/v1/coupons/{cid}", token=other_merchant.token),
              api.patch(f"/v1/coupons/{cid}", {"stock": 5}, token=other_merchant.token),
              api.delete(f"/v1/coupons/{cid}", token=other_merchant.token)):
        assert r.status == 404 and r.json["error"]["field"] == "path.coupon_id"
    assert api.get("/v1/coupons", token=other_merchant.token).json["items"] == []
    create(api, merchant.token)
    cursor = api.get("/v1/coupons?limit=1", token=merchant.token).json["next_cursor"]
    assert cursor and api.get(f"/v1/coupons?cursor={cursor}", token=other_merchant.token).status == 400


def test_patch_returns_412_when_if_match_is_stale(api: Any, merchant: Any) -> None:
    coupon = create(api, merchant.token).json
    path = f"/v1/coupons/{coupon['coupon_id']}"
    ok = api.patch(path, {"stock": 20, "name": "满30减6", "discount_fen": 600}, token=merchant.token,
                   headers={"If-Match": str(coupon["version"])})
    assert ok.status == 200, ok.json
    assert (ok.json["stock"], ok.json["value_text"], ok.json["version"]) == (20, "满30元减6元", coupon["version"] + 1)
    stale = api.patch(path, {"stock": 30}, token=merchant.token, headers={"If-Match": str(coupon["version"])})
    assert stale.status == 412 and stale.json["error"]["field"] == "header.If-Match"
    stale_delete = api.delete(path, token=merchant.token, headers={"If-Match": str(coupon["version"])})
    assert stale_delete.status == 412


def test_patch_validates_the_merged_template(api: Any, merchant: Any) -> None:
    coupon = create(api, merchant.token).json
    path = f"/v1/coupons/{coupon['coupon_id']}"
    r = api.patch(path, {"discount_fen": 5000}, token=merchant.token)
    assert r.status == 400 and r.json["error"]["field"] == "body.discount_fen"
    r = api.patch(path, {"kind": "item_discount"}, token=merchant.token)
    assert r.status == 400 and {"body.percent_off", "body.threshold_fen"} <= {
        d["field"] for d in r.json["error"]["details"]}
    r = api.patch(path, {"stock": "many"}, token=merchant.token)
    assert r.status == 400 and r.json["error"]["field"] == "body.stock"
    assert api.get(path, token=merchant.token).json["version"] == coupon["version"]


def test_create_is_idempotent_when_the_key_repeats(api: Any, merchant: Any) -> None:
    first = create(api, merchant.token, headers={"Idempotency-Key": "coupon-1"})
    again = create(api, merchant.token, headers={"Idempotency-Key": "coupon-1"})
    assert first.status == again.status == 201 and first.json["coupon_id"] == again.json["coupon_id"]
    other = create(api, merchant.token, {**STORE, "stock": 11}, headers={"Idempotency-Key": "coupon-1"})
    assert other.status == 409 and other.json["error"]["field"] == "header.Idempotency-Key"
    items = api.get("/v1/coupons?limit=200", token=merchant.token).json["items"]
    assert [c["coupon_id"] for c in items].count(first.json["coupon_id"]) == 1


def test_list_pages_with_a_cursor(api: Any, merchant: Any) -> None:
    ids = {create(api, merchant.token).json["coupon_id"] for _ in range(3)}
    page = api.get("/v1/coupons?limit=2", token=merchant.token).json
    rest = api.get(f"/v1/coupons?limit=2&cursor={page['next_cursor']}", token=merchant.token).json
    assert {c["coupon_id"] for c in page["items"] + rest["items"]} == ids
    assert api.get("/v1/coupons?limit=0", token=merchant.token).json["error"]["field"] == "query.limit"
    assert api.get("/v1/coupons?color=red", token=merchant.token).json["error"]["field"] == "query.color"


def test_delete_is_refused_while_a_running_campaign_uses_the_template(api: Any, merchant: Any) -> None:
    from chalicelib import wiring
    cid = create(api, merchant.token).json["coupon_id"]
    now = datetime(2026, 11, 23, tzinfo=UTC)
    campaigns = wiring.repo("CAMPAIGN")
    campaigns.create(merchant.id, "cmp_live", {"action": {"channel": "wallet",
                                                          "coupons": [{"coupon_id": cid, "quantity": 1}]}},
                     now, status="running")
    campaigns.create(merchant.id, "cmp_old", {"action": {"coupons": [{"coupon_id": cid}]}}, now, status="ended")
    r = api.delete(f"/v1/coupons/{cid}", token=merchant.token)
    assert r.status == 409 and "cmp_live" in r.json["error"]["reason"] and "cmp_old" not in r.json["error"]["reason"]
    live = campaigns.require(merchant.id, "cmp_live")
    campaigns.update(merchant.id, "cmp_live", live.data, now, expected_version=live.version, status="cancelled")
    gone = api.delete(f"/v1/coupons/{cid}", token=merchant.token)
    assert gone.status == 200 and gone.json == {"id": cid, "deleted": True}
    assert api.get(f"/v1/coupons/{cid}", token=merchant.token).status == 404


def test_stock_cannot_be_lowered_below_what_was_issued(api: Any, merchant: Any, clock: Any) -> None:
    from chalicelib import wiring
    cid = create(api, merchant.token).json["coupon_id"]
    wiring.wallet_service().issue_coupons(merchant.id, "c1", cid, 2, campaign_id=None, run_id=None,
                                          delivery_key="d1", direct=True)
    assert api.get(f"/v1/coupons/{cid}", token=merchant.token).json["issued"] == 2
    r = api.patch(f"/v1/coupons/{cid}", {"stock": 1}, token=merchant.token)
    assert r.status == 400 and r.json["error"]["field"] == "body.stock"
    assert api.patch(f"/v1/coupons/{cid}", {"stock": 2}, token=merchant.token).json["remaining"] == 0
