"""Tenancy routes through chalice.test under moto: health, settings, keys, auth, errors."""

from __future__ import annotations

from typing import Any

import pytest


def test_health_answers_without_a_key(api: Any) -> None:
    r = api.get("/v1/health")
    assert r.status == 200 and r.json["status"] == "ok"


def test_settings_have_spec_defaults_when_merchant_is_new(api: Any, merchant: Any) -> None:
    r = api.get("/v1/settings", token=merchant.token)
    assert r.status == 200, r
    body = r.json
    assert body["timezone"] == "Asia/Shanghai"
    assert body["quiet_hours"] == {"enabled": True, "start": "21:00", "end": "09:00",
                                   "channels": ["email", "inbox", "sms"]}
    g = body["guardrails"]
    assert (g["daily_messages_per_customer"], g["coupon_message_cooldown_days"]) == (1, 5)
    assert (g["monthly_store_coupons"], g["audience_sends_per_month"], g["max_recipients_per_send"]) == (
        5000, 60, 100_000)
    assert body["webhook_secret_set"] is False
    assert r.headers["etag"] == f'"{body["version"]}"'


def test_settings_put_returns_412_when_if_match_is_stale(api: Any, merchant: Any) -> None:
    current = api.get("/v1/settings", token=merchant.token).json
    body = {"timezone": "Europe/Berlin", "webhook_url": "https://example.com/hook",
            "webhook_secret": "s" * 20}
    ok = api.put("/v1/settings", body, token=merchant.token, headers={"If-Match": str(current["version"])})
    assert ok.status == 200, ok
    assert ok.json["timezone"] == "Europe/Berlin" and ok.json["webhook_secret_set"] is True
    stale = api.put("/v1/settings", body, token=merchant.token, headers={"If-Match": str(current["version"])})
    assert stale.status == 412 and stale.json["error"]["field"] == "header.If-Match"
    kept = api.put("/v1/settings", {"timezone": "Asia/Tokyo"}, token=merchant.token)
    assert kept.json["webhook_secret_set"] is True


@pytest.mark.parametrize("zone", ["Mars/Olympus", "localtime", "posix/Asia/Shanghai"])
def test_settings_put_names_the_field_when_timezone_is_unknown(api: Any, merchant: Any, zone: str) -> None:
    # localtime and posix/ are files of the host's zone directory, not IANA zones: they must not pass on one machine
    r = api.put("/v1/settings", {"timezone": zone}, token=merchant.token)
    assert r.status == 400
    assert r.json["error"]["field"] == "body.timezone"
    assert api.get("/v1/settings", token=merchant.token).json["timezone"] == "Asia/Shanghai"


def test_malformed_json_is_400_when_body_is_not_json(api: Any, merchant: Any) -> None:
    r = api.put("/v1/settings", raw="{not json", token=merchant.token)
    assert r.status == 400 and r.json["error"]["code"] == "malformed_json"


def test_oversize_body_is_413(api: Any, merchant: Any) -> None:
    r = api.put("/v1/settings", raw='{"store_name": "' + "x" * 1_100_000 + '"}', token=merchant.token)
    assert r.status == 413 and r.json["error"]["field"] == "body"


def test_unknown_route_is_404_json(api: Any, merchant: Any) -> None:
    r = api.get("/v1/nothing-here", token=merchant.token)
    assert r.status == 404 and r.json["error"]["code"] == "not_found"


def test_wrong_method_is_405_json(api: Any, merchant: Any) -> None:
    r = api.request("PATCH", "/v1/health")
    assert r.status == 405 and "GET" in r.headers["allow"]


def test_missing_key_is_401_and_bad_key_403(api: Any) -> None:
    assert api.get("/v1/settings").status == 401
    r = api.get("/v1/settings", token="mkt.m_nobody.k_nothing.secret")
    assert r.status == 403 and r.json["error"]["code"] == "forbidden"


def test_key_lifecycle_when_admin_creates_lists_and_revokes(api: Any, merchant: Any) -> None:
    created = api.post("/v1/keys", {"role": "readonly", "label": "reports"}, token=merchant.token)
    assert created.status == 201, created
    token = created.json["api_key"]
    assert api.get("/v1/settings", token=token).status == 200
    assert api.put("/v1/settings", {}, token=token).status == 403
    listed = api.get("/v1/keys?limit=1", token=merchant.token).json
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    second = api.get(f"/v1/keys?limit=10&cursor={listed['next_cursor']}", token=merchant.token).json
    ids = {k["key_id"] for k in listed["items"] + second["items"]}
    assert created.json["key_id"] in ids and all("secret_hash" not in k for k in second["items"])
    revoked = api.delete(f"/v1/keys/{created.json['key_id']}", token=merchant.token)
    assert revoked.status == 200 and revoked.json["revoked_at"]
    assert api.get("/v1/settings", token=token).status == 403


def test_staff_key_requires_staff_id(api: Any, merchant: Any) -> None:
    r = api.post("/v1/keys", {"role": "staff"}, token=merchant.token)
    assert r.status == 400 and r.json["error"]["field"] == "staff_id"


def test_key_create_is_idempotent_when_key_repeats(api: Any, merchant: Any) -> None:
    h = {"Idempotency-Key": "abc-1"}
    first = api.post("/v1/keys", {"role": "operator"}, token=merchant.token, headers=h)
    again = api.post("/v1/keys", {"role": "operator"}, token=merchant.token, headers=h)
    assert first.status == 201 and again.status == 409
    keys = api.get("/v1/keys?limit=200", token=merchant.token).json["items"]
    assert sum(1 for k in keys if k["key_id"] == first.json["key_id"]) == 1


def test_cross_tenant_key_revoke_is_404(api: Any, merchant: Any, other_merchant: Any) -> None:
    created = api.post("/v1/keys", {"role": "readonly"}, token=merchant.token).json
    r = api.delete(f"/v1/keys/{created['key_id']}", token=other_merchant.token)
    assert r.status == 404
    cursor_of_a = api.get("/v1/keys?limit=1", token=merchant.token).json["next_cursor"]
    assert api.get(f"/v1/keys?cursor={cursor_of_a}", token=other_merchant.token).status == 400


def test_openapi_lists_every_registered_route(api: Any, chalice_app: Any) -> None:
    doc = api.get("/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    from chalicelib.core.http import ROUTES
    for route in ROUTES:
        assert route.method.lower() in doc["paths"][route.path]


def test_malformed_authorization_is_401_before_the_authorizer_as_api_gateway_validates_it(api: Any) -> None:
    """API Gateway refuses a header that fails identityValidationExpression without invoking the authorizer (401)."""
    for header in ("Bearer %%%", "Basic dXNlcjpwYXNz", "Bearer mkt.m_a.k_b", "Bearer mkt.m_a.k_b.s c"):
        r = api.get("/v1/settings", headers={"Authorization": header})
        assert r.status == 401 and r.json["error"]["field"] == "header.Authorization", (header, r)
    assert api.get("/v1/health", headers={"Authorization": "Bearer %%%"}).status == 200  # public: no authorizer
