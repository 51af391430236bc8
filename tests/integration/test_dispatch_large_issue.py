"""The largest issue a campaign accepts is delivered whole: every item of the worst-case transaction fits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib import wiring
from chalicelib.campaigns.checks import max_coupon_units
from chalicelib.core.config import get_config
from chalicelib.core.itemsize import typed_item_size
from chalicelib.dispatch.model import Outcome
from chalicelib.dispatch.store import run_pk
from tests.support.dispatch import (
    campaign_body,
    ledger_of,
    make_coupon,
    relax_guardrails,
    runs_of,
    seed_customers,
    start_campaign,
    tick_and_drain,
    wallet_counts,
)

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # noon in Shanghai: no quiet hours


def test_the_most_coupons_per_recipient_arrive_with_limits_stock_quotas_and_an_audience_target(
        api, merchant, clock, runtime):
    ids = [f"L{i}" for i in range(3)]
    relax_guardrails(api, merchant.token)
    seed_customers(api, merchant, ids, member_level=1)
    most = max_coupon_units(1)
    # A per-customer limit adds a counter per recipient; an audience target adds the month and day counters.
    coupon = make_coupon(api, merchant, per_customer_limit=most)
    audience = api.post("/v1/audiences", {"name": "members", "kind": "custom",
                                          "rule": {"all": [{"field": "member_level", "op": "gte", "value": 1}]}},
                        token=merchant.token)
    assert audience.status == 201, audience
    body = campaign_body(coupon, {"kind": "audience", "audience_id": audience.json["audience_id"]})
    body["action"]["coupons"][0]["quantity"] = most + 1
    assert api.post("/v1/campaigns", body, token=merchant.token).status == 400
    body["action"]["coupons"][0]["quantity"] = most
    clock.set(NOW)
    runtime.set_time(NOW)
    cid = start_campaign(api, merchant, body)
    tick_and_drain(runtime, NOW)
    runtime.tick(NOW + timedelta(minutes=1))  # the run's completion check
    runtime.drain()
    run = runs_of(api, merchant, cid)[0]
    assert run["status"] == "complete" and run["progress"]["succeeded"] == len(ids), run
    assert {e.outcome for e in ledger_of(merchant.id, run["run_id"]).values()} == {Outcome.SUCCEEDED}
    assert wallet_counts(merchant.id, ids) == dict.fromkeys(ids, most)
    # The ledger keeps no coupon ids (they derive from the delivery key): the chunk item's size follows its
    # recipients, not their coupons (90 ids per entry made a 200-recipient chunk ~481 KB, past DynamoDB's 400 KB).
    chunks = wiring.client("dynamodb").query(
        TableName=get_config().table("dispatch"), KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
        ExpressionAttributeValues={":p": {"S": run_pk(merchant.id, run["run_id"])}, ":c": {"S": "CHUNK#"}})["Items"]
    assert chunks and max(typed_item_size(c) for c in chunks) < 600 + 60 * len(ids)
