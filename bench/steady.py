"""Steady state for the benches: customers reached by three campaigns most days for 90 days, orders attributed.

The history runs through the real delivery path (each send a run and its chunk, delivered by the dispatch worker;
orders through the API and the activity stream with its hooks) for a few template customers, so their contact
items are whatever the product writes after 90 days; then every
other customer's contact item is a copy of a template's (only the key differs). The three campaigns: a wallet
item coupon (attribution window 7 days) and two SMS messages without coupons (14 and 30 days), each sending on
about 85 % of the days at 10:00, 10:05 and 10:10 local time; the templates order every fifth day at 12:00.
The merchant allows what that takes (3 marketing messages a day, 7 item coupons a week); every guardrail stays on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

HISTORY_DAYS = int(os.environ.get("BENCH_HISTORY_DAYS", "90"))
TEMPLATES = 40
REACH_SHARE = 0.85
ORDER_EVERY_DAYS = 5
CAMPAIGNS = (("history wallet item coupon", "wallet", 7, 0), ("history sms A", "sms", 14, 5),
             ("history sms B", "sms", 30, 10))


def fresh_watermark(now: datetime) -> None:
    """The tick caught up to the minute before `now` (no catch-up reads of other minutes)."""
    from chalicelib.core.clock import to_iso
    from chalicelib.dispatch.store import DispatchItem

    DispatchItem("_system", "TICK", due_at=to_iso(now - timedelta(minutes=1))).save()


def _sends(campaign: str, day: int) -> bool:
    digest = hashlib.sha256(f"{campaign}:{day}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 1000 < REACH_SHARE * 1000


def _relax(api: Any, token: str, recipients: int) -> None:
    settings = api.get("/v1/settings", token=token).json
    doc = {k: settings[k] for k in ("store_name", "timezone", "quiet_hours", "guardrails", "rfm")}
    doc["guardrails"].update(daily_messages_per_customer=3, weekly_item_coupons_per_customer=7,
                             monthly_store_coupons=max(recipients, doc["guardrails"]["monthly_store_coupons"]),
                             monthly_item_coupons=max(1_000_000, doc["guardrails"]["monthly_item_coupons"]))
    r = api.put("/v1/settings", doc, token=token, headers={"If-Match": str(settings["version"])})
    assert r.status == 200, r.json


def _deliver(merchant_id: str, campaign_id: str, recipients: list[Any], at: datetime) -> None:
    """One history send: a run and its chunk as the plan writes them, delivered by the real dispatch worker."""
    from chalicelib import wiring
    from chalicelib.core.clock import to_iso
    from chalicelib.core.dynamo import commit
    from chalicelib.dispatch.model import Chunk, Run, RunStatus, run_id_for
    from chalicelib.dispatch.snapshot import view

    record = wiring.repo("CAMPAIGN").get(merchant_id, campaign_id)
    assert record is not None
    run = Run(merchant_id, run_id_for(merchant_id, campaign_id, at), campaign_id, at, record.data, RunStatus.SENDING,
              planned=len(recipients), chunks_total=1, segments_total=1, segments_done=1, started_at=to_iso(at))
    chunk = Chunk(merchant_id, run.run_id, "0000000", recipients, campaign_id=campaign_id)
    if hasattr(chunk, "grants"):  # the compact ledger derives coupon ids from the campaign's grants
        chunk.grants = tuple((g.coupon_id, g.quantity) for g in view(campaign_id, None, record.data).coupons)
    store = wiring.run_store()
    commit([store.put_run_op(run), store.put_chunk_op(chunk, at)])
    outcome = wiring.deliver_service().deliver_chunk(merchant_id, run.run_id, chunk.chunk_id, "history", 1, at)
    assert outcome == "done", outcome


def build_history(api: Any, token: str, merchant_id: str, runtime: Any, templates: list[str], start: datetime,
                  progress: Callable[[str], None] = print) -> None:
    """90 days of history for `templates` ending the day before `start` (an aware instant of 10:00 local).

    Planning is not part of what is measured: each send is its run and one chunk, written as the plan writes
    them and delivered by the dispatch worker; orders go through the API and the activity stream.
    """
    from chalicelib.dispatch.model import Recipient

    coupon = api.post("/v1/coupons", {"name": "history item", "kind": "item_discount", "percent_off": 10,
                                      "item_ids": ["sku1"], "validity": {"kind": "relative", "days": 30},
                                      "claim_window": {"kind": "any_time"}, "stock": 10_000_000}, token=token)
    assert coupon.status == 201, coupon.json
    content = api.post("/v1/contents", {"name": "history", "text": "hello"}, token=token)
    assert content.status == 201, content.json
    later = (start + timedelta(days=400)).date().isoformat()  # the schedule never fires: the history drives it
    campaigns = []
    for name, channel, window, _ in CAMPAIGNS:
        action: dict[str, Any] = {"channel": channel, "coupons": [
            {"coupon_id": coupon.json["coupon_id"], "quantity": 1}] if channel == "wallet" else []}
        if channel != "wallet":
            action["content_id"] = content.json["content_id"]
        body = {"name": name, "target": {"kind": "customers", "customer_ids": templates}, "action": action,
                "schedule": {"kind": "recurring", "frequency": "daily", "time": "10:00", "start_date": later},
                "attribution_window_days": window}
        created = api.post("/v1/campaigns", body, token=token)
        assert created.status == 201, created.json
        cid = created.json["campaign_id"]
        assert api.post(f"/v1/campaigns/{cid}/activate", token=token).status == 200
        campaigns.append(cid)
    recipients = [Recipient(c, nickname=f"n{c}", phone="+8613800000000", consent=frozenset({"wallet", "sms"}))
                  for c in templates]
    for day in range(HISTORY_DAYS, 0, -1):
        morning = start - timedelta(days=day)
        for cid, (name, _, _, offset) in zip(campaigns, CAMPAIGNS, strict=True):
            if _sends(name, day):
                _deliver(merchant_id, cid, recipients, morning + timedelta(minutes=offset))
        if day % ORDER_EVERY_DAYS == 0:
            paid = morning + timedelta(hours=2)
            runtime.set_time(paid + timedelta(minutes=1))
            orders = [{"order_id": f"h{day}-{c}", "customer_id": c, "paid_at": paid.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "amount_fen": 4200, "status": "paid"} for c in templates]
            r = api.post("/v1/orders/batch", {"items": orders}, token=token)
            assert r.status == 200 and r.json["rejected"] == 0, r.json
            runtime.drain()
        if day % 30 == 0:
            progress(f"  history: {HISTORY_DAYS - day} of {HISTORY_DAYS} days")


def clone_contacts(merchant_id: str, templates: list[str], customers: list[str]) -> int:
    """Every customer's contact item becomes a copy of a template's (assigned round-robin); returns the copies."""
    from chalicelib import wiring
    from chalicelib.core.config import get_config
    from chalicelib.dispatch.model import contact_key

    client = wiring.client("dynamodb")
    table = get_config().table("dispatch")
    sources = []
    for template in templates:
        pk, sk = contact_key(merchant_id, template)
        item = client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
        assert "Item" in item, f"template {template} has no contact item"
        sources.append(item["Item"])
    others = [c for c in customers if c not in set(templates)]
    puts = []
    for i, customer in enumerate(others):
        pk, sk = contact_key(merchant_id, customer)
        puts.append({"PutRequest": {"Item": dict(sources[i % len(sources)], pk={"S": pk}, sk={"S": sk})}})
    for begin in range(0, len(puts), 25):
        request: dict[str, Any] = {table: puts[begin:begin + 25]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    return len(puts)


def steady_state(api: Any, token: str, merchant_id: str, runtime: Any, customers: list[str], start: datetime,
                 recipients: int, progress: Callable[[str], None] = print) -> None:
    """The merchant's customers at steady state before a send at `start`."""
    _relax(api, token, recipients)
    templates = customers[:TEMPLATES]
    build_history(api, token, merchant_id, runtime, templates, start, progress)
    copies = clone_contacts(merchant_id, templates, customers)
    progress(f"  steady state: {len(templates)} templates after {HISTORY_DAYS} days, {copies:,} contact items copied")
