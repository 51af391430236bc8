"""Audience routes through chalice.test under moto: CRUD, validation paths, roles, tenancy, limits, members, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core.clock import to_iso

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
RULE = {"all": [{"field": "orders_total", "op": "gte", "value": 1}, {"field": "city_tier", "op": "lte", "value": 2}]}


def customer(cid: str, **extra: Any) -> dict[str, Any]:
    return {"customer_id": cid, "nickname": f"n{cid}", "phone": f"+86138{int(cid[1:]):08d}", "city_tier": 1, **extra}


def order(oid: str, cid: str, days_ago: float, amount: int = 5000, status: str = "paid") -> dict[str, Any]:
    return {"order_id": oid, "customer_id": cid, "paid_at": to_iso(NOW - timedelta(days=days_ago)),
            "amount_fen": amount, "status": status}


@pytest.fixture
def shop(api: Any, merchant: Any, runtime: Any, clock: Any) -> Any:
    """A merchant with c1..c6: c1-c4 bought (c1-c3 live in tier 1, c4 in tier 3), c5 and c6 never bought."""
    clock.set(NOW)
    runtime.set_time(NOW)
    customers = [customer(f"c{i}") for i in range(1, 7)]
    customers[3]["city_tier"] = 3
    customers[4]["nickname"] = "=HYPERLINK(1)"
    assert api.post("/v1/customers/batch", {"items": customers}, token=merchant.token).json["accepted"] == 6
    orders = [order(f"o{i}", f"c{i}", i) for i in range(1, 5)]
    assert api.post("/v1/orders/batch", {"items": orders}, token=merchant.token).json["accepted"] == 4
    runtime.drain()
    return merchant


def create(api: Any, token: str, body: dict[str, Any], **kw: Any) -> Any:
    return api.post("/v1/audiences", body, token=token, **kw)


def member_ids(api: Any, token: str, audience_id: str, limit: int = 1000) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        path = f"/v1/audiences/{audience_id}/members?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(path, token=token)
        assert r.status == 200, r
        ids += r.json["items"]
        cursor = r.json["next_cursor"]
        if not cursor:
            return ids


def test_field_catalogue_lists_fields_with_types_and_operators_when_read(api: Any, merchant: Any) -> None:
    r = api.get("/v1/audience-fields", token=merchant.token)
    assert r.status == 200
    fields = {f["name"]: f for f in r.json["items"]}
    assert {"orders_30d", "birthday", "tags", "card_balance", "staff_owner"} <= fields.keys()
    assert "birthday_in_days" in fields["birthday"]["operators"] and fields["orders_30d"]["type"] == "number"


def test_builtin_list_has_every_id_with_names_and_counts_when_kind_is_builtin(api: Any, shop: Any) -> None:
    r = api.get("/v1/audiences?kind=builtin", token=shop.token)
    assert r.status == 200, r
    items = {a["audience_id"]: a for a in r.json["items"]}
    assert len(items) == 21 and r.json["next_cursor"] is None  # SPEC §11 lists 21 built-in ids
    recent = items["rec_recent_buyers"]
    assert recent["name"] == "近期购买客户" and recent["name_en"] == "Recent buyers" and recent["description"]
    assert recent["count"] == 4 and recent["kind"] == "builtin" and items["key_new"]["count"] == 4
    shown = api.get("/v1/audiences?kind=builtin&non_empty=true", token=shop.token).json["items"]
    assert shown and all(a["count"] > 0 for a in shown) and len(shown) < 21


def test_custom_audience_is_created_read_changed_and_deleted_when_requests_are_valid(api: Any, shop: Any) -> None:
    r = create(api, shop.token, {"name": "Tier 1 buyers", "description": "d", "rule": RULE})
    assert r.status == 201, r
    a = r.json
    assert a["kind"] == "custom" and a["version"] == 1 and a["rule"] == RULE and r.headers["etag"] == '"1"'
    got = api.get(f"/v1/audiences/{a['audience_id']}", token=shop.token)
    assert got.status == 200 and got.json["count"] == 3
    listed = api.get("/v1/audiences?kind=custom", token=shop.token).json["items"]
    assert [(x["audience_id"], x["count"]) for x in listed] == [(a["audience_id"], 3)]
    assert api.get("/v1/audiences?kind=list", token=shop.token).json["items"] == []
    new_rule = {"any": [{"field": "city_tier", "op": "eq", "value": 3}]}
    p = api.patch(f"/v1/audiences/{a['audience_id']}", {"name": "Tier 3", "rule": new_rule}, token=shop.token,
                  headers={"If-Match": '"1"'})
    assert p.status == 200 and p.json["version"] == 2 and p.json["name"] == "Tier 3"
    assert member_ids(api, shop.token, a["audience_id"]) == ["c4"]
    d = api.delete(f"/v1/audiences/{a['audience_id']}", token=shop.token, headers={"If-Match": '"2"'})
    assert d.status == 200 and d.json == {"id": a["audience_id"], "deleted": True}
    assert api.get(f"/v1/audiences/{a['audience_id']}", token=shop.token).status == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "rule": {"all": [RULE["all"][0], {"field": "city_tier", "op": "lte", "value": "two"}]}},
     "body.rule.all[1].value"),
    ({"name": "x", "rule": {"all": [{"field": "shoe_size", "op": "eq", "value": 1}]}}, "body.rule.all[0].field"),
    ({"name": "x", "rule": {"any": [{"all": [{"field": "gender", "op": "gt", "value": "male"}]}]}},
     "body.rule.any[0].all[0].op"),
    ({"name": "x" * 21, "rule": RULE}, "body.name"),
    ({"name": "  ", "rule": RULE}, "body.name"),
    ({"name": "x"}, "body.rule"),
    ({"name": "x", "kind": "list", "rule": RULE, "customer_ids": ["c1"]}, "body.rule"),
    ({"name": "x", "kind": "list"}, "body.customer_ids"),
    ({"name": "x", "kind": "list", "customer_ids": ["ok", "not ok"]}, "body.customer_ids.1"),
    ({"name": "x", "kind": "list", "phones": ["12ab"]}, "body.phones.0"),
    ({"name": "x", "kind": "frozen"}, "body.rule"),
    ({"name": "x", "kind": "frozen", "source_audience_id": "aud_nope"}, "body.source_audience_id"),
    ({"name": "x", "kind": "magic", "rule": RULE}, "body.kind"),
    ({"name": "x", "rule": RULE, "colour": "red"}, "body.colour"),
])
def test_create_is_400_naming_the_field_when_body_is_invalid(api: Any, merchant: Any, body: dict[str, Any],
                                                             field: str) -> None:
    r = create(api, merchant.token, body)
    assert r.status == 400, r
    assert r.json["error"]["field"] == field


def test_readonly_key_reads_but_cannot_create_change_or_delete(api: Any, shop: Any) -> None:
    a = create(api, shop.token, {"name": "All", "rule": RULE}).json
    token = api.post("/v1/keys", {"role": "readonly"}, token=shop.token).json["api_key"]
    assert create(api, token, {"name": "x", "rule": RULE}).status == 403
    assert api.patch(f"/v1/audiences/{a['audience_id']}", {"name": "y"}, token=token).status == 403
    assert api.delete(f"/v1/audiences/{a['audience_id']}", token=token).status == 403
    assert api.post(f"/v1/audiences/{a['audience_id']}/members", {"customer_ids": ["c1"]}, token=token).status == 403
    assert api.get(f"/v1/audiences/{a['audience_id']}", token=token).status == 200
    assert api.post("/v1/audiences/estimate", {"rule": RULE}, token=token).status == 200


def test_other_tenant_gets_404_for_every_audience_route(api: Any, shop: Any, other_merchant: Any) -> None:
    aid = create(api, shop.token, {"name": "All", "rule": RULE}).json["audience_id"]
    token = other_merchant.token
    assert api.get(f"/v1/audiences/{aid}", token=token).status == 404
    assert api.patch(f"/v1/audiences/{aid}", {"name": "mine"}, token=token).status == 404
    assert api.delete(f"/v1/audiences/{aid}", token=token).status == 404
    assert api.get(f"/v1/audiences/{aid}/members", token=token).status == 404
    assert api.post(f"/v1/audiences/{aid}/members", {"customer_ids": ["c1"]}, token=token).status == 404
    r = api.post("/v1/audiences/estimate", {"audience_id": aid}, token=token)
    assert r.status == 404 and r.json["error"]["field"] == "body.audience_id"
    assert api.get(f"/v1/audiences/{aid}", token=shop.token).json["name"] == "All"


def test_stale_if_match_is_412_when_audience_changed_since_read(api: Any, shop: Any) -> None:
    aid = create(api, shop.token, {"name": "All", "rule": RULE}).json["audience_id"]
    fresh = api.patch(f"/v1/audiences/{aid}", {"name": "v2"}, token=shop.token, headers={"If-Match": '"1"'})
    assert fresh.status == 200
    stale = api.patch(f"/v1/audiences/{aid}", {"name": "v3"}, token=shop.token, headers={"If-Match": '"1"'})
    assert stale.status == 412 and stale.json["error"]["field"] == "header.If-Match"
    assert api.delete(f"/v1/audiences/{aid}", token=shop.token, headers={"If-Match": '"1"'}).status == 412
    assert api.get(f"/v1/audiences/{aid}", token=shop.token).json["name"] == "v2"


def test_create_with_same_idempotency_key_returns_the_first_audience(api: Any, shop: Any) -> None:
    body = {"name": "Once", "rule": RULE}
    first = create(api, shop.token, body, headers={"Idempotency-Key": "k-1"})
    again = create(api, shop.token, body, headers={"Idempotency-Key": "k-1"})
    assert first.status == again.status == 201 and first.json["audience_id"] == again.json["audience_id"]
    other = create(api, shop.token, {"name": "Other", "rule": RULE}, headers={"Idempotency-Key": "k-1"})
    assert other.status == 409 and other.json["error"]["field"] == "header.Idempotency-Key"
    assert len(api.get("/v1/audiences?kind=custom", token=shop.token).json["items"]) == 1


def test_51st_custom_audience_is_429_naming_the_limit(api: Any, merchant: Any) -> None:
    rule = {"all": [{"field": "orders_total", "op": "gte", "value": 1}]}
    for i in range(50):
        assert create(api, merchant.token, {"name": f"a{i}", "rule": rule},
                      headers={"Idempotency-Key": f"k{i}"}).status == 201
    r = create(api, merchant.token, {"name": "one too many", "rule": rule})
    assert r.status == 429 and r.json["error"]["field"] == "custom_audiences_per_merchant"
    retry = create(api, merchant.token, {"name": "a49", "rule": rule}, headers={"Idempotency-Key": "k49"})
    assert retry.status == 201  # a retry of an accepted create is not a 51st audience


def test_delete_is_409_while_a_running_campaign_targets_the_audience(api: Any, shop: Any) -> None:
    from chalicelib import wiring
    aid = create(api, shop.token, {"name": "All", "rule": RULE}).json["audience_id"]
    campaigns = wiring.repo("CAMPAIGN")
    campaigns.create(shop.id, "cmp_live", {"target": {"kind": "audience", "audience_id": aid}}, NOW, status="running")
    r = api.delete(f"/v1/audiences/{aid}", token=shop.token)
    assert r.status == 409 and "cmp_live" in r.json["error"]["reason"]
    campaigns.set_status(shop.id, "cmp_live", "completed", NOW, expected_status=("running",))
    assert api.delete(f"/v1/audiences/{aid}", token=shop.token).status == 200


def test_builtin_audience_cannot_be_changed_or_deleted(api: Any, merchant: Any) -> None:
    assert api.delete("/v1/audiences/rfm_high_value", token=merchant.token).status == 409
    assert api.patch("/v1/audiences/rfm_high_value", {"name": "x"}, token=merchant.token).status == 409
    assert api.get("/v1/audiences/rfm_high_value", token=merchant.token).json["count"] == 0


def test_frozen_audience_keeps_its_members_when_new_data_arrives(api: Any, shop: Any, runtime: Any) -> None:
    frozen = create(api, shop.token, {"kind": "frozen", "name": "Buyers then", "rule": RULE}).json
    from_builtin = create(api, shop.token, {"kind": "frozen", "name": "Recent then",
                                            "source_audience_id": "rec_recent_buyers"}).json
    assert frozen["count"] == 3 and frozen["frozen_at"] == to_iso(NOW) and frozen["rule"] == RULE
    assert from_builtin["count"] == 4
    api.post("/v1/orders/batch", {"items": [order("o5", "c5", 1), order("o6", "c6", 1)]}, token=shop.token)
    runtime.drain()
    assert sorted(member_ids(api, shop.token, frozen["audience_id"])) == ["c1", "c2", "c3"]
    assert api.get(f"/v1/audiences/{frozen['audience_id']}", token=shop.token).json["count"] == 3
    assert len(member_ids(api, shop.token, from_builtin["audience_id"])) == 4
    assert len(member_ids(api, shop.token, "rec_recent_buyers")) == 6
    bad = api.patch(f"/v1/audiences/{frozen['audience_id']}", {"rule": RULE}, token=shop.token)
    assert bad.status == 400 and bad.json["error"]["field"] == "body.rule"


def test_list_audience_is_built_from_ids_and_phones_and_grows_by_post(api: Any, shop: Any) -> None:
    body = {"kind": "list", "name": "VIP", "customer_ids": ["c1", "c1", "c9"],
            "phones": ["+8613800000002", "+8613899999999"]}
    a = create(api, shop.token, body).json
    assert a["count"] == 3 and a["unmatched_phones"] == 1
    assert sorted(member_ids(api, shop.token, a["audience_id"])) == ["c1", "c2", "c9"]
    r = api.post(f"/v1/audiences/{a['audience_id']}/members", {"phones": ["+8613800000003"], "customer_ids": ["c1"]},
                 token=shop.token)
    assert r.status == 200 and r.json["count"] == 4 and r.json["version"] == 2
    p = api.patch(f"/v1/audiences/{a['audience_id']}", {"customer_ids": ["c6"]}, token=shop.token)
    assert p.status == 200 and p.json["count"] == 1
    assert member_ids(api, shop.token, a["audience_id"]) == ["c6"]


def test_members_export_as_csv_with_masked_phones(api: Any, shop: Any) -> None:
    a = create(api, shop.token, {"kind": "list", "name": "Some", "customer_ids": ["c1", "c5"]}).json
    r = api.get(f"/v1/audiences/{a['audience_id']}/members?format=csv", token=shop.token)
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text.removeprefix("\ufeff"))))
    assert rows[0] == ["customer_id", "nickname", "phone"]
    assert sorted(rows[1:]) == [["c1", "nc1", "+86138****0001"], ["c5", "'=HYPERLINK(1)", "+86138****0005"]]
    dynamic = api.get("/v1/audiences/rec_recent_buyers/members?format=csv&limit=3", token=shop.token)
    assert len(list(csv.reader(io.StringIO(dynamic.text)))) == 4 and dynamic.headers.get("x-next-cursor")


def test_member_pages_cover_every_member_once_when_following_cursors(api: Any, shop: Any, other_merchant: Any) -> None:
    assert sorted(member_ids(api, shop.token, "rec_recent_buyers", limit=1)) == ["c1", "c2", "c3", "c4"]
    first = api.get("/v1/audiences/rec_recent_buyers/members?limit=1", token=shop.token).json
    foreign = api.get(f"/v1/audiences/rec_recent_buyers/members?cursor={first['next_cursor']}",
                      token=other_merchant.token)
    assert foreign.status == 400 and foreign.json["error"]["field"] == "query.cursor"
    wrong = api.get(f"/v1/audiences/key_new/members?cursor={first['next_cursor']}", token=shop.token)
    assert wrong.status == 400
    assert api.get("/v1/audiences/rec_recent_buyers/members?limit=0", token=shop.token).json["error"]["field"] == \
        "query.limit"


def test_estimate_counts_and_samples_a_rule_or_an_audience(api: Any, shop: Any) -> None:
    r = api.post("/v1/audiences/estimate", {"rule": RULE}, token=shop.token)
    assert r.status == 200, r
    assert r.json["count"] == 3 and sorted(r.json["sample"]) == ["c1", "c2", "c3"]
    assert r.json["over_limit"] is False and r.json["limit"] == 300_000
    b = api.post("/v1/audiences/estimate", {"audience_id": "rec_recent_buyers"}, token=shop.token).json
    assert b["count"] == 4 and len(b["sample"]) == 4
    bad = api.post("/v1/audiences/estimate", {"rule": {"all": [{"field": "aov", "op": "gte"}]}}, token=shop.token)
    assert bad.status == 400 and bad.json["error"]["field"] == "body.rule.all[0].value"
    both = api.post("/v1/audiences/estimate", {"rule": RULE, "audience_id": "key_new"}, token=shop.token)
    assert both.status == 400 and both.json["error"]["field"] == "body"
    assert api.post("/v1/audiences/estimate", {}, token=shop.token).status == 400


def test_evaluation_never_counts_another_tenants_customers(api: Any, shop: Any, other_merchant: Any) -> None:
    everyone = {"any": [{"field": "orders_total", "op": "gte", "value": 0}]}
    assert api.post("/v1/audiences/estimate", {"rule": everyone}, token=shop.token).json["count"] == 6
    b = api.post("/v1/audiences/estimate", {"rule": everyone}, token=other_merchant.token).json
    assert b == {**b, "count": 0, "sample": []}
    counts = {a["audience_id"]: a["count"] for a in
              api.get("/v1/audiences?kind=builtin", token=other_merchant.token).json["items"]}
    assert set(counts.values()) == {0}
    listed = create(api, other_merchant.token, {"kind": "list", "name": "theirs", "phones": ["+8613800000001"]}).json
    assert listed["count"] == 0 and listed["unmatched_phones"] == 1
    assert member_ids(api, other_merchant.token, "rec_recent_buyers") == []
