"""Guardrails that fit every seed (issue 18 items 1-4): staff tasks, campaign-level loosening, quiet-hour channels,
audience quotas by the target a send resolves to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.dispatch import campaign_body, make_coupon, seed_customers, tick_and_drain
from tests.support.sends import put_settings, send

CONSENT = {"wallet": True, "inbox": True, "staff_task": True}
DAYTIME = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 11:00 in Asia/Shanghai
NIGHT = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # Tuesday 22:00 in Asia/Shanghai


def _content(api: Any, merchant: Any) -> str:
    return str(api.post("/v1/contents", {"name": "note", "text": "hi {nickname}"}, token=merchant.token)
               .json["content_id"])


def _tasks(api: Any, merchant: Any, customer_id: str) -> list[dict[str, Any]]:
    items = api.get("/v1/staff/tasks?limit=200", token=merchant.token).json["items"]
    return [t for t in items if t["customer_id"] == customer_id]


# -- item 1: staff follow-up tasks are not customer messages ------------------------------------------------------
def test_a_staff_task_is_created_when_the_customer_got_a_coupon_message_within_the_cooldown(api, merchant, clock,
                                                                                           runtime):
    seed_customers(api, merchant, ["s1"], consent=CONSENT, staff_owner="staff_a")
    put_settings(api, merchant, audience_sends_per_day=5)  # every send here goes to the same one-customer list
    content, coupon = _content(api, merchant), make_coupon(api, merchant)
    target = {"kind": "customers", "customer_ids": ["s1"]}
    offer = campaign_body(coupon, target, channel="inbox", content_id=content, name="offer")
    assert send(api, merchant, runtime, clock, offer, DAYTIME)["succeeded"] == 1
    # The same day (daily cap) and within the 5-day cooldown after the coupon message: a message is suppressed,
    plain = campaign_body(None, target, channel="inbox", content_id=content, name="news")
    assert send(api, merchant, runtime, clock, plain, DAYTIME + timedelta(hours=1))["suppressed"] == {"cap_daily": 1}
    # ... but the staff member's follow-up task is created: it is no message to the customer.
    call = campaign_body(None, target, channel="staff_task", content_id=content, name="call")
    p = send(api, merchant, runtime, clock, call, DAYTIME + timedelta(hours=2))
    assert (p["succeeded"], p["suppressed"]) == (1, {})
    assert [t["staff_id"] for t in _tasks(api, merchant, "s1")] == ["staff_a"]
    # and the task does not count as the customer's message of the day, nor start a cooldown.
    assert send(api, merchant, runtime, clock, plain, DAYTIME + timedelta(days=5))["succeeded"] == 1


def test_a_plans_second_task_about_a_customer_waits_until_the_first_is_completed(api, merchant, clock, runtime):
    seed_customers(api, merchant, ["s2", "s3"], consent=CONSENT, staff_owner="staff_b")
    content = _content(api, merchant)
    call = campaign_body(None, {"kind": "customers", "customer_ids": ["s2", "s3"]}, channel="staff_task",
                         content_id=content, name="weekly call",
                         schedule={"kind": "recurring", "frequency": "daily", "time": "11:00"})
    first = send(api, merchant, runtime, clock, call, DAYTIME - timedelta(minutes=5), at=DAYTIME)
    assert first["succeeded"] == 2
    done = _tasks(api, merchant, "s2")[0]
    r = api.post(f"/v1/staff/tasks/{done['task_id']}/complete", {"outcome": "reached"}, token=merchant.token)
    assert r.status == 200, r
    clock.set(DAYTIME + timedelta(days=1))  # the plan's next day: s3's task is still open
    tick_and_drain(runtime, DAYTIME + timedelta(days=1))
    runs = api.get(f"/v1/campaigns/{first['campaign_id']}/runs", token=merchant.token).json["items"]
    second = next(r for r in runs if r["occurrence"] == "2026-11-25T03:00:00Z")["progress"]
    assert (second["succeeded"], second["suppressed"]) == (1, {"staff_task_open": 1})
    assert len(_tasks(api, merchant, "s2")) == 2 and len(_tasks(api, merchant, "s3")) == 1
    # Another plan is not limited by this plan's open task.
    other = campaign_body(None, {"kind": "customers", "customer_ids": ["s3"]}, channel="staff_task",
                          content_id=content, name="other plan")
    assert send(api, merchant, runtime, clock, other, DAYTIME + timedelta(days=1, hours=1))["succeeded"] == 1


# -- item 3: quiet hours defer the channels that reach a person ----------------------------------------------------
def test_a_wallet_issue_is_sent_in_quiet_hours_when_an_inbox_message_is_deferred(api, merchant, clock, runtime):
    seed_customers(api, merchant, ["q1"], consent=CONSENT)
    put_settings(api, merchant, audience_sends_per_day=5)  # every send here goes to the same one-customer list
    content, coupon = _content(api, merchant), make_coupon(api, merchant)
    target = {"kind": "customers", "customer_ids": ["q1"]}
    wallet = send(api, merchant, runtime, clock, campaign_body(coupon, target, name="silent"), NIGHT)
    assert (wallet["succeeded"], wallet["pending"], wallet["deferred"]) == (1, 0, 0)
    inbox = send(api, merchant, runtime, clock, campaign_body(None, target, channel="inbox", content_id=content),
                 NIGHT + timedelta(minutes=5))
    assert (inbox["succeeded"], inbox["pending"], inbox["deferred"]) == (0, 1, 1)
    assert inbox["deferred_until"] == "2026-11-25T01:00:00Z"  # 09:00 local
    # The recipient index lists settled deliveries only (reports/recipients.py): a waiting one is in the run's
    # progress and the report, never as not_sent.
    rows = api.get(f"/v1/campaigns/{inbox['campaign_id']}/recipients", token=merchant.token).json["items"]
    assert [r for r in rows if r["status"] == "not_sent"] == []
    report = api.get(f"/v1/campaigns/{inbox['campaign_id']}/report", token=merchant.token).json
    assert report["reasons"]["deferred"] == {"quiet_hours": 1} and report["reasons"]["not_sent"] == {}
    assert report["reasons"]["deferred_until"] == "2026-11-25T01:00:00Z"


def test_a_wallet_issue_waits_for_quiet_hours_when_the_merchant_lists_the_wallet(api, merchant, clock, runtime):
    seed_customers(api, merchant, ["q2"], consent=CONSENT)
    coupon = make_coupon(api, merchant)
    put_settings(api, merchant, quiet_channels=["wallet", "inbox"])
    got = api.get("/v1/settings", token=merchant.token).json["quiet_hours"]["channels"]
    assert got == ["inbox", "wallet"]
    p = send(api, merchant, runtime, clock, campaign_body(coupon, {"kind": "customers", "customer_ids": ["q2"]}),
             NIGHT)
    assert (p["succeeded"], p["deferred"]) == (0, 1)
    bad = api.put("/v1/settings", {"quiet_hours": {"channels": ["pigeon"]}}, token=merchant.token)
    assert bad.status == 400 and bad.json["error"]["field"].startswith("body.quiet_hours.channels")


# -- item 2: a campaign may loosen a per-customer cap within the merchant's ceiling --------------------------------
def _daily(coupon: str, target: dict[str, Any], **guardrails: int) -> dict[str, Any]:
    return campaign_body(coupon, target, name="每日券", guardrails=guardrails,
                         schedule={"kind": "recurring", "frequency": "daily", "time": "11:00"})


def test_a_daily_coupon_reaches_a_customer_every_day_when_the_campaign_loosens_within_the_ceiling(api, merchant,
                                                                                                clock, runtime):
    seed_customers(api, merchant, ["l1"], consent=CONSENT)
    put_settings(api, merchant, audience_sends_per_day=5)  # every send here goes to the same one-customer list
    coupon = make_coupon(api, merchant)
    target = {"kind": "customers", "customer_ids": ["l1"]}
    refused = api.post("/v1/campaigns", _daily(coupon, target, weekly_store_coupons_per_customer=7),
                       token=merchant.token)
    assert refused.status == 400, refused  # the default ceiling is the SPEC default: no loosening
    error = refused.json["error"]
    assert error["field"] == "body.guardrails.weekly_store_coupons_per_customer"
    assert "settings.guardrails.campaign_ceiling.weekly_store_coupons_per_customer" in error["message"]
    put_settings(api, merchant, campaign_ceiling={"weekly_store_coupons_per_customer": 7,
                                                  "daily_messages_per_customer": 1,
                                                  "coupon_message_cooldown_days": 5,
                                                  "weekly_item_coupons_per_customer": 1})
    first = send(api, merchant, runtime, clock, _daily(coupon, target, weekly_store_coupons_per_customer=7),
                 DAYTIME - timedelta(minutes=10), at=DAYTIME)
    activated = first["activated"]
    assert activated["loosened"] == {"weekly_store_coupons_per_customer": {"setting": 1, "campaign": 7}}
    assert activated["warnings"] == []
    for day in (1, 2):
        clock.set(DAYTIME + timedelta(days=day))
        tick_and_drain(runtime, DAYTIME + timedelta(days=day))
    runs = api.get(f"/v1/campaigns/{first['campaign_id']}/runs", token=merchant.token).json["items"]
    assert sorted((r["occurrence"], r["progress"]["succeeded"]) for r in runs) == [
        ("2026-11-24T03:00:00Z", 1), ("2026-11-25T03:00:00Z", 1), ("2026-11-26T03:00:00Z", 1)]
    assert len(api.get("/v1/customers/l1/coupons", token=merchant.token).json["items"]) == 3
    report = api.get(f"/v1/campaigns/{first['campaign_id']}/report", token=merchant.token).json
    assert report["loosened"] == {"weekly_store_coupons_per_customer": {"setting": 1, "campaign": 7}}
    # The shop-wide cap is unchanged: another campaign without the loosening is held to one a week.
    other = send(api, merchant, runtime, clock, campaign_body(coupon, target, name="once"),
                 DAYTIME + timedelta(days=2, hours=1))
    assert other["suppressed"] == {"cap_weekly_store_coupon": 1}


def test_activation_warns_but_activates_when_a_daily_coupon_plan_cannot_deliver_under_the_weekly_cap(
        api, merchant, clock, runtime):
    seed_customers(api, merchant, ["l2"], consent=CONSENT)
    coupon = make_coupon(api, merchant)
    clock.set(DAYTIME - timedelta(minutes=10))  # Tuesday: the next 28 days touch five local ISO weeks
    created = api.post("/v1/campaigns", _daily(coupon, {"kind": "customers", "customer_ids": ["l2"]}),
                       token=merchant.token).json
    r = api.post(f"/v1/campaigns/{created['campaign_id']}/activate", token=merchant.token)
    assert r.status == 200 and r.json["status"] == "scheduled"
    [warning] = r.json["warnings"]
    assert (warning["code"], warning["field"]) == ("cap_weekly_store_coupon",
                                                   "guardrails.weekly_store_coupons_per_customer")
    assert (warning["sends"], warning["suppressed"]) == (28, 23)
    assert "settings.guardrails.campaign_ceiling.weekly_store_coupons_per_customer" in warning["message"]
    assert api.get(f"/v1/campaigns/{created['campaign_id']}", token=merchant.token).json["warnings"] == [warning]


# -- item 4: audience-send quotas count every send by the target it resolves to ----------------------------------
def test_pasting_a_saved_rule_inline_or_reordering_a_list_is_the_same_audience_for_the_daily_quota(
        api, merchant, clock, runtime):
    seed_customers(api, merchant, ["a1", "a2"], consent=CONSENT, staff_owner="staff_q")
    put_settings(api, merchant, weekly_store_coupons_per_customer=10, daily_messages_per_customer=10)
    coupon = make_coupon(api, merchant)
    rule = {"all": [{"field": "member_level", "op": "gte", "value": 0},
                    {"field": "city_tier", "op": "is_not_set"}]}
    saved = api.post("/v1/audiences", {"name": "everyone", "rule": rule}, token=merchant.token).json["audience_id"]
    first = send(api, merchant, runtime, clock, campaign_body(coupon, {"kind": "audience", "audience_id": saved}),
                 DAYTIME)
    assert first["succeeded"] == 2
    pasted = {"all": list(reversed(rule["all"]))}  # the same rule, its conditions in another order
    for target in ({"kind": "rule", "rule": pasted}, {"kind": "rule", "rule": rule}):
        refused = _activate(api, merchant, campaign_body(coupon, target, name="pasted"))
        assert refused.status == 429, refused
        assert refused.json["error"]["field"] == "settings.guardrails.audience_sends_per_day"
    listed = send(api, merchant, runtime, clock,
                  campaign_body(coupon, {"kind": "customers", "customer_ids": ["a1", "a2"]}, name="vip"),
                  DAYTIME + timedelta(hours=1))
    assert listed["succeeded"] == 2  # another audience: the explicit list
    again = _activate(api, merchant, campaign_body(coupon, {"kind": "customers", "customer_ids": ["a2", "a1"]}))
    assert again.status == 429 and "quota_audience_daily" in again.json["error"]["message"]
    staff = {"kind": "staff_friends", "staff_ids": ["staff_q"]}
    assert send(api, merchant, runtime, clock, campaign_body(coupon, staff, name="friends"),
                DAYTIME + timedelta(hours=2))["succeeded"] == 2
    assert _activate(api, merchant, campaign_body(coupon, staff, name="friends again")).status == 429
    tomorrow = send(api, merchant, runtime, clock, campaign_body(coupon, {"kind": "rule", "rule": pasted}),
                    DAYTIME + timedelta(days=1))
    assert tomorrow["succeeded"] == 2


def test_a_run_racing_a_pasted_rule_is_suppressed_by_the_audience_quota_when_both_were_activated(
        api, merchant, clock, runtime):
    seed_customers(api, merchant, ["a3"], consent=CONSENT)
    put_settings(api, merchant, weekly_store_coupons_per_customer=10, daily_messages_per_customer=10)
    coupon = make_coupon(api, merchant)
    rule = {"all": [{"field": "member_level", "op": "gte", "value": 0}]}
    saved = api.post("/v1/audiences", {"name": "all", "rule": rule}, token=merchant.token).json["audience_id"]
    clock.set(DAYTIME)
    early = api.post("/v1/campaigns", campaign_body(coupon, {"kind": "rule", "rule": {"any": rule["all"]}}),
                     token=merchant.token).json  # {"any": [c]} and {"all": [c]} are one population
    assert api.post(f"/v1/campaigns/{early['campaign_id']}/activate", token=merchant.token).status == 200
    p = send(api, merchant, runtime, clock, campaign_body(coupon, {"kind": "audience", "audience_id": saved}),
             DAYTIME)
    raced = api.get(f"/v1/campaigns/{early['campaign_id']}/runs", token=merchant.token).json["items"][0]["progress"]
    assert sorted([p["succeeded"], raced["succeeded"]]) == [0, 1]
    assert {**p["suppressed"], **raced["suppressed"]} == {"quota_audience_daily": 1}


def _activate(api: Any, merchant: Any, body: dict[str, Any]) -> Any:
    cid = api.post("/v1/campaigns", body, token=merchant.token).json["campaign_id"]
    return api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token)


def test_an_audience_quota_of_two_sends_a_day_lets_two_racing_runs_send_and_suppresses_the_third(
        api, merchant, clock, runtime):
    seed_customers(api, merchant, ["a4"], consent=CONSENT)
    put_settings(api, merchant, audience_sends_per_day=2, weekly_store_coupons_per_customer=10)
    coupon = make_coupon(api, merchant)
    target = {"kind": "customers", "customer_ids": ["a4"]}
    clock.set(DAYTIME)
    raced = [api.post("/v1/campaigns", campaign_body(coupon, target, name=f"raced {i}"), token=merchant.token)
             .json["campaign_id"] for i in range(2)]
    for cid in raced:  # activated before any ran: admission cannot see them, the day's slot item decides
        assert api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token).status == 200
    p = send(api, merchant, runtime, clock, campaign_body(coupon, target, name="third"), DAYTIME)
    progress = [p] + [api.get(f"/v1/campaigns/{cid}/runs", token=merchant.token).json["items"][0]["progress"]
                      for cid in raced]
    assert sorted(x["succeeded"] for x in progress) == [0, 1, 1]
    assert [x["suppressed"] for x in progress if not x["succeeded"]] == [{"quota_audience_daily": 1}]
    refused = _activate(api, merchant, campaign_body(coupon, target, name="fourth"))
    assert refused.status == 429 and "at most 2" in refused.json["error"]["message"]
