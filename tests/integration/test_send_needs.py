"""Issue 15 item 1: a send that cannot render or reach a recipient commits nothing for them, and activation
refuses a campaign whose channel or content needs a setting the merchant has not set (naming it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from tests.support.dispatch import campaign_body, make_coupon, runs_of, seed_customers, set_watermark, wallet_counts

DAYTIME = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 11:00 in Asia/Shanghai
CONSENT = {"wallet": True, "inbox": True, "sms": True, "email": True, "webhook": True, "staff_task": True}
CLAIM = "https://shop.example/claim/{instance_id}"
LINKS = {"claim_url": CLAIM, "unsubscribe_url": "https://shop.example/unsub/{customer_id}"}


def put_settings(api: Any, merchant: Any, **values: Any) -> None:
    r = api.put("/v1/settings", {"store_name": "鲜果小铺", **values}, token=merchant.token)
    assert r.status == 200, r.json
    wiring.settings_cache().clear()  # workers cache settings for a minute: let this dispatch see the change now


def content(api: Any, merchant: Any, text: str, **extra: Any) -> str:
    r = api.post("/v1/contents", {"name": "offer", "text": text, **extra}, token=merchant.token)
    assert r.status == 201, r.json
    return str(r.json["content_id"])


def create(api: Any, merchant: Any, body: dict[str, Any]) -> str:
    r = api.post("/v1/campaigns", body, token=merchant.token)
    assert r.status == 201, r.json
    return str(r.json["campaign_id"])


def at(runtime: Any, clock: Any, now: datetime) -> None:
    """Every clock at `now` (the local runtime keeps its own)."""
    clock.set(now)
    runtime.set_time(now)
    set_watermark(now)


def deliver(runtime: Any, clock: Any, now: datetime) -> None:
    at(runtime, clock, now)
    runtime.tick(now)
    runtime.drain()


def coupon_state(api: Any, merchant: Any, coupon: str) -> tuple[int, int]:
    body = api.get(f"/v1/coupons/{coupon}", token=merchant.token).json
    return body["issued"], body["remaining"]


def test_a_send_that_cannot_render_issues_no_coupon_and_uses_no_limit_when_a_setting_went_missing(
        api, merchant, clock, runtime):
    ids = ["rb1", "rb2", "rb3"]
    seed_customers(api, merchant, ids, consent=CONSENT)
    audience = api.post("/v1/audiences", {"name": "three", "kind": "list", "customer_ids": ids}, token=merchant.token)
    assert audience.status == 201, audience.json
    target = {"kind": "audience", "audience_id": audience.json["audience_id"]}
    put_settings(api, merchant, **LINKS)
    coupon = make_coupon(api, merchant, stock=3)
    text = content(api, merchant, "{nickname}，{store_name}送您{coupon_value}：{claim_link}")
    clock.set(DAYTIME)
    first = create(api, merchant, campaign_body(coupon, target, channel="inbox", content_id=text, name="first"))
    assert api.post(f"/v1/campaigns/{first}/activate", token=merchant.token).status == 200
    put_settings(api, merchant)  # the claim page is removed after activation: no recipient can render
    deliver(runtime, clock, DAYTIME)
    progress = runs_of(api, merchant, first)[0]["progress"]
    assert progress["failed"] == 3 and "render_missing_claim_link" in str(progress), progress
    assert wallet_counts(merchant.id, ids) == dict.fromkeys(ids, 0)
    assert coupon_state(api, merchant, coupon) == (0, 3)  # no stock moved

    # Nothing was consumed: the same customers (and audience) can be sent to the same day once fixed.
    put_settings(api, merchant, **LINKS)
    later = DAYTIME + timedelta(hours=1)
    at(runtime, clock, later)
    second = create(api, merchant, campaign_body(coupon, target, channel="inbox", content_id=text, name="second"))
    r = api.post(f"/v1/campaigns/{second}/activate", token=merchant.token)
    assert r.status == 200, r.json  # not 429: the failed send did not use the audience's daily send
    deliver(runtime, clock, later)
    progress = runs_of(api, merchant, second)[0]["progress"]
    assert progress["succeeded"] == 3, progress
    assert coupon_state(api, merchant, coupon) == (3, 0)


def test_a_recipient_the_channel_cannot_reach_gets_no_coupon_when_others_are_sent(api, merchant, clock, runtime):
    seed_customers(api, merchant, ["ph1", "ph2"], consent=CONSENT)
    r = api.post("/v1/customers/batch", {"items": [{"customer_id": "ph3", "consent": CONSENT}]}, token=merchant.token)
    assert r.status == 200, r.json  # no phone, no nickname
    put_settings(api, merchant, **LINKS)
    coupon = make_coupon(api, merchant, stock=10)
    text = content(api, merchant, "{store_name}送您{coupon_value}")
    target = {"kind": "customers", "customer_ids": ["ph1", "ph2", "ph3"]}
    clock.set(DAYTIME)
    cid = create(api, merchant, campaign_body(coupon, target, channel="sms", content_id=text))
    assert api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token).status == 200
    deliver(runtime, clock, DAYTIME)
    progress = runs_of(api, merchant, cid)[0]["progress"]
    assert progress["succeeded"] == 2 and progress["failed"] == 1, progress
    assert wallet_counts(merchant.id, ["ph1", "ph2", "ph3"]) == {"ph1": 1, "ph2": 1, "ph3": 0}
    assert coupon_state(api, merchant, coupon) == (2, 8)


NEEDS = [
    ("inbox", "领券 {claim_link}", {}, "settings.claim_url"),
    ("sms", "退订回 {unsubscribe_link}", {"claim_url": CLAIM}, "settings.unsubscribe_url"),
    ("staff_task", "{store_name} 回访", LINKS, "settings.store_name"),
    ("email", "hello", LINKS, "settings.email_sender"),
    ("webhook", None, LINKS, "settings.webhook_url"),
    ("webhook", None, {**LINKS, "webhook_url": "https://hooks.example/m"}, "settings.webhook_secret"),
]


@pytest.mark.parametrize(("channel", "text", "settings", "field"), NEEDS)
def test_activation_is_refused_naming_the_setting_when_the_channel_or_content_needs_a_missing_one(
        api, merchant, clock, channel, text, settings, field):
    body = {"store_name": "" if field == "settings.store_name" else "鲜果小铺", **settings}
    assert api.put("/v1/settings", body, token=merchant.token).status == 200
    coupon = make_coupon(api, merchant)
    extra = {"content_id": content(api, merchant, text)} if text is not None else {}
    clock.set(DAYTIME)
    cid = create(api, merchant, campaign_body(coupon, {"kind": "customers", "customer_ids": ["x1"]},
                                              channel=channel, **extra))
    r = api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token)
    assert r.status == 400, r.json
    assert r.json["error"]["field"] == field
    assert api.get(f"/v1/campaigns/{cid}", token=merchant.token).json["status"] == "draft"


def test_send_now_is_refused_naming_the_setting_when_it_was_removed_after_activation(api, merchant, clock):
    put_settings(api, merchant, **LINKS)
    coupon = make_coupon(api, merchant)
    text = content(api, merchant, "{claim_link}")
    clock.set(DAYTIME)
    body = campaign_body(coupon, {"kind": "customers", "customer_ids": ["x1"]}, channel="inbox", content_id=text,
                         schedule={"kind": "recurring", "frequency": "daily", "time": "10:00"})
    cid = create(api, merchant, body)
    assert api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token).status == 200
    put_settings(api, merchant)
    r = api.post(f"/v1/campaigns/{cid}/send-now", token=merchant.token)
    assert (r.status, r.json["error"]["field"]) == (400, "settings.claim_url"), r.json


def test_a_campaign_is_refused_when_its_content_shows_a_coupon_it_does_not_carry(api, merchant):
    text = content(api, merchant, "送您{coupon_value}")
    body = campaign_body(None, {"kind": "customers", "customer_ids": ["x1"]}, channel="inbox", content_id=text)
    r = api.post("/v1/campaigns", body, token=merchant.token)
    assert (r.status, r.json["error"]["field"]) == (400, "body.action.coupons"), r.json


def test_a_setting_set_a_moment_ago_is_used_by_the_send_when_workers_cached_the_old_settings(
        api, merchant, clock, runtime):
    seed_customers(api, merchant, ["fr1"], consent=CONSENT)
    put_settings(api, merchant)
    wiring.cached_settings(merchant.id)  # a warm worker holds the settings without the claim page
    r = api.put("/v1/settings", {"store_name": "鲜果小铺", **LINKS}, token=merchant.token)
    assert r.status == 200, r.json
    coupon = make_coupon(api, merchant)
    text = content(api, merchant, "{claim_link}")
    at(runtime, clock, DAYTIME)
    cid = create(api, merchant, campaign_body(coupon, {"kind": "customers", "customer_ids": ["fr1"]},
                                              channel="inbox", content_id=text))
    assert api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token).status == 200
    deliver(runtime, clock, DAYTIME)
    assert runs_of(api, merchant, cid)[0]["progress"]["succeeded"] == 1
