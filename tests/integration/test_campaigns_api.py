"""Campaign routes through chalice.test under moto: CRUD, validation, roles, tenancy, lifecycle, templates."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
COUPON = "cp_ten_off"
CONTENT = "ct_hello"
RULE = {"all": [{"field": "orders_total", "op": "gte", "value": 1}]}


@pytest.fixture
def shop(merchant: Any, clock: Any) -> Any:
    """A merchant with one coupon template and one content template, at a fixed clock."""
    from chalicelib import wiring
    clock.set(NOW)
    wiring.repo("COUPON").create(merchant.id, COUPON, {"name": "10 off", "kind": "store_threshold"}, NOW,
                                 status="active", name="10 off")
    wiring.repo("CONTENT").create(merchant.id, CONTENT, {"name": "hello", "text": "Hi {nickname}"}, NOW)
    return merchant


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Win back", "description": "coupon for sleeping customers", "label": "增购",
        "target": {"kind": "audience", "audience_id": "scenario_sleeping"},
        "action": {"channel": "wallet", "coupons": [{"coupon_id": COUPON, "quantity": 2}]},
        "schedule": {"kind": "once", "at": "2026-11-24T02:00:00Z"},
    }
    base.update(changes)
    return base


def create(api: Any, token: str, **changes: Any) -> dict[str, Any]:
    r = api.post("/v1/campaigns", body(**changes), token=token)
    assert r.status == 201, r.json
    return r.json


def act(api: Any, token: str, campaign_id: str, action: str) -> Any:
    return api.post(f"/v1/campaigns/{campaign_id}/{action}", None, token=token)


def test_create_returns_a_draft_with_defaults_when_body_is_valid(api: Any, shop: Any) -> None:
    r = api.post("/v1/campaigns", body(), token=shop.token)
    assert r.status == 201, r.json
    c = r.json
    assert c["status"] == "draft" and c["campaign_id"].startswith("cmp_")
    assert r.headers["etag"] == f'"{c["version"]}"'
    assert c["sending"] == {"mode": "all_at_once"} and c["attribution_window_days"] == 7 and c["holdout_percent"] == 0
    assert c["guardrails"]["respect_quiet_hours"] is True and c["guardrails"]["exclude_reached_within_days"] == 0
    assert c["activated_at"] is None and c["next_run_at"] is None
    got = api.get(f"/v1/campaigns/{c['campaign_id']}", token=shop.token)
    assert got.status == 200 and got.json == c


def test_create_stores_every_kind_of_target_schedule_and_sending_when_valid(api: Any, shop: Any) -> None:
    variants = [
        {"target": {"kind": "rule", "rule": RULE},
         "schedule": {"kind": "recurring", "frequency": "monthly", "time": "10:00", "month_days": [8, 18],
                      "last_day": True, "start_date": "2026-12-01", "end_date": "2027-06-30"}},
        {"target": {"kind": "staff_friends", "staff_ids": ["s1", "s2"]},
         "action": {"channel": "staff_task", "content_id": CONTENT},
         "schedule": {"kind": "triggered", "event": "purchase_items", "delay_days": 3, "time": "09:30",
                      "item_ids": ["sku1"]}},
        {"target": {"kind": "customers", "customer_ids": ["c1", "c2"]},
         "sending": {"mode": "batched", "batch_size": 500, "interval_minutes": 30},
         "schedule": {"kind": "recurring", "frequency": "weekly", "time": "08:00", "weekdays": [1, 4],
                      "start_next_period": True},
         "guardrails": {"exclude_reached_within_days": 7, "daily_messages_per_customer": 0,
                        "coupon_message_cooldown_days": 6, "respect_quiet_hours": False},
         "attribution_window_days": 90, "holdout_percent": 50},
    ]
    for variant in variants:
        c = create(api, shop.token, **variant)
        for key, value in variant.items():
            assert {k: c[key][k] for k in value} == value if isinstance(value, dict) else c[key] == value


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "x" * 41}, "body.name"),
    ({"name": "   "}, "body.name"),
    ({"description": "d" * 201}, "body.description"),
    ({"label": "l" * 21}, "body.label"),
    ({"colour": "red"}, "body.colour"),
    ({"target": {"kind": "everyone"}}, "body.target"),
    ({"target": {"kind": "audience", "audience_id": "aud_missing"}}, "body.target.audience_id"),
    ({"target": {"kind": "rule", "rule": {"all": [{"field": "nope", "op": "eq", "value": 1}]}}},
     "body.target.rule.all[0].field"),
    ({"target": {"kind": "customers", "customer_ids": [f"c{i}" for i in range(10_001)]}},
     "body.target.customer_ids"),
    ({"target": {"kind": "customers", "customer_ids": ["c1", "c1"]}}, "body.target.customer_ids[1]"),
    ({"target": {"kind": "staff_friends", "staff_ids": []}}, "body.target.staff_ids"),
    ({"action": {"channel": "fax"}}, "body.action.channel"),
    ({"action": {"channel": "wallet", "coupons": [{"coupon_id": "cp_missing"}]}},
     "body.action.coupons[0].coupon_id"),
    ({"action": {"channel": "wallet", "coupons": [{"coupon_id": COUPON, "quantity": 101}]}},
     "body.action.coupons[0].quantity"),
    ({"action": {"channel": "wallet", "coupons": []}}, "body.action.coupons"),
    ({"action": {"channel": "inbox", "coupons": []}}, "body.action.content_id"),
    ({"action": {"channel": "email", "content_id": "ct_missing"}}, "body.action.content_id"),
    ({"schedule": {"kind": "once", "at": "tomorrow"}}, "body.schedule.at"),
    ({"schedule": {"kind": "once", "at": "2026-11-20T00:00:00Z"}}, "body.schedule.at"),
    ({"schedule": {"kind": "recurring", "frequency": "weekly", "time": "10:00"}}, "body.schedule.weekdays"),
    ({"schedule": {"kind": "recurring", "frequency": "monthly", "time": "10:00"}}, "body.schedule.month_days"),
    ({"schedule": {"kind": "recurring", "frequency": "daily", "time": "24:00"}}, "body.schedule.time"),
    ({"schedule": {"kind": "recurring", "frequency": "daily", "time": "10:00", "start_date": "2026-12-31",
                   "end_date": "2026-12-01"}}, "body.schedule.end_date"),
    ({"schedule": {"kind": "recurring", "frequency": "daily", "time": "10:00", "end_date": "2026-01-01"}},
     "body.schedule.end_date"),
    ({"schedule": {"kind": "recurring", "frequency": "weekly", "time": "10:00", "weekdays": [8]}},
     "body.schedule.weekdays[0]"),
    ({"schedule": {"kind": "triggered", "event": "purchase", "delay_days": 366}}, "body.schedule.delay_days"),
    ({"schedule": {"kind": "triggered", "event": "purchase_items"}}, "body.schedule.item_ids"),
    ({"schedule": {"kind": "triggered", "event": "sneezed"}}, "body.schedule.event"),
    ({"sending": {"mode": "batched", "batch_size": 0, "interval_minutes": 5}}, "body.sending.batch_size"),
    ({"sending": {"mode": "batched", "batch_size": 10, "interval_minutes": 1441}}, "body.sending.interval_minutes"),
    ({"guardrails": {"exclude_reached_within_days": 8}}, "body.guardrails.exclude_reached_within_days"),
    ({"guardrails": {"daily_messages_per_customer": 2}}, "body.guardrails.daily_messages_per_customer"),
    ({"guardrails": {"weekly_store_coupons_per_customer": 5}}, "body.guardrails.weekly_store_coupons_per_customer"),
    ({"attribution_window_days": 0}, "body.attribution_window_days"),
    ({"attribution_window_days": 91}, "body.attribution_window_days"),
    ({"holdout_percent": 51}, "body.holdout_percent"),
])
def test_create_is_400_naming_the_field_when_body_breaks_a_rule(api: Any, shop: Any, changes: dict[str, Any],
                                                                field: str) -> None:
    r = api.post("/v1/campaigns", body(**changes), token=shop.token)
    assert r.status == 400, r.json
    assert r.json["error"]["field"] == field
    assert api.get("/v1/campaigns", token=shop.token).json["items"] == []


def test_create_is_413_when_customer_ids_overflow_an_item(api: Any, shop: Any) -> None:
    ids = [f"c{i:06d}" + "x" * 56 for i in range(10_000)]
    r = api.post("/v1/campaigns", body(target={"kind": "customers", "customer_ids": ids}), token=shop.token)
    assert r.status == 413 and r.json["error"]["field"] == "body.target.customer_ids"


def test_readonly_key_can_read_but_not_write(api: Any, shop: Any) -> None:
    token = api.post("/v1/keys", {"role": "readonly"}, token=shop.token).json["api_key"]
    assert api.post("/v1/campaigns", body(), token=token).status == 403
    c = create(api, shop.token)
    assert api.get(f"/v1/campaigns/{c['campaign_id']}", token=token).status == 200
    assert api.get("/v1/campaigns", token=token).status == 200
    assert api.get("/v1/campaign-templates", token=token).status == 200
    assert api.patch(f"/v1/campaigns/{c['campaign_id']}", {"name": "x"}, token=token).status == 403
    assert act(api, token, c["campaign_id"], "activate").status == 403
    assert api.delete(f"/v1/campaigns/{c['campaign_id']}", token=token).status == 403


def test_operator_key_can_create_and_activate(api: Any, shop: Any) -> None:
    token = api.post("/v1/keys", {"role": "operator"}, token=shop.token).json["api_key"]
    c = create(api, token)
    assert act(api, token, c["campaign_id"], "activate").status == 200


def test_another_merchant_gets_404_for_every_route(api: Any, shop: Any, other_merchant: Any) -> None:
    cid = create(api, shop.token)["campaign_id"]
    other = other_merchant.token
    assert api.get(f"/v1/campaigns/{cid}", token=other).status == 404
    assert api.patch(f"/v1/campaigns/{cid}", {"name": "mine"}, token=other).status == 404
    assert api.delete(f"/v1/campaigns/{cid}", token=other).status == 404
    for action in ("activate", "pause", "resume", "cancel", "send-now"):
        r = act(api, other, cid, action)
        assert r.status == 404 and r.json["error"]["field"] == "path.campaign_id"
    assert api.get(f"/v1/campaigns/{cid}", token=shop.token).json["status"] == "draft"
    assert api.get("/v1/campaigns", token=other).json["items"] == []


def test_create_is_idempotent_when_key_and_body_repeat(api: Any, shop: Any) -> None:
    h = {"Idempotency-Key": "cmp-1"}
    first = api.post("/v1/campaigns", body(), token=shop.token, headers=h)
    again = api.post("/v1/campaigns", body(), token=shop.token, headers=h)
    assert first.status == 201 and again.status == 201
    assert again.json["campaign_id"] == first.json["campaign_id"]
    changed = api.post("/v1/campaigns", body(name="Other"), token=shop.token, headers=h)
    assert changed.status == 409 and changed.json["error"]["field"] == "header.Idempotency-Key"
    assert len(api.get("/v1/campaigns", token=shop.token).json["items"]) == 1


def test_patch_changes_a_draft_when_if_match_is_current(api: Any, shop: Any) -> None:
    c = create(api, shop.token)
    cid = c["campaign_id"]
    new_schedule = {"kind": "recurring", "frequency": "daily", "time": "11:00"}
    r = api.patch(f"/v1/campaigns/{cid}", {"name": "Renamed", "schedule": new_schedule, "label": None},
                  token=shop.token, headers={"If-Match": f'"{c["version"]}"'})
    assert r.status == 200, r.json
    assert r.json["name"] == "Renamed" and r.json["schedule"]["frequency"] == "daily" and r.json["label"] is None
    assert r.json["target"] == c["target"] and r.json["version"] > c["version"]
    stale = api.patch(f"/v1/campaigns/{cid}", {"name": "Again"}, token=shop.token,
                      headers={"If-Match": str(c["version"])})
    assert stale.status == 412 and stale.json["error"]["field"] == "header.If-Match"
    assert api.get(f"/v1/campaigns/{cid}", token=shop.token).json["name"] == "Renamed"


@pytest.mark.parametrize(("patch", "field"), [
    ({"name": "n" * 41}, "body.name"),
    ({"name": None}, "body.name"),
    ({"holdout_percent": 60}, "body.holdout_percent"),
    ({"action": {"channel": "wallet", "coupons": [{"coupon_id": "nope"}]}}, "body.action.coupons[0].coupon_id"),
    ({"schedule": {"kind": "recurring", "frequency": "weekly", "time": "10:00"}}, "body.schedule.weekdays"),
    ({"status": "running"}, "body.status"),
])
def test_patch_is_400_naming_the_field_when_result_is_invalid(api: Any, shop: Any, patch: dict[str, Any],
                                                              field: str) -> None:
    c = create(api, shop.token)
    r = api.patch(f"/v1/campaigns/{c['campaign_id']}", patch, token=shop.token)
    assert r.status == 400 and r.json["error"]["field"] == field, r.json
    assert api.get(f"/v1/campaigns/{c['campaign_id']}", token=shop.token).json["version"] == c["version"]


def test_patch_recomputes_next_run_when_campaign_is_scheduled(api: Any, shop: Any) -> None:
    cid = create(api, shop.token)["campaign_id"]
    assert act(api, shop.token, cid, "activate").json["next_run_at"] == "2026-11-24T02:00:00Z"
    r = api.patch(f"/v1/campaigns/{cid}", {"schedule": {"kind": "once", "at": "2026-11-25T10:00:00"}},
                  token=shop.token)
    assert r.status == 200 and r.json["status"] == "scheduled"
    assert r.json["next_run_at"] == "2026-11-25T02:00:00Z"  # 10:00 Shanghai
    now = api.patch(f"/v1/campaigns/{cid}", {"schedule": {"kind": "once", "at": None}}, token=shop.token)
    assert now.status == 400 and now.json["error"]["field"] == "body.schedule"


def test_patch_is_409_when_campaign_is_running_or_finished(api: Any, shop: Any) -> None:
    cid = create(api, shop.token, schedule={"kind": "once", "at": None})["campaign_id"]
    assert act(api, shop.token, cid, "activate").json["status"] == "running"
    r = api.patch(f"/v1/campaigns/{cid}", {"name": "late"}, token=shop.token)
    assert r.status == 409 and "running" in r.json["error"]["reason"]
    act(api, shop.token, cid, "cancel")
    assert api.patch(f"/v1/campaigns/{cid}", {"name": "later"}, token=shop.token).status == 409


def test_delete_removes_drafts_and_finished_but_not_live_campaigns(api: Any, shop: Any) -> None:
    draft = create(api, shop.token)
    stale = api.delete(f"/v1/campaigns/{draft['campaign_id']}", token=shop.token,
                       headers={"If-Match": str(draft["version"] + 1)})
    assert stale.status == 412
    assert api.delete(f"/v1/campaigns/{draft['campaign_id']}", token=shop.token).status == 204
    assert api.get(f"/v1/campaigns/{draft['campaign_id']}", token=shop.token).status == 404
    live = create(api, shop.token)["campaign_id"]
    act(api, shop.token, live, "activate")
    r = api.delete(f"/v1/campaigns/{live}", token=shop.token)
    assert r.status == 409 and "scheduled" in r.json["error"]["reason"]
    act(api, shop.token, live, "cancel")
    assert api.delete(f"/v1/campaigns/{live}", token=shop.token).status == 204


def test_list_filters_by_status_and_label_and_pages_with_cursor(api: Any, shop: Any, other_merchant: Any) -> None:
    ids = [create(api, shop.token, name=f"c{i}", label="拉新" if i % 2 else "增购")["campaign_id"] for i in range(5)]
    act(api, shop.token, ids[1], "activate")
    scheduled = api.get("/v1/campaigns?status=scheduled", token=shop.token).json
    assert [c["campaign_id"] for c in scheduled["items"]] == [ids[1]]
    new = api.get(f"/v1/campaigns?label={quote('拉新')}", token=shop.token).json["items"]
    assert {c["campaign_id"] for c in new} == {ids[1], ids[3]}
    both = api.get(f"/v1/campaigns?label={quote('拉新')}&status=draft", token=shop.token).json["items"]
    assert [c["campaign_id"] for c in both] == [ids[3]]
    seen: list[str] = []
    cursor = None
    while True:
        page = api.get("/v1/campaigns?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=shop.token).json
        assert len(page["items"]) <= 2
        seen += [c["campaign_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    first = api.get("/v1/campaigns?limit=1", token=shop.token).json["next_cursor"]
    assert api.get(f"/v1/campaigns?cursor={first}", token=other_merchant.token).status == 400
    bad = api.get("/v1/campaigns?status=sleeping", token=shop.token)
    assert bad.status == 400 and bad.json["error"]["field"] == "query.status"
    assert api.get("/v1/campaigns?colour=red", token=shop.token).json["error"]["field"] == "query.colour"


def test_lifecycle_follows_the_state_machine_when_actions_are_posted(api: Any, shop: Any, clock: Any) -> None:
    cid = create(api, shop.token, schedule={"kind": "once", "at": None})["campaign_id"]
    for illegal in ("pause", "resume", "cancel", "send-now"):
        r = act(api, shop.token, cid, illegal)
        assert r.status == 409 and "campaign is draft" in r.json["error"]["reason"], illegal
    on = act(api, shop.token, cid, "activate").json
    assert on["status"] == "running" and on["activated_at"] == "2026-11-23T04:00:00Z"
    assert on["next_run_at"] == on["activated_at"]
    assert act(api, shop.token, cid, "activate").status == 409
    assert act(api, shop.token, cid, "send-now").status == 409  # a once campaign sends once
    paused = act(api, shop.token, cid, "pause").json
    assert paused["status"] == "paused" and paused["paused_at"]
    assert act(api, shop.token, cid, "pause").status == 409
    resumed = act(api, shop.token, cid, "resume")
    assert resumed.status == 200 and resumed.json["status"] == "running" and resumed.json["resumed_at"]
    assert resumed.headers["etag"] == f'"{resumed.json["version"]}"'
    cancelled = act(api, shop.token, cid, "cancel").json
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    for action in ("activate", "pause", "resume", "cancel", "send-now"):
        assert act(api, shop.token, cid, action).status == 409


def test_send_now_moves_a_scheduled_campaign_to_running_when_requested(api: Any, shop: Any) -> None:
    recurring = {"kind": "recurring", "frequency": "weekly", "time": "10:00", "weekdays": [1]}
    cid = create(api, shop.token, schedule=recurring)["campaign_id"]
    on = act(api, shop.token, cid, "activate").json
    assert on["status"] == "scheduled" and on["next_run_at"] == "2026-11-30T02:00:00Z"  # Monday 10:00 Shanghai
    sent = act(api, shop.token, cid, "send-now").json
    assert sent["status"] == "running" and sent["send_now_requested_at"] == "2026-11-23T04:00:00Z"
    assert sent["next_run_at"] == "2026-11-30T02:00:00Z"
    once = create(api, shop.token)["campaign_id"]
    act(api, shop.token, once, "activate")
    moved = act(api, shop.token, once, "send-now").json
    assert moved["status"] == "running" and moved["next_run_at"] == "2026-11-23T04:00:00Z"


def test_triggered_campaign_runs_on_activation_and_refuses_send_now(api: Any, shop: Any) -> None:
    cid = create(api, shop.token, schedule={"kind": "triggered", "event": "birthday", "time": "09:00"})["campaign_id"]
    on = act(api, shop.token, cid, "activate").json
    assert on["status"] == "running" and on["next_run_at"] is None
    r = act(api, shop.token, cid, "send-now")
    assert r.status == 409 and r.json["error"]["field"] == "schedule.kind"


def test_activate_is_400_naming_the_field_when_a_reference_is_gone(api: Any, shop: Any, clock: Any) -> None:
    from chalicelib import wiring
    cid = create(api, shop.token)["campaign_id"]
    wiring.repo("COUPON").delete(shop.id, COUPON)
    r = act(api, shop.token, cid, "activate")
    assert r.status == 400 and r.json["error"]["field"] == "action.coupons[0].coupon_id"
    assert api.get(f"/v1/campaigns/{cid}", token=shop.token).json["status"] == "draft"


def test_activate_is_400_when_the_once_time_has_passed(api: Any, shop: Any, clock: Any) -> None:
    cid = create(api, shop.token)["campaign_id"]
    clock.set(datetime(2026, 11, 25, tzinfo=UTC))
    r = act(api, shop.token, cid, "activate")
    assert r.status == 400 and r.json["error"]["field"] == "schedule.at"


def test_templates_list_ten_prefilled_bodies_that_create_once_placeholders_are_filled(api: Any, shop: Any) -> None:
    r = api.get("/v1/campaign-templates", token=shop.token)
    assert r.status == 200 and len(r.json["items"]) == 10
    for template in r.json["items"]:
        raw = api.post("/v1/campaigns", template["body"], token=shop.token)
        if template["requires"]:
            assert raw.status == 400 and raw.json["error"]["field"] == "body." + template["requires"][0]
        filled = copy.deepcopy(template["body"])
        if filled["action"]["coupons"]:
            filled["action"]["coupons"][0]["coupon_id"] = COUPON
        if filled["action"].get("content_id"):
            filled["action"]["content_id"] = CONTENT
        made = api.post("/v1/campaigns", filled, token=shop.token)
        assert made.status == 201, (template["id"], made.json)
        assert act(api, shop.token, made.json["campaign_id"], "activate").status == 200, template["id"]
