"""Chapter: SMS through SNS (moto), a signed webhook to a real HTTP server on loopback, staff follow-up tasks."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib import wiring
from chalicelib.core.config import get_config
from chalicelib.core.egress import PUBLIC, EgressPolicy
from infra.local.story.base import TASK_STAFF, Ctx, progress_text

SECRET = "whsec_demo_0123456789abcdef"


class Receiver:
    """The merchant's webhook endpoint: checks X-Signature (HMAC-SHA256 of "<timestamp>.<body>") on every POST."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stamp = self.headers.get("X-Timestamp") or ""
                expected = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body,
                                                hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(expected, self.headers.get("X-Signature") or "")
                receiver.posts.append({"valid": valid, "doc": json.loads(body) if valid else None,
                                       "delivery_id": self.headers.get("X-Delivery-Id")})
                self.send_response(200 if valid else 401)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:  # keep the story's output readable
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/marketing-hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sms_published() -> list[tuple[str, str]]:
    """(phone, text) of every SMS moto's SNS backend accepted (the local stand-in for the carrier)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    messages = sns_backends[DEFAULT_ACCOUNT_ID][get_config().region].sms_messages
    return [(str(phone), str(text)) for phone, text in messages.values()]


def chapter(ctx: Ctx) -> None:
    story = ctx.story
    ctx.at(ctx.local(0, "09:45"))
    story.section(f"Channels (触达渠道) at {ctx.wall()}: SMS via SNS, signed webhook, staff follow-up tasks")
    _sms(ctx)
    _webhook(ctx)
    _staff(ctx)


def _sms(ctx: Ctx) -> None:
    story = ctx.story
    targets = ctx.pick(12)
    consenting = [c for c in targets if ctx.customer(c)["consent"]["sms"]]
    opted_out = [c for c in consenting if ctx.customer(c)["phone"].endswith("99")]  # moto's opted-out numbers
    before = len(sms_published())
    cid = ctx.campaign({"name": "短信·新品到店", "target": {"kind": "customers", "customer_ids": targets},
                        "action": {"channel": "sms", "content_id": ctx.ids["content.plain"]},
                        "schedule": {"kind": "once", "at": None}})
    ctx.tick(ctx.now)
    run = ctx.runs(cid)[0]
    published = sms_published()[before:]
    story.line(f"SMS campaign {cid} to {len(targets)} customers ({len(consenting)} consent to SMS):")
    story.line("  " + progress_text(run))
    story.line(f"  moto SNS accepted {len(published)} SMS, e.g. {published[0][0][:6]}…: “{published[0][1]}”"
               if published else "  moto SNS accepted no SMS")
    p = run["progress"]
    story.expect(len(published) == p["succeeded"] == len(consenting) - len(opted_out) > 0,
                 "every consenting customer got one SMS through SNS publish (opted-out numbers skipped)")
    story.expect(p["suppressed"].get("no_consent", 0) == len(targets) - len(consenting),
                 "customers without SMS consent are suppressed as no_consent, never sent")


def _webhook(ctx: Ctx) -> None:
    story = ctx.story
    receiver = Receiver()
    # Webhooks reach public HTTPS addresses only; the demo's receiver is on loopback, so the demo wires the
    # test-only allow-list for 127.0.0.1 (code, not a setting: no API call can widen it).
    wiring.set_egress_policy(EgressPolicy.allowing("127.0.0.1/32"))
    story.line("egress: webhooks go to public HTTPS addresses only; this local demo allows its loopback receiver")
    try:
        settings = ctx.api.get("/v1/settings", token=ctx.token)
        doc = {k: settings.json[k] for k in ("store_name", "timezone", "quiet_hours", "guardrails", "rfm",
                                             "email_sender", "sms_sender_id", "claim_url", "unsubscribe_url")}
        put = ctx.api.put("/v1/settings", {**doc, "webhook_url": receiver.url, "webhook_secret": SECRET},
                          token=ctx.token, headers={"If-Match": settings.headers.get("etag", "")})
        if put.status != 200:
            story.expect(False, f"PUT /v1/settings with the webhook URL answered {put.status}: {put.text[:200]}")
            return
        story.line(f"settings: webhook_url {receiver.url} with a secret (stored; GET shows only webhook_secret_set="
                   f"{put.json['webhook_secret_set']})")
        targets = ctx.pick(8)
        cid = ctx.campaign({"name": "Webhook·会员关怀", "target": {"kind": "customers", "customer_ids": targets},
                            "action": {"channel": "webhook", "content_id": ctx.ids["content.plain"],
                                       "coupons": [{"coupon_id": ctx.ids["coupon.item"]}]},
                            "schedule": {"kind": "once", "at": None}})
        ctx.tick(ctx.now + timedelta(minutes=1))
        run = ctx.runs(cid)[0]
        deliveries = [d for post in receiver.posts if post["valid"] for d in post["doc"]["deliveries"]]
        story.line(f"webhook campaign {cid} to {len(targets)} customers: {len(receiver.posts)} POST(s) received, "
                   f"{sum(p['valid'] for p in receiver.posts)} with a valid X-Signature, {len(deliveries)} deliveries")
        if deliveries:
            d = deliveries[0]
            story.line(f"  first delivery: {d['customer']['customer_id']} “{d['text']}” coupons "
                       + ", ".join(f"{c['name']} {c['instance_id']}" for c in d["coupons"]))
        story.line("  " + progress_text(run))
        story.expect(bool(receiver.posts) and all(p["valid"] for p in receiver.posts),
                     "the receiver verified the X-Signature HMAC-SHA256 of every POST")
        story.expect(sorted(d["customer"]["customer_id"] for d in deliveries) == sorted(targets)
                     and run["progress"]["succeeded"] == len(targets),
                     "each target was delivered once, with its coupon, and the run counts them succeeded")
    finally:
        receiver.close()
        wiring.set_egress_policy(PUBLIC)


def _staff(ctx: Ctx) -> None:
    story = ctx.story
    friends = [c["customer_id"] for c in ctx.sample.customers if c["staff_owner"] == TASK_STAFF]
    cid = ctx.campaign({"name": "导购回访·赵", "target": {"kind": "staff_friends", "staff_ids": [TASK_STAFF]},
                        "action": {"channel": "staff_task", "content_id": ctx.ids["content.plain"]},
                        "schedule": {"kind": "once", "at": None}})
    ctx.tick(ctx.now + timedelta(minutes=1))
    run = ctx.runs(cid)[0]
    zhao = ctx.post("/v1/keys", {"role": "staff", "staff_id": TASK_STAFF, "label": "赵导购"})["api_key"]
    li = ctx.post("/v1/keys", {"role": "staff", "staff_id": "staff_li", "label": "李导购"})["api_key"]
    tasks = ctx.get("/v1/staff/tasks?status=open&limit=200", token=zhao)["items"]
    seen_by_li = ctx.get("/v1/staff/tasks?limit=200", token=li)["items"]
    story.line(f"staff-task campaign {cid} to staff_zhao's {len(friends)} friends: " + progress_text(run))
    story.line(f"staff_zhao's key lists {len(tasks)} open tasks; staff_li's key lists {len(seen_by_li)}")
    story.expect(len(tasks) == len(friends) > 0 and all(t["staff_id"] == TASK_STAFF for t in tasks),
                 "the staff owner sees one task per friend, and only their own")
    if not tasks:
        return
    task = tasks[0]
    story.line(f"  task {task['task_id']} for {task['customer_id']} ({task['phone']}): “{task['script']}”")
    ctx.call("POST", f"/v1/staff/tasks/{task['task_id']}/complete", {"outcome": "reached"}, token=li, expect=(404,))
    done = ctx.post(f"/v1/staff/tasks/{task['task_id']}/complete",
                    {"outcome": "reached", "note": "电话已联系，周末到店"}, token=zhao)
    story.line(f"  staff_li cannot complete it (404); staff_zhao completes it → {done['status']} "
               f"({done['outcome']}: {done['note']})")
    story.expect(done["status"] == "done" and not seen_by_li, "completed by its owner; invisible to other staff")
