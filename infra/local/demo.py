"""`make demo`: the local stack on moto, a sample merchant, and the story as far as the system goes."""

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

import moto  # noqa: E402  - before any client exists

N_CUSTOMERS = int(os.environ.get("DEMO_CUSTOMERS", "3000"))


class Story:
    """Prints each step of the demo with what it did."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.step = 0

    def section(self, title: str) -> None:
        self.step += 1
        print(f"\n== {self.step}. {title}  (+{time.monotonic() - self.started:.1f}s)")

    def line(self, text: str) -> None:
        print(f"   {text}")


def _ok(response: Any, what: str) -> Any:
    if response.status >= 300:
        print(f"   !! {what} failed: {response.status} {response.text[:500]}")
        sys.exit(1)
    return response.json


def _batched(api: Any, token: str, path: str, items: list[dict[str, Any]],
             after: Callable[[], None] | None = None) -> tuple[int, int]:
    accepted = rejected = 0
    for start in range(0, len(items), 500):
        body = _ok(api.post(path, {"items": items[start:start + 500]}, token=token), path)
        accepted += body["accepted"]
        rejected += body["rejected"]
        if after:
            after()
    return accepted, rejected


def run() -> None:
    from chalicelib import wiring
    from infra.local.gateway import ApiClient
    from infra.local.runtime import LocalRuntime
    from infra.local.sample import demo_now, generate

    import app as handlers

    story = Story()
    now = demo_now()
    story.section("Local stack: moto in-process, tables / queues / stream provisioned")
    runtime = LocalRuntime(handlers, now=now)
    runtime.set_time(now)
    api = ApiClient(handlers.app)
    story.line(f"tables and queues: {', '.join(sorted(runtime.urls))}")

    story.section("Merchant created with `python -m chalicelib.admin create-merchant` (same code path)")
    merchant, issued = wiring.tenancy_service().create_merchant("鲜果小铺 Fresh Fruit", "Asia/Shanghai")
    token = issued.token
    story.line(f"merchant_id={merchant.merchant_id}  admin key={token[:28]}…")
    settings = _ok(api.get("/v1/settings", token=token), "settings")
    g = settings["guardrails"]
    story.line(f"time zone {settings['timezone']}, quiet hours {settings['quiet_hours']['start']}-"
               f"{settings['quiet_hours']['end']}, ≤{g['daily_messages_per_customer']} message/day, "
               f"{g['coupon_message_cooldown_days']}-day cooldown, {g['monthly_store_coupons']} store coupons/month")
    operator = _ok(api.post("/v1/keys", {"role": "operator", "label": "campaign desk"}, token=token), "key")
    story.line(f"operator key {operator['key_id']} created; keys are stored only as SHA-256 hashes")

    story.section(f"Sample data: {N_CUSTOMERS} customers with a year of orders and behaviour")
    sample = generate(N_CUSTOMERS, now)
    c_ok, c_bad = _batched(api, token, "/v1/customers/batch", sample.customers)
    o_ok, o_bad = _batched(api, token, "/v1/orders/batch", sample.orders, runtime.drain)
    e_ok, e_bad = _batched(api, token, "/v1/events/batch", sample.events, runtime.drain)
    stats = runtime.drain()
    story.line(f"customers {c_ok} accepted / {c_bad} rejected; orders {o_ok}/{o_bad}; events {e_ok}/{e_bad}")
    story.line(f"activity stream consumer settled (last drain: {stats.stream_records} records, "
               f"{stats.stream_failures} failures)")
    sample_customer = _ok(api.get("/v1/customers/c00007", token=token), "customer")
    m = sample_customer["metrics"]
    story.line(f"c00007: phone {sample_customer['profile']['phone']}, {m['orders_total']} purchases, "
               f"spend {m['spend_total'] / 100:.2f} yuan, {m['orders_30d']} in 30 d, "
               f"{m['days_since_last_order']} days since the last one")

    for chapter in CHAPTERS:
        chapter(story, api, runtime, token, now)
    story.section("Done")
    story.line(f"the whole story took {time.monotonic() - story.started:.1f}s")


CHAPTERS: list[Callable[[Story, Any, Any, str, Any], None]] = []


def main() -> int:
    with moto.mock_aws():
        run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
