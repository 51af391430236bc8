"""Guardrails through the API and LocalRuntime: local month boundaries, quota isolation, 429s, caps, risk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.dispatch import campaign_body, make_coupon, runs_of, seed_customers, set_watermark

CONSENT = {"wallet": True, "inbox": True}
EVERYONE = {"kind": "rule", "rule": {"all": [{"field": "member_level", "op": "gte", "value": 0}]}}
DAYTIME = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 11:00 in Asia/Shanghai


def put_settings(api: Any, merchant: Any, quiet: bool = True, **guardrails: Any) -> None:
    current = api.get("/v1/settings", token=merchant.token).json
    body = {k: current[k] for k in ("store_name", "timezone", "quiet_hours", "guardrails", "rfm")}
    body["guardrails"].update(guardrails)
    body["quiet_hours"]["enabled"] = quiet
    r = api.put("/v1/settings", body, token=merchant.token, headers={"If-Match": str(current["version"])})
    assert r.status == 200, r


def send(api: Any, merchant: Any, runtime: Any, clock: Any, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Create, activate and deliver a once-now campaign at `now`; returns its run's progress and its id."""
    clock.set(now)
    runtime.set_time(now)
    set_watermark(now)
    r = api.post("/v1/campaigns", body, token=merchant.token)
    assert r.status == 201, r
    cid = r.json["campaign_id"]
    r = api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token)
    assert r.status == 200, r
    runtime.tick(now)
    runtime.drain()
    return {"campaign_id": cid, **runs_of(api, merchant, cid)[0]["progress"]}


def activate(api: Any, merchant: Any, body: dict[str, Any]) -> Any:
    cid = api.post("/v1/campaigns", body, token=merchant.token).json["campaign_id"]
    return api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token)


def test_monthly_coupon_quota_resets_at_the_local_month_when_utc_is_still_the_old_month(api, merchant, clock,
                                                                                         runtime):
    seed_customers(api, merchant, ["m1", "m2", "m3"], consent=CONSENT)
    put_settings(api, merchant, quiet=False, monthly_store_coupons=2, weekly_store_coupons_per_customer=10)
    coupon = make_coupon(api, merchant)
    november = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 20:00 on 30 November, local
    p = send(api, merchant, runtime, clock, campaign_body(coupon, EVERYONE), november)
    assert (p["succeeded"], p["suppressed"]) == (2, {"quota_monthly_store_coupon": 1})

    clock.set(november + timedelta(hours=3))  # still November, locally and in UTC: the quota is used up
    refused = activate(api, merchant, campaign_body(coupon, EVERYONE))
    assert refused.status == 429, refused
    assert refused.json["error"]["field"] == "settings.guardrails.monthly_store_coupons"
    assert "quota_monthly_store_coupon" in refused.json["error"]["message"]

    december = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 December, local; UTC says November
    p = send(api, merchant, runtime, clock, campaign_body(coupon, EVERYONE), december)
    assert (p["succeeded"], p["suppressed"]) == (2, {"quota_monthly_store_coupon": 1})


def test_one_merchants_used_up_quota_never_limits_another_when_both_send(api, merchant, other_merchant, clock,
                                                                         runtime):
    for m in (merchant, other_merchant):
        seed_customers(api, m, ["q1", "q2"], consent=CONSENT)
    put_settings(api, merchant, monthly_store_coupons=1)
    mine, theirs = make_coupon(api, merchant), make_coupon(api, other_merchant)
    p = send(api, merchant, runtime, clock, campaign_body(mine, EVERYONE), DAYTIME)
    assert (p["succeeded"], p["suppressed"]) == (1, {"quota_monthly_store_coupon": 1})
    p = send(api, other_merchant, runtime, clock, campaign_body(theirs, EVERYONE), DAYTIME)
    assert (p["succeeded"], p["suppressed"]) == (2, {})
    listed = {"kind": "customers", "customer_ids": ["q1"]}
    assert activate(api, merchant, campaign_body(mine, listed)).status == 429
    assert activate(api, other_merchant, campaign_body(theirs, listed)).status == 200


def test_audience_is_sent_once_a_day_when_a_second_campaign_targets_it(api, merchant, clock, runtime):
    seed_customers(api, merchant, ["a1", "a2"], consent=CONSENT)
    put_settings(api, merchant, weekly_store_coupons_per_customer=10)
    audience = api.post("/v1/audiences", {"name": "everyone", "rule": EVERYONE["rule"]}, token=merchant.token)
    assert audience.status == 201, audience
    target = {"kind": "audience", "audience_id": audience.json["audience_id"]}
    coupon = make_coupon(api, merchant)
    clock.set(DAYTIME)
    early = api.post("/v1/campaigns", campaign_body(coupon, target, name="raced"), token=merchant.token).json
    assert api.post(f"/v1/campaigns/{early['campaign_id']}/activate", token=merchant.token).status == 200
    p = send(api, merchant, runtime, clock, campaign_body(coupon, target, name="first"), DAYTIME)
    assert p["succeeded"] + p["suppressed"].get("quota_audience_daily", 0) == 2
    raced = runs_of(api, merchant, early["campaign_id"])[0]["progress"]  # both were activated before either ran
    assert sorted([p["succeeded"], raced["succeeded"]]) == [0, 2]
    assert {**p["suppressed"], **raced["suppressed"]} == {"quota_audience_daily": 2}
    refused = activate(api, merchant, campaign_body(coupon, target, name="second"))
    assert refused.status == 429, refused
    assert refused.json["error"]["field"] == "settings.guardrails.audience_sends_per_day"
    p = send(api, merchant, runtime, clock, campaign_body(coupon, target, name="tomorrow"), DAYTIME + timedelta(days=1))
    assert p["succeeded"] == 2


def test_daily_cap_then_cooldown_follow_a_coupon_message_when_more_messages_come(api, merchant, clock, runtime):
    seed_customers(api, merchant, ["d1"], consent=CONSENT)
    put_settings(api, merchant, audience_sends_per_day=5)  # each send goes to the same one-customer list
    coupon = make_coupon(api, merchant)
    content = api.post("/v1/contents", {"name": "note", "text": "hi"}, token=merchant.token).json["content_id"]
    target = {"kind": "customers", "customer_ids": ["d1"]}
    offer = campaign_body(coupon, target, channel="inbox", content_id=content, name="offer")
    assert send(api, merchant, runtime, clock, offer, DAYTIME)["succeeded"] == 1
    plain = campaign_body(None, target, channel="inbox", content_id=content)
    assert send(api, merchant, runtime, clock, plain, DAYTIME + timedelta(hours=4))["suppressed"] == {"cap_daily": 1}
    assert send(api, merchant, runtime, clock, plain, DAYTIME + timedelta(days=4))["suppressed"] == {"cap_cooldown": 1}
    assert send(api, merchant, runtime, clock, plain, DAYTIME + timedelta(days=5))["succeeded"] == 1


def test_customers_reached_by_another_campaign_are_excluded_when_the_campaign_asks(api, merchant, clock, runtime):
    seed_customers(api, merchant, ["h1", "h2"], consent=CONSENT)
    content = api.post("/v1/contents", {"name": "note", "text": "hi"}, token=merchant.token).json["content_id"]
    first = campaign_body(None, {"kind": "customers", "customer_ids": ["h1"]}, channel="inbox", content_id=content)
    assert send(api, merchant, runtime, clock, first, DAYTIME)["succeeded"] == 1
    both = {"kind": "customers", "customer_ids": ["h1", "h2"]}
    careful = campaign_body(None, both, channel="inbox", content_id=content,
                            guardrails={"exclude_reached_within_days": 3})
    p = send(api, merchant, runtime, clock, careful, DAYTIME + timedelta(days=2))
    assert (p["succeeded"], p["suppressed"]) == (1, {"anti_harassment": 1})
    # A day later h1's reach is 3 days old (outside the window) but h2 was reached yesterday by the last campaign.
    p = send(api, merchant, runtime, clock, careful, DAYTIME + timedelta(days=3))
    assert (p["succeeded"], p["suppressed"]) == (1, {"anti_harassment": 1})
    rows = api.get(f"/v1/campaigns/{p['campaign_id']}/recipients?status=suppressed", token=merchant.token).json
    assert [(r["customer_id"], r["reason"]) for r in rows["items"]] == [("h2", "anti_harassment")]


def test_risky_customers_are_excluded_when_flagged_or_claiming_without_redeeming(api, merchant, clock, runtime):
    seed_customers(api, merchant, ["k1", "k2"], consent=CONSENT)
    seed_customers(api, merchant, ["k3"], consent=CONSENT, risk_flag=True)
    put_settings(api, merchant, coupon_message_cooldown_days=0, daily_messages_per_customer=10,
                 inbox_messages_per_day=10, weekly_store_coupons_per_customer=10,
                 risk={"enabled": True, "min_claims": 2, "window_days": 30}, audience_sends_per_day=10)
    coupon = make_coupon(api, merchant)
    content = api.post("/v1/contents", {"name": "note", "text": "hi"}, token=merchant.token).json["content_id"]
    offer = campaign_body(coupon, EVERYONE, channel="inbox", content_id=content)
    p = send(api, merchant, runtime, clock, offer, DAYTIME)
    assert (p["succeeded"], p["suppressed"]) == (2, {"risk": 1})
    p = send(api, merchant, runtime, clock, offer, DAYTIME + timedelta(hours=1))
    assert p["succeeded"] == 2
    wallet = api.get("/v1/customers/k1/coupons", token=merchant.token).json["items"]
    assert len(wallet) == 2
    for instance in wallet:  # k1 claims both coupons and redeems neither
        r = api.post(f"/v1/coupon-instances/{instance['instance_id']}/claim", {"customer_id": "k1"},
                     token=merchant.token)
        assert r.status == 200, r
    p = send(api, merchant, runtime, clock, offer, DAYTIME + timedelta(hours=2))
    assert (p["succeeded"], p["suppressed"]) == (1, {"risk": 2})

    paid = (DAYTIME + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # An order naming k1's coupon below its threshold (¥20 < ¥50) is refused by redemption: it clears nothing.
    small = {"order_id": "o0", "customer_id": "k1", "paid_at": paid, "amount_fen": 2000,
             "coupon_instance_id": wallet[1]["instance_id"]}
    clock.set(DAYTIME + timedelta(hours=3))  # ingestion refuses orders dated ahead of the clock
    runtime.set_time(DAYTIME + timedelta(hours=3))
    got = api.post("/v1/orders/batch", {"items": [small]}, token=merchant.token).json
    assert got["accepted"] == 1, got
    runtime.drain()
    assert api.get("/v1/customers/k1/coupons", token=merchant.token).json["items"][1]["status"] == "claimed"
    p = send(api, merchant, runtime, clock, offer, DAYTIME + timedelta(hours=2, minutes=30))
    assert (p["succeeded"], p["suppressed"]) == (1, {"risk": 2})

    order = {"order_id": "o1", "customer_id": "k1", "paid_at": paid, "amount_fen": 9000, "discount_fen": 1000,
             "coupon_instance_id": wallet[0]["instance_id"]}
    clock.set(DAYTIME + timedelta(hours=3))
    runtime.set_time(DAYTIME + timedelta(hours=3))
    assert api.post("/v1/orders/batch", {"items": [order]}, token=merchant.token).json["accepted"] == 1
    runtime.drain()  # the order stream: the redemption clears k1's risk
    p = send(api, merchant, runtime, clock, offer, DAYTIME + timedelta(hours=4))
    assert (p["succeeded"], p["suppressed"]) == (2, {"risk": 1})
