"""Sends carry the campaign content rendered per recipient: nickname, store, coupon value, claim and unsubscribe."""

from __future__ import annotations

from typing import Any

from tests.support.dispatch import (
    RELAXED,
    campaign_body,
    make_coupon,
    seed_customers,
    start_campaign,
)

TEXT = "{nickname}您好，{store_name}送您{coupon_value}：{claim_link} 退订 {unsubscribe_link}"


def _settings(api: Any, merchant: Any, **extra: Any) -> None:
    body = {"store_name": "鲜果小铺", "guardrails": RELAXED, **extra}
    r = api.put("/v1/settings", body, token=merchant.token)
    assert r.status == 200, r.json


def _content(api: Any, merchant: Any, text: str) -> str:
    r = api.post("/v1/contents", {"name": "offer", "text": text}, token=merchant.token)
    assert r.status == 201, r.json
    return str(r.json["content_id"])


def test_inbox_message_is_the_rendered_content_when_the_store_sets_its_links(api, merchant, clock, runtime):
    _settings(api, merchant, claim_url="https://shop.example/claim?i={instance_id}&c={customer_id}",
              unsubscribe_url="https://shop.example/unsub/{customer_id}/{channel}")
    ids = ["r01", "r02"]
    seed_customers(api, merchant, ids)
    coupon = make_coupon(api, merchant)
    content = _content(api, merchant, TEXT)
    runtime.set_time(clock.now)
    start_campaign(api, merchant, campaign_body(coupon, {"kind": "customers", "customer_ids": ids},
                                                channel="inbox", content_id=content))
    runtime.tick(clock.now)
    runtime.drain()
    inbox = api.get("/v1/customers/r01/inbox", token=merchant.token).json["items"]
    assert len(inbox) == 1
    instance = inbox[0]["coupons"][0]["instance_id"]
    assert inbox[0]["text"] == (f"nr01您好，鲜果小铺送您满50元减10元：https://shop.example/claim?i={instance}&c=r01"
                                " 退订 https://shop.example/unsub/r01/inbox")
    assert inbox[0]["coupons"][0]["value_text"] == "满50元减10元"


def test_activation_is_refused_naming_the_link_setting_when_the_content_needs_one_not_set(api, merchant, clock):
    _settings(api, merchant)  # no claim or unsubscribe page: every recipient would fail to render
    seed_customers(api, merchant, ["s01"])
    coupon = make_coupon(api, merchant)
    content = _content(api, merchant, TEXT)
    r = api.post("/v1/campaigns", campaign_body(coupon, {"kind": "customers", "customer_ids": ["s01"]},
                                                channel="inbox", content_id=content), token=merchant.token)
    assert r.status == 201, r.json
    refused = api.post(f"/v1/campaigns/{r.json['campaign_id']}/activate", token=merchant.token)
    assert refused.status == 400, refused.json
    assert {d["field"] for d in refused.json["error"]["details"]} == {"settings.claim_url", "settings.unsubscribe_url"}


def test_settings_refuse_a_link_with_an_unknown_placeholder(api, merchant):
    r = api.put("/v1/settings", {"claim_url": "https://shop.example/{coupon}"}, token=merchant.token)
    assert r.status == 400
    assert r.json["error"]["field"].endswith("claim_url")
    assert "{coupon}" in r.json["error"]["reason"] or "{coupon}" in r.json["error"]["message"]
