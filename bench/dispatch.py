"""Benchmark: a 20,000-recipient wallet-coupon campaign end to end on in-process moto, AWS requests per 1,000."""

from __future__ import annotations

import os
import random
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", "20000"))
TARGET_PER_1000 = 60
GUARDRAILS = os.environ.get("BENCH_GUARDRAILS", "on") != "off"


def _env() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "MKT_PREFIX": "bench",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "POWERTOOLS_METRICS_DISABLED": "true"})
    os.environ.pop("AWS_ENDPOINT_URL", None)


def _redelivering(app: Any, share: float, seed: int) -> Any:
    """The app's handlers, but a `share` of SQS messages is reported failed after being handled (redelivered)."""
    rng = random.Random(seed)

    def wrap(handler: Any) -> Any:
        def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
            result = handler(event, context) or {}
            failures = list(result.get("batchItemFailures", []))
            for record in event["Records"]:
                first = record.get("attributes", {}).get("ApproximateReceiveCount", "1") == "1"
                if first and rng.random() < share:
                    failures.append({"itemIdentifier": record["messageId"]})
            return {"batchItemFailures": failures}
        return run

    return SimpleNamespace(tick=app.tick, activity_stream=app.activity_stream, plan_worker=wrap(app.plan_worker),
                           dispatch_worker=wrap(app.dispatch_worker))


def _scenario(label: str, api: Any, counter: Any, share: float, now: datetime) -> dict[str, Any]:
    import app as handlers
    from chalicelib import wiring
    from infra.local.runtime import LocalRuntime

    merchant, issued = wiring.tenancy_service().create_merchant(f"Bench {label}")
    token = issued.token
    ids = [f"b{i:06d}" for i in range(RECIPIENTS)]
    for start in range(0, len(ids), 500):
        wiring.ingest_service().upsert_customers(merchant.merchant_id, [
            {"customer_id": c, "nickname": f"n{c}", "consent": {"wallet": True}} for c in ids[start:start + 500]])
    # Every guardrail stays on; the month's store-coupon quota (5,000 by default) is raised to fit the campaign.
    settings = api.get("/v1/settings", token=token).json
    doc = {k: settings[k] for k in ("store_name", "timezone", "quiet_hours", "guardrails", "rfm")}
    doc["guardrails"]["monthly_store_coupons"] = max(RECIPIENTS, doc["guardrails"]["monthly_store_coupons"])
    assert api.put("/v1/settings", doc, token=token, headers={"If-Match": str(settings["version"])}).status == 200
    coupon = api.post("/v1/coupons", {"name": "bench", "kind": "store_threshold", "threshold_fen": 5000,
                                      "discount_fen": 500, "validity": {"kind": "relative", "days": 30},
                                      "claim_window": {"kind": "any_time"}, "stock": 1_000_000}, token=token)
    body = {"name": "bench", "target": {"kind": "rule", "rule": {"all": [{"field": "member_level", "op": "gte",
                                                                          "value": 0}]}},
            "action": {"channel": "wallet", "coupons": [{"coupon_id": coupon.json["coupon_id"], "quantity": 1}]},
            "schedule": {"kind": "once", "at": None}}
    campaign = api.post("/v1/campaigns", body, token=token).json["campaign_id"]
    runtime = LocalRuntime(_redelivering(handlers, share, 7) if share else handlers)
    runtime.purge()
    runtime.set_time(now)
    _fresh_watermark(now)
    counter.reset()
    started = time.perf_counter()
    assert api.post(f"/v1/campaigns/{campaign}/activate", token=token).status == 200
    runtime.tick(now)
    runtime.drain()
    runtime.tick(now + timedelta(minutes=1))
    wall = time.perf_counter() - started
    counts = counter.snapshot()
    run = api.get(f"/v1/campaigns/{campaign}/runs", token=token).json["items"][0]
    return {"label": label, "counts": counts, "wall": wall, "progress": run["progress"], "status": run["status"]}


def _fresh_watermark(now: datetime) -> None:
    """Each scenario starts with the tick caught up to its minute (no catch-up reads from the previous one)."""
    from chalicelib.core.clock import to_iso
    from chalicelib.dispatch.store import DispatchItem

    DispatchItem("_system", "TICK", due_at=to_iso(now - timedelta(minutes=1))).save()


def _table(results: list[dict[str, Any]]) -> str:
    keys = sorted({k for r in results for k in r["counts"]})
    width = max(len(f"{s} {o}") for s, o in keys) + 2
    lines = [f"{'service operation':<{width}}" + "".join(f"{r['label']:>16}" for r in results)]
    for s, o in keys:
        lines.append(f"{s + ' ' + o:<{width}}" + "".join(f"{r['counts'].get((s, o), 0):>16,}" for r in results))
    lines.append(f"{'total':<{width}}" + "".join(f"{sum(r['counts'].values()):>16,}" for r in results))
    per = [sum(r["counts"].values()) * 1000 / RECIPIENTS for r in results]
    lines.append(f"{'per 1,000 recipients':<{width}}" + "".join(f"{p:>16.1f}" for p in per))
    lines.append(f"{'wall time (s)':<{width}}" + "".join(f"{r['wall']:>16.1f}" for r in results))
    for r in results:
        p = r["progress"]
        lines.append(f"{r['label']}: run {r['status']}, targeted {p['targeted']}, succeeded {p['succeeded']}, "
                     f"failed {p['failed']} {p['failed_reasons']}, pending {p['pending']}")
    return "\n".join(lines)


def main() -> int:
    _env()
    from bench.counting import RequestCounter, fresh_clients

    counter = RequestCounter().install()
    import moto

    from devtools import fastmoto

    fastmoto.install()
    try:
        with moto.mock_aws(), ExitStack() as patches:
            from chalicelib import wiring
            from infra.local.gateway import ApiClient
            from infra.local.provision import provision

            if not GUARDRAILS:  # the allow-all baseline, for comparison (the seam tests replace too)
                from chalicelib.dispatch.screening import AllowAll

                allow_all = AllowAll()
                patches.enter_context(mock.patch.object(wiring.dispatch, "guardrail_policy", lambda: allow_all))
            fresh_clients()  # every client and service, PynamoDB's connection too, rebuilt to report to this counter
            provision()
            from app import app

            api = ApiClient(app)
            now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
            wiring.set_clock(lambda: now)
            results = [_scenario("plain", api, counter, 0.0, now),
                       _scenario("10% redelivered", api, counter, 0.10, now + timedelta(hours=1))]
            from chalicelib.core.clock import system_clock

            wiring.set_clock(system_clock)
            wiring.reset()
    finally:
        fastmoto.uninstall()
        counter.uninstall()
    guards = "every guardrail on" if GUARDRAILS else "guardrails off (allow-all)"
    print(f"dispatch bench: {RECIPIENTS:,} recipients, wallet channel, 1 coupon each, {guards}, in-process moto")
    print(_table(results))
    worst = max(sum(r["counts"].values()) * 1000 / RECIPIENTS for r in results)
    ok = worst <= TARGET_PER_1000 and all(r["progress"]["succeeded"] == RECIPIENTS for r in results)
    print(f"target ≤ {TARGET_PER_1000} per 1,000: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
