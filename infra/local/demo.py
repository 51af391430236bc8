"""`make demo`: the local stack on moto, a sample merchant, and the product's story told through its HTTP API."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
os.environ.setdefault("MKT_PREFIX", "demo")
# Lambda ships EMF metrics and JSON logs through stdout; locally they would bury the story's output.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import moto

# Measured: 2,000 customers with a year of orders tell the whole story in 3.6 minutes on a quiet core (600 in
# 1.6 minutes); moto's request handling, not the product, dominates. DEMO_CUSTOMERS overrides.
N_CUSTOMERS = int(os.environ.get("DEMO_CUSTOMERS", "2000"))


def _batched(ctx: Any, path: str, items: list[dict[str, Any]],
             after: Callable[[], object] | None = None) -> tuple[int, int]:
    accepted = rejected = 0
    for start in range(0, len(items), 500):
        body = ctx.post(path, {"items": items[start:start + 500]})
        accepted += body["accepted"]
        rejected += body["rejected"]
        if after:
            after()
    return accepted, rejected


def run() -> int:
    """The whole story; the exit status: 0 when everything it relies on happened."""
    import app as handlers
    from chalicelib import wiring
    from infra.local.gateway import ApiClient
    from infra.local.runtime import LocalRuntime
    from infra.local.sample import Sample, demo_now, generate
    from infra.local.story import CHAPTERS
    from infra.local.story.base import Ctx, Story, StoryAborted

    story = Story()
    now = demo_now()
    story.section("Local stack: moto in-process, tables / queues / stream provisioned")
    runtime = LocalRuntime(handlers, now=now)
    runtime.set_time(now)
    api = ApiClient(handlers.app)
    story.line(f"tables and queues: {', '.join(sorted(runtime.urls))}")

    story.section("Merchant created with `python -m chalicelib.admin create-merchant` (same code path)")
    merchant, issued = wiring.tenancy_service().create_merchant("鲜果小铺 Fresh Fruit", "Asia/Shanghai")
    ctx = Ctx(story, api, runtime, issued.token, merchant.merchant_id, Sample(), now, now)
    try:
        settings = ctx.get("/v1/settings")
        g = settings["guardrails"]
        story.line(f"merchant_id={merchant.merchant_id}  admin key={issued.token[:28]}…")
        story.line(f"time zone {settings['timezone']}, quiet hours {settings['quiet_hours']['start']}-"
                   f"{settings['quiet_hours']['end']}, ≤{g['daily_messages_per_customer']} message/day, "
                   f"{g['coupon_message_cooldown_days']}-day cooldown, {g['monthly_store_coupons']} store "
                   "coupons/month")
        links = {"claim_url": "https://fresh-fruit.example/claim?coupon={instance_id}",
                 "unsubscribe_url": "https://fresh-fruit.example/unsubscribe?c={customer_id}&ch={channel}"}
        doc = {k: settings[k] for k in ("store_name", "timezone", "quiet_hours", "guardrails", "rfm")} | links
        put = api.put("/v1/settings", doc, token=issued.token, headers={"If-Match": f'"{settings["version"]}"'})
        story.expect(put.status == 200, f"PUT /v1/settings sets the store's pages ({put.status})")
        story.line(f"the store's claim and unsubscribe pages set: {links['claim_url']}")
        operator = ctx.post("/v1/keys", {"role": "operator", "label": "campaign desk"})
        story.line(f"operator key {operator['key_id']} created; keys are stored only as SHA-256 hashes")

        story.section(f"Sample data: {N_CUSTOMERS} customers with a year of orders and behaviour "
                      f"(the demo's clock: {ctx.wall()} Asia/Shanghai)")
        ctx.sample = generate(N_CUSTOMERS, now)
        c_ok, c_bad = _batched(ctx, "/v1/customers/batch", ctx.sample.customers)
        o_ok, o_bad = _batched(ctx, "/v1/orders/batch", ctx.sample.orders, runtime.drain)
        e_ok, e_bad = _batched(ctx, "/v1/events/batch", ctx.sample.events, runtime.drain)
        stats = runtime.drain()
        story.line(f"customers {c_ok} accepted / {c_bad} rejected; orders {o_ok}/{o_bad}; events {e_ok}/{e_bad}")
        story.expect(c_bad == o_bad == e_bad == 0 and not runtime.stream_dead_letters,
                     f"everything ingested and folded by the activity stream consumer "
                     f"({len(runtime.stream_dead_letters)} stream records set aside, last drain {stats.rounds} "
                     "round(s))")
        shown = ctx.get("/v1/customers/c00007")
        m = shown["metrics"]
        story.line(f"c00007: phone {shown['profile']['phone']} (masked), {m['orders_total']} purchases, spend "
                   f"{m['spend_total'] / 100:.2f} yuan, {m['orders_30d']} in 30 d, {m['days_since_last_order']} days "
                   "since the last one")

        for chapter in CHAPTERS:
            chapter(ctx)
    except StoryAborted as exc:
        story.failures.append(str(exc))
        print(f"\n   !! the story stopped: {exc}", flush=True)
    story.section("Done")
    story.line(f"the whole story took {time.monotonic() - story.started:.1f}s")
    for what in story.failures:
        story.line(f"FAILED: {what}")
    story.line(f"{len(story.failures)} failure(s)")
    return 1 if story.failures else 0


def main() -> int:
    # The moto the tests run (devtools.fastmoto: stock moto's answers, without its per-item table copies and
    # whole-table sorts). It patches moto only: every product code path stays the one Lambda runs.
    from devtools import fastmoto

    fastmoto.install()
    with moto.mock_aws():
        return run()


if __name__ == "__main__":
    sys.exit(main())
