"""Benchmark: a wallet-coupon campaign end to end on in-process moto: AWS requests and DynamoDB capacity units.

Scenarios (BENCH_SCENARIOS, default `fresh,steady,redelivered`): fresh customers; the same send at steady state
(bench/steady.py: customers reached by three campaigns most days for 90 days, orders attributed); fresh with 10 %
of the queue messages redelivered. Every scenario runs with BENCH_WORKERS concurrent queue consumers (8) and
DynamoDB's transaction conflicts emulated (devtools.contention, each transaction in flight BENCH_HOLD_MS).
Printed per scenario: requests per 1,000 recipients by operation, write and read units per recipient by item kind
(bench/capacity.py) beside the floor (the smallest items a correct delivery writes, by the same rules), the
conflicts raised, the outcome and wall time (moto-bound; says nothing about AWS).
"""

from __future__ import annotations

import copy
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
WORKERS = int(os.environ.get("BENCH_WORKERS", "8"))
HOLD_MS = float(os.environ.get("BENCH_HOLD_MS", "10"))
SCENARIOS = tuple(s for s in os.environ.get("BENCH_SCENARIOS", "fresh,steady,redelivered").split(",") if s)
GUARDRAILS = os.environ.get("BENCH_GUARDRAILS", "on") != "off"
TARGET_PER_1000 = 40
TARGET_FLOOR_RATIO = 1.3
FLOOR_SAMPLE = 200


def _env() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "MKT_PREFIX": "bench",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "POWERTOOLS_METRICS_DISABLED": "true"})
    os.environ.pop("AWS_ENDPOINT_URL", None)


def item_kind(table: str, item: dict[str, Any]) -> str:
    """What a dispatch-path item is, from its table and key (for the capacity breakdown)."""
    name = table.split("-", 1)[-1]
    pk = str((item.get("pk") or {}).get("S", ""))
    sk = str((item.get("sk") or {}).get("S", ""))
    if name == "dispatch":
        for test, kind in ((sk == "GUARD", "contact"), (sk.startswith("CHUNK#"), "chunk"), (sk == "RUN", "run"),
                           (sk.startswith("SEG#"), "plan segment"), (sk.startswith("D#"), "touch marker"),
                           ("#QUOTA" in pk, "merchant quota"), (pk.endswith("#DUE") or pk == "_system", "due index")):
            if test:
                return f"dispatch {kind}"
    if name == "wallet":
        return {"CI": "wallet coupon instance", "STOCK": "wallet stock", "LIMIT": "wallet limit"}.get(sk, name)
    return name


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


def _merchant(api: Any, label: str) -> tuple[str, str, list[str]]:
    from chalicelib import wiring

    merchant, issued = wiring.tenancy_service().create_merchant(f"Bench {label}")
    ids = [f"b{i:06d}" for i in range(RECIPIENTS)]
    for start in range(0, len(ids), 500):
        wiring.ingest_service().upsert_customers(merchant.merchant_id, [
            {"customer_id": c, "nickname": f"n{c}", "phone": "+8613800000000", "consent": {"wallet": True, "sms": True}}
            for c in ids[start:start + 500]])
    settings = api.get("/v1/settings", token=issued.token).json
    doc = {k: settings[k] for k in ("store_name", "timezone", "quiet_hours", "guardrails", "rfm")}
    # Every guardrail stays on; the month's store-coupon quota (5,000 by default) is raised to fit the campaign.
    doc["guardrails"]["monthly_store_coupons"] = max(RECIPIENTS, doc["guardrails"]["monthly_store_coupons"])
    r = api.put("/v1/settings", doc, token=issued.token, headers={"If-Match": str(settings["version"])})
    assert r.status == 200, r.json
    return merchant.merchant_id, issued.token, ids


def _scenario(label: str, api: Any, tools: Any, now: datetime) -> dict[str, Any]:
    import app as handlers
    from bench.steady import fresh_watermark, steady_state
    from infra.local.runtime import LocalRuntime

    merchant_id, token, ids = _merchant(api, label)
    runtime = LocalRuntime(_redelivering(handlers, 0.10, 7) if label == "redelivered" else handlers)
    runtime.purge()
    if label == "steady":
        steady_state(api, token, merchant_id, runtime, ids, now, RECIPIENTS)
    coupon = api.post("/v1/coupons", {"name": "bench", "kind": "store_threshold", "threshold_fen": 5000,
                                      "discount_fen": 500, "validity": {"kind": "relative", "days": 30},
                                      "claim_window": {"kind": "any_time"}, "stock": 1_000_000}, token=token)
    body = {"name": "bench", "target": {"kind": "rule", "rule": {"all": [{"field": "member_level", "op": "gte",
                                                                          "value": 0}]}},
            "action": {"channel": "wallet", "coupons": [{"coupon_id": coupon.json["coupon_id"], "quantity": 1}]},
            "schedule": {"kind": "once", "at": None}}
    campaign = api.post("/v1/campaigns", body, token=token).json["campaign_id"]
    runtime.set_time(now)
    fresh_watermark(now)
    tools.reset()
    started = time.perf_counter()
    assert api.post(f"/v1/campaigns/{campaign}/activate", token=token).status == 200
    runtime.tick(now)
    runtime.drain_parallel(WORKERS)
    runtime.tick(now + timedelta(minutes=1))
    runtime.drain()
    wall = time.perf_counter() - started
    result = tools.snapshot()
    run = api.get(f"/v1/campaigns/{campaign}/runs", token=token).json["items"][0]
    floor = _floor(merchant_id, campaign, run["run_id"], ids, now)
    dlq = sum(len(runtime.dead_letters(q)) for q in ("plan", "dispatch"))
    return {"label": label, **result, "wall": wall, "progress": run["progress"], "status": run["status"],
            "floor": floor, "dlq": dlq}


def _floor(merchant_id: str, campaign_id: str, run_id: str, ids: list[str], now: datetime) -> dict[str, float]:
    """Per recipient, the units of the smallest items a correct delivery writes, in one transaction: its coupon
    instance (with its index entries), a delivery record (run, customer, outcome) and its guard counters (the
    contact item's live windows only: no touches, no expired counters)."""
    from chalicelib import wiring
    from chalicelib.core.config import get_config
    from chalicelib.core.itemsize import typed_item_size, write_units
    from chalicelib.dispatch.model import contact_key
    from chalicelib.dispatch.store import run_pk

    client = wiring.client("dynamodb")
    sample = ids[:: max(1, len(ids) // FLOOR_SAMPLE)][:FLOOR_SAMPLE]
    totals = {"coupon instance": 0.0, "delivery record": 0.0, "guard counters": 0.0}
    live = _live_guard_names(now)
    for customer in sample:
        got = client.query(TableName=get_config().table("wallet"), IndexName="gsi1",
                           KeyConditionExpression="gsi1pk = :o", ExpressionAttributeValues={
                               ":o": {"S": f"{merchant_id}#{customer}"}})["Items"]
        instances = [i for i in got if i.get("sk", {}).get("S") == "CI" and campaign_id in str(i.get("doc", ""))]
        for inst in instances:
            size = typed_item_size(inst)
            totals["coupon instance"] += write_units(0, size, transactional=True) + 2 * write_units(0, size)
        record = {"pk": {"S": run_pk(merchant_id, run_id)}, "sk": {"S": f"D#{customer}"}, "o": {"S": "succeeded"}}
        totals["delivery record"] += write_units(0, typed_item_size(record), transactional=True)
        pk, sk = contact_key(merchant_id, customer)
        contact = client.get_item(TableName=get_config().table("dispatch"), Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                  ConsistentRead=True).get("Item") or {}
        guard = {k: v for k, v in contact.items() if k in ("pk", "sk") or live(k)}
        totals["guard counters"] += write_units(0, typed_item_size(guard), transactional=True)
    return {k: v / len(sample) for k, v in totals.items()}


def _live_guard_names(now: datetime) -> Any:
    """The guard attributes a delivery at `now` conditions on or keeps: today's, this week's, the 7 reach days."""
    from chalicelib.guardrails.rules import MAX_EXCLUDE_DAYS, day_key, local_day, week_key

    day = local_day(now, "Asia/Shanghai")
    days = {day_key(day - timedelta(days=i)) for i in range(MAX_EXCLUDE_DAYS)}
    week = week_key(day)
    fixed = {"cm", "rk_from", "rk_until", "rd", "rv", "cl", "expires_at", "kind"}

    def live(name: str) -> bool:
        prefix, _, window = name.partition("_")
        return name in fixed or (prefix == "md" and window == day_key(day)) or (
            prefix in ("ws", "wi") and window == week) or (prefix == "rc" and window in days)
    return live


class Tools:
    """The request counter, the capacity meter and the contention layer, reset and read together."""

    def __init__(self, counter: Any, meter: Any, contention: Any) -> None:
        self.counter, self.meter, self.contention = counter, meter, contention

    def reset(self) -> None:
        self.counter.reset()
        self.meter.reset()
        self.contention.stats.conflicts.clear()

    def snapshot(self) -> dict[str, Any]:
        from bench.counting import POLLING

        counts = self.counter.snapshot()
        return {"counts": {k: n for k, n in counts.items() if k not in POLLING and n},
                "pump": sum(n for k, n in counts.items() if k in POLLING), "units": copy.deepcopy(self.meter.units),
                "conflicts": dict(self.contention.stats.conflicts)}


def _report(results: list[dict[str, Any]]) -> tuple[str, bool]:
    from bench.capacity import describe

    keys = sorted({k for r in results for k in r["counts"]})
    width = max([len(f"{s} {o}") for s, o in keys] + [24]) + 2
    lines = [f"{'service operation':<{width}}" + "".join(f"{r['label']:>16}" for r in results)]
    for s, o in keys:
        lines.append(f"{s + ' ' + o:<{width}}" + "".join(f"{r['counts'].get((s, o), 0):>16,}" for r in results))
    lines.append(f"{'total':<{width}}" + "".join(f"{sum(r['counts'].values()):>16,}" for r in results))
    per = [sum(r["counts"].values()) * 1000 / RECIPIENTS for r in results]
    lines.append(f"{'per 1,000 recipients':<{width}}" + "".join(f"{p:>16.1f}" for p in per))
    lines.append(f"{'local polling (not counted)':<{width}}" + "".join(f"{r['pump']:>16,}" for r in results))
    lines.append(f"{'wall time (s)':<{width}}" + "".join(f"{r['wall']:>16.1f}" for r in results))
    ok = True
    for r, p in zip(results, per, strict=True):
        prog, units, floor = r["progress"], r["units"], r["floor"]
        wcu = units.write_total / RECIPIENTS
        floor_total = sum(floor.values())
        ratio = wcu / floor_total if floor_total else float("inf")
        met = (p <= TARGET_PER_1000 and ratio <= TARGET_FLOOR_RATIO and prog["succeeded"] == RECIPIENTS
               and r["dlq"] == 0 and prog["failed"] == 0)
        ok = ok and met
        lines += ["", f"{r['label']}: run {r['status']}, targeted {prog['targeted']}, succeeded {prog['succeeded']}, "
                      f"failed {prog['failed']} {prog['failed_reasons']}, pending {prog['pending']}, "
                      f"dead letters {r['dlq']}; conflicts raised {sum(r['conflicts'].values())} {r['conflicts']}"]
        lines += ["  " + line for line in describe(units, RECIPIENTS, "rcpt")]
        lines.append(f"  floor per recipient: {floor_total:.2f} WCU ("
                     + ", ".join(f"{k} {v:.2f}" for k, v in floor.items()) + ")")
        lines.append(f"  write units per recipient {wcu:.2f} = {ratio:.2f}x the floor "
                     f"(target ≤ {TARGET_FLOOR_RATIO}x); "
                     f"read units per recipient {units.read_total / RECIPIENTS:.2f}; requests per 1,000 {p:.1f} "
                     f"(target ≤ {TARGET_PER_1000}): {'met' if met else 'MISSED'}")
    return "\n".join(lines), ok


def main() -> int:
    _env()
    from bench.counting import RequestCounter, fresh_clients

    counter = RequestCounter().install()
    import moto

    from bench.capacity import CapacityMeter
    from devtools import fastmoto
    from devtools.contention import Contention

    fastmoto.install()
    meter = CapacityMeter(item_kind).install()  # before the contention layer: its reads run under its lock
    contention = Contention(hold=HOLD_MS / 1000).install()
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
            tools = Tools(counter, meter, contention)
            now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
            results = []
            for n, label in enumerate(SCENARIOS):
                print(f"dispatch bench: scenario {label} ({RECIPIENTS:,} recipients)", flush=True)
                results.append(_scenario(label, api, tools, now + timedelta(hours=n)))
            from chalicelib.core.clock import system_clock

            wiring.set_clock(system_clock)
            wiring.reset()
    finally:
        contention.uninstall()
        meter.uninstall()
        fastmoto.uninstall()
        counter.uninstall()
    guards = "every guardrail on" if GUARDRAILS else "guardrails off (allow-all)"
    print(f"dispatch bench: {RECIPIENTS:,} recipients, wallet channel, 1 coupon each, {guards}, {WORKERS} workers, "
          f"transactions in flight {HOLD_MS:g} ms (conflicts emulated), in-process moto")
    text, ok = _report(results)
    print(text)
    print(f"targets (≤ {TARGET_PER_1000} requests per 1,000, write units ≤ {TARGET_FLOOR_RATIO}x the floor, every "
          f"recipient succeeded, no dead letter): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
