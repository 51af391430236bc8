"""Helpers shared by the dispatch integration tests (customers, coupons, campaigns, wallet counts, ledgers)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from chalicelib import wiring
from chalicelib.coupons.store import WalletItem
from chalicelib.dispatch.model import Entry
from chalicelib.dispatch.store import RunStore


def seed_customers(api: Any, merchant: Any, ids: list[str], **profile: Any) -> None:
    for start in range(0, len(ids), 500):
        items = [{"customer_id": c, "nickname": f"n{c}", "phone": "+8613800000000", **profile}
                 for c in ids[start:start + 500]]
        r = api.post("/v1/customers/batch", {"items": items}, token=merchant.token)
        assert r.status == 200, r


RELAXED = {"daily_messages_per_customer": 100, "coupon_message_cooldown_days": 0,
           "weekly_store_coupons_per_customer": 100, "weekly_item_coupons_per_customer": 100,
           "inbox_messages_per_day": 100, "monthly_store_coupons": 10_000_000, "monthly_item_coupons": 10_000_000,
           "audience_sends_per_day": 1000, "audience_sends_per_month": 10_000}


def relax_guardrails(api: Any, token: str, **limits: int) -> None:
    """For tests where several campaigns reach the same customers on one day: lift the frequency limits
    (the guardrails' own tests cover them), keeping the ones a test sets. Before the first send: workers
    cache settings for a minute."""
    r = api.put("/v1/settings", {"guardrails": {**RELAXED, **limits}}, token=token)
    assert r.status == 200, r


def make_coupon(api: Any, merchant: Any, stock: int = 100_000, **extra: Any) -> str:
    body = {"name": "10 off", "kind": "store_threshold", "threshold_fen": 5000, "discount_fen": 1000,
            "validity": {"kind": "relative", "days": 30}, "claim_window": {"kind": "any_time"}, "stock": stock,
            **extra}
    r = api.post("/v1/coupons", body, token=merchant.token)
    assert r.status == 201, r
    return str(r.json["coupon_id"])


def campaign_body(coupon_id: str | None, target: dict[str, Any], schedule: dict[str, Any] | None = None,
                  channel: str = "wallet", **extra: Any) -> dict[str, Any]:
    action: dict[str, Any] = {"channel": channel, "coupons": [{"coupon_id": coupon_id, "quantity": 1}]
                              if coupon_id else []}
    if channel not in ("wallet", "webhook"):
        action["content_id"] = extra.pop("content_id")
    return {"name": "campaign", "target": target, "action": action,
            "schedule": schedule or {"kind": "once", "at": None}, **extra}


WEBHOOK = {"webhook_url": "https://hooks.example.com/marketing", "webhook_secret": "s3cret-s3cret-s3cret"}


def webhook_configured(api: Any, token: str) -> None:
    """The merchant's webhook endpoint set (activation refuses a webhook campaign without one); tests that send
    through a recording double of the webhook channel still need the setting."""
    current = api.get("/v1/settings", token=token).json
    if current.get("webhook_url"):
        return
    keep = ("store_name", "timezone", "quiet_hours", "guardrails", "rfm", "email_sender", "sms_sender_id",
            "claim_url", "unsubscribe_url")
    r = api.put("/v1/settings", {**{k: current[k] for k in keep if k in current}, **WEBHOOK}, token=token)
    assert r.status == 200, r


def start_campaign(api: Any, merchant: Any, body: dict[str, Any]) -> str:
    if (body.get("action") or {}).get("channel") == "webhook":
        webhook_configured(api, merchant.token)
    r = api.post("/v1/campaigns", body, token=merchant.token)
    assert r.status == 201, r
    cid = str(r.json["campaign_id"])
    r = api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token)
    assert r.status == 200, r
    return cid


def settle(runtime: Any, now: datetime) -> None:
    """One tick at `now`, everything delivered, then a tick a minute later (run completion)."""
    runtime.tick(now)
    runtime.drain()


def wallet_counts(merchant_id: str, customer_ids: list[str]) -> dict[str, int]:
    """Coupon instances per customer, from the wallet table (every instance, whatever its status)."""
    counts = dict.fromkeys(customer_ids, 0)
    for cid in customer_ids:
        for item in WalletItem.by_owner.query(f"{merchant_id}#{cid}"):
            if item.kind == "CI":
                counts[cid] += 1
    return counts


def ledger_of(merchant_id: str, run_id: str) -> dict[str, Entry]:
    """The run's ledger from its chunks; nobody may sit in two chunks."""
    chunks = RunStore().chunks_of(merchant_id, run_id)
    ids = [r.customer_id for c in chunks for r in c.recipients]
    assert len(ids) == len(set(ids)), Counter(ids).most_common(3)
    assert {c for chunk in chunks for c in chunk.ledger} == set(ids)
    return {c: e for chunk in chunks for c, e in chunk.ledger.items()}


def runs_of(api: Any, merchant: Any, campaign_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/campaigns/{campaign_id}/runs", token=merchant.token)
    assert r.status == 200, r
    return list(r.json["items"])


def lifecycle() -> Any:
    return wiring.dispatch_lifecycle()


def set_watermark(at: datetime) -> None:
    """Tests jump in time: put the tick's watermark just before `at` so catch-up reads only a few buckets."""
    from datetime import timedelta

    from chalicelib.core.clock import to_iso
    from chalicelib.dispatch.model import minute_of
    from chalicelib.dispatch.store import DispatchItem

    DispatchItem("_system", "TICK", due_at=to_iso(minute_of(at) - timedelta(minutes=1))).save()


def tick_and_drain(runtime: Any, at: datetime) -> Any:
    """A tick at `at` that catches up the 15 minutes before it (as if the tick had been down), then a drain."""
    from datetime import timedelta

    set_watermark(at - timedelta(minutes=15))
    runtime.tick(at)
    return runtime.drain()


class RecordingChannel:
    """A channel double: records each (run, customer) it is handed; raises for `poison` customers."""

    idempotent = True

    def __init__(self, poison: frozenset[str] = frozenset()) -> None:
        self.sent: list[tuple[str, str]] = []
        self.poison = poison

    def send(self, merchant_id, campaign, run_id, recipients, instances, now):
        if any(r.customer_id in self.poison for r in recipients):
            raise RuntimeError("poison recipient")
        self.sent += [(run_id, r.customer_id) for r in recipients]
        return {r.customer_id: None for r in recipients}
