"""PATCH /v1/settings changes only the fields given, If-Match guards it; PUT replaces the whole document (issue 18
item 14)."""

from __future__ import annotations

from typing import Any

LINKS = {"claim_url": "https://shop.example/claim/{instance_id}", "store_name": "鲜果小铺"}


def test_settings_patch_changes_only_the_fields_given(api: Any, merchant: Any) -> None:
    assert api.put("/v1/settings", {**LINKS, "guardrails": {"daily_messages_per_customer": 3}},
                   token=merchant.token).status == 200
    r = api.patch("/v1/settings", {"guardrails": {"coupon_message_cooldown_days": 2}, "timezone": "Asia/Tokyo"},
                  token=merchant.token)
    assert r.status == 200, r
    body = r.json
    assert body["claim_url"] == LINKS["claim_url"] and body["store_name"] == "鲜果小铺"
    assert body["timezone"] == "Asia/Tokyo"
    # a nested section merges field by field: the earlier daily cap stays
    assert body["guardrails"]["daily_messages_per_customer"] == 3
    assert body["guardrails"]["coupon_message_cooldown_days"] == 2
    assert (body["quiet_hours"]["start"], body["quiet_hours"]["end"]) == ("21:00", "09:00")
    assert api.get("/v1/settings", token=merchant.token).json == body
    assert r.headers["etag"] == f'"{body["version"]}"'


def test_settings_patch_null_resets_a_field_to_its_default(api: Any, merchant: Any) -> None:
    assert api.put("/v1/settings", {**LINKS, "timezone": "Europe/Berlin"}, token=merchant.token).status == 200
    r = api.patch("/v1/settings", {"claim_url": None, "timezone": None}, token=merchant.token)
    assert r.status == 200, r
    assert r.json["claim_url"] is None and r.json["timezone"] == "Asia/Shanghai"
    assert r.json["store_name"] == "鲜果小铺"


def test_settings_patch_keeps_the_webhook_secret_unless_given(api: Any, merchant: Any) -> None:
    r = api.patch("/v1/settings", {"webhook_url": "https://example.com/hook", "webhook_secret": "s" * 20},
                  token=merchant.token)
    assert r.status == 200 and r.json["webhook_secret_set"] is True
    r = api.patch("/v1/settings", {"store_name": "二号店"}, token=merchant.token)
    assert r.json["webhook_secret_set"] is True and r.json["webhook_url"] == "https://example.com/hook"
    r = api.patch("/v1/settings", {"webhook_secret": None}, token=merchant.token)
    assert r.json["webhook_secret_set"] is False


def test_settings_patch_returns_412_when_if_match_is_stale(api: Any, merchant: Any) -> None:
    version = api.get("/v1/settings", token=merchant.token).json["version"]
    ok = api.patch("/v1/settings", {"store_name": "一"}, token=merchant.token, headers={"If-Match": f'"{version}"'})
    assert ok.status == 200, ok
    stale = api.patch("/v1/settings", {"store_name": "二"}, token=merchant.token,
                      headers={"If-Match": f'"{version}"'})
    assert stale.status == 412 and stale.json["error"]["field"] == "header.If-Match"
    assert api.get("/v1/settings", token=merchant.token).json["store_name"] == "一"
    bad = api.patch("/v1/settings", {"store_name": "二"}, token=merchant.token, headers={"If-Match": "latest"})
    assert bad.status == 400 and bad.json["error"]["field"] == "header.If-Match"


def test_settings_patch_names_the_field_when_invalid_and_stores_nothing(api: Any, merchant: Any) -> None:
    before = api.get("/v1/settings", token=merchant.token).json
    for patch, field in [({"guardrails": {"daily_messages_per_customer": -1}},
                          "body.guardrails.daily_messages_per_customer"),
                         ({"guardrails": {"no_such_cap": 1}}, "body.guardrails.no_such_cap"),
                         ({"colour": "red"}, "body.colour"),
                         ({"timezone": "Mars/Olympus"}, "body.timezone"),
                         ({"quiet_hours": {"start": "09:00"}}, "body.quiet_hours"),
                         ({"claim_url": "ftp://x"}, "body.claim_url"),
                         ({"webhook_url": "https://127.0.0.1/hook"}, "body.webhook_url")]:
        r = api.patch("/v1/settings", patch, token=merchant.token)
        assert r.status == 400, (patch, r)
        assert r.json["error"]["field"] == field, (patch, r.json)
    assert api.get("/v1/settings", token=merchant.token).json == before


def test_settings_patch_is_admin_only(api: Any, merchant: Any) -> None:
    created = api.post("/v1/keys", {"role": "operator"}, token=merchant.token).json
    assert api.patch("/v1/settings", {"store_name": "x"}, token=created["api_key"]).status == 403


def test_settings_put_replaces_the_whole_document(api: Any, merchant: Any) -> None:
    # PUT is a full replace, as documented: a field left out takes its default (PATCH is the partial change)
    assert api.put("/v1/settings", LINKS, token=merchant.token).status == 200
    r = api.put("/v1/settings", {"store_name": "鲜果小铺"}, token=merchant.token)
    assert r.status == 200 and r.json["claim_url"] is None
