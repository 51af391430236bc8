"""The offline deploy's story: merchant, customers, a campaign, tick, dispatch, an attributed order."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.clock import to_iso


def _tick(lam: Any, lambdas: Any, when: datetime) -> Any:
    """What the stack's EventBridge rule does every minute: invoke its target with a scheduled event."""
    import boto3

    events = boto3.client("events")
    (rule,) = [r for r in events.list_rules()["Rules"] if r.get("ScheduleExpression") == "rate(1 minute)"]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
             "account": rule["Arn"].split(":")[4], "time": to_iso(when), "region": "us-east-1",
             "resources": [rule["Arn"]], "detail": {}}
    return lambdas.invoke(target["Arn"], event)


def _counts(physical: dict[str, str]) -> dict[str, Any]:
    import boto3

    from chalicelib.core.resources import QUEUES, TABLES, logical_id

    ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    items = {t.name: ddb.scan(TableName=physical[logical_id(t.name, "Table")], Select="COUNT")["Count"]
             for t in TABLES}
    queues = {}
    for name in [q.name for q in QUEUES] + [q.dlq_name for q in QUEUES] + ["activity-stream-dlq"]:
        lid = logical_id(name[:-4], "DeadLetterQueue") if name.endswith("-dlq") else logical_id(name, "Queue")
        attributes = sqs.get_queue_attributes(QueueUrl=physical[lid], AttributeNames=["All"])["Attributes"]
        queues[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"])
    return {"table_items": items, "queue_messages": queues}


def run_story(cfn: Any, lam: Any, physical: dict[str, str], lambdas: Any, now: datetime,
              customers: list[str]) -> dict[str, Any]:
    from chalicelib import admin, wiring
    from infra.local.gateway import ApiClient

    clock = {"now": now}
    wiring.set_clock(lambda: clock["now"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert admin.main(["--stack", "mkt-story", "create-merchant", "--name", "Story Store"]) == 0
    token = json.loads(out.getvalue())["api_key"]
    (api_function,) = [arn for arn, c in lambdas.functions.items() if c["Handler"] == "app.app"]
    api = ApiClient(lambdas.handler(api_function))
    facts: dict[str, Any] = {}

    def call(method: str, path: str, body: Any = None) -> Any:
        response = api.request(method, path, body, token=token)
        assert response.status in (200, 201), (method, path, response.status, response.text[:300])
        return response.json

    facts["unauthenticated_status"] = api.request("GET", "/v1/campaigns", token="mkt.m_x.k_y.zzz").status
    call("POST", "/v1/customers/batch", {"items": [{"customer_id": c, "nickname": f"n{c}"} for c in customers]})
    coupon = call("POST", "/v1/coupons", {
        "name": "10 off 50", "kind": "store_threshold", "threshold_fen": 5000, "discount_fen": 1000,
        "validity": {"kind": "relative", "days": 30}, "claim_window": {"kind": "any_time"}, "stock": 1000})["coupon_id"]
    campaign = call("POST", "/v1/campaigns", {
        "name": "story", "target": {"kind": "customers", "customer_ids": customers},
        "action": {"channel": "wallet", "coupons": [{"coupon_id": coupon, "quantity": 1}]},
        "schedule": {"kind": "once", "at": None}, "attribution_window_days": 7})["campaign_id"]
    call("POST", f"/v1/campaigns/{campaign}/activate")
    facts["tick"] = _tick(lam, lambdas, now)  # → plan queue → plan_worker → dispatch queue → dispatch_worker
    runs = call("GET", f"/v1/campaigns/{campaign}/runs")["items"]
    facts["progress"] = runs[0]["progress"] if runs else None
    clock["now"] = now + timedelta(minutes=1)
    _tick(lam, lambdas, clock["now"])  # the tick after the last chunk completes the run
    facts["run_status"] = call("GET", f"/v1/runs/{runs[0]['run_id']}")["status"] if runs else None
    facts["campaign_status"] = call("GET", f"/v1/campaigns/{campaign}")["status"]
    facts["coupons_held"] = len(call("GET", f"/v1/customers/{customers[0]}/coupons")["items"])
    clock["now"] = now + timedelta(minutes=40)
    order = {"order_id": "story-o1", "customer_id": customers[0], "paid_at": to_iso(now + timedelta(minutes=30)),
             "amount_fen": 6800, "discount_fen": 0, "items": [{"item_id": "sku_1", "quantity": 1, "price_fen": 6800}]}
    facts["order_accepted"] = call("POST", "/v1/orders/batch", {"items": [order]})["accepted"]  # → stream → consumer
    report = call("GET", f"/v1/campaigns/{campaign}/report")
    facts["report_revenue"] = report["revenue"]
    facts["report_funnel"] = report["funnel"]
    facts.update(_counts(physical))
    facts["mappings"] = sorted((m["EventSourceArn"].split(":")[5].split("/")[0 if "sqs" in m["EventSourceArn"] else 1],
                                m["FunctionArn"].rsplit(":", 1)[-1], m["State"])
                               for m in lam.list_event_source_mappings()["EventSourceMappings"])
    return facts
