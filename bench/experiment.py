"""Benchmark: AWS requests of one campaign report with 1 (no treatments), 2 and 5 treatments at two sizes (moto).

The experiment section is computed from what the report reads anyway (the runs' chunks, the attributions, the
coupon instances): treatments may add at most one request each (a partly filled chunk per treatment), never a
read per treatment per recipient. Each configuration is its own merchant: customers, a wallet campaign with a
10 % holdout, sent through the local runtime, 10 % of the customers ordering within the window.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

SIZES = tuple(int(n) for n in os.environ.get("BENCH_EXPERIMENT_SIZES", "1000,2000").split(","))
ARMS = (1, 2, 5)


def _env() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "MKT_PREFIX": "bench",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "POWERTOOLS_METRICS_DISABLED": "true"})
    os.environ.pop("AWS_ENDPOINT_URL", None)


def _coupon(api: Any, token: str, n: int) -> str:
    r = api.post("/v1/coupons", {"name": f"满100减{10 * n}", "kind": "store_threshold", "threshold_fen": 10_000,
                                 "discount_fen": 1000 * n, "validity": {"kind": "relative", "days": 30},
                                 "claim_window": {"kind": "any_time"}, "stock": 1_000_000}, token=token)
    assert r.status == 201, r.json
    return str(r.json["coupon_id"])


def _campaign(api: Any, token: str, ids: list[str], arms: int) -> str:
    actions = [{"channel": "wallet", "coupons": [{"coupon_id": _coupon(api, token, n + 1)}]} for n in range(arms)]
    body: dict[str, Any] = {"name": f"{arms} arms", "target": {"kind": "customers", "customer_ids": ids},
                            "schedule": {"kind": "once", "at": None}, "holdout_percent": 10}
    if arms == 1:
        body["action"] = actions[0]
    else:
        shares = [100 // arms + (1 if i < 100 % arms else 0) for i in range(arms)]
        body["treatments"] = [{"name": f"T{i + 1}", "share_percent": s, "action": a}
                              for i, (s, a) in enumerate(zip(shares, actions, strict=True))]
    r = api.post("/v1/campaigns", body, token=token)
    assert r.status == 201, r.json
    cid = str(r.json["campaign_id"])
    assert api.post(f"/v1/campaigns/{cid}/activate", None, token=token).status == 200
    return cid


def main() -> int:
    _env()
    from bench.counting import RequestCounter, fresh_clients

    counter = RequestCounter().install()
    import moto

    from devtools import fastmoto

    fastmoto.install()
    rows: list[tuple[int, int, int, float, str]] = []
    try:
        with moto.mock_aws():
            from chalicelib import wiring
            from chalicelib.core.clock import to_iso
            from infra.local.gateway import ApiClient
            from infra.local.provision import provision

            fresh_clients()
            provision()
            import app as handlers
            from infra.local.runtime import LocalRuntime

            api = ApiClient(handlers.app)
            now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
            wiring.set_clock(lambda: now)
            runtime = LocalRuntime(handlers)
            runtime.purge()
            runtime.set_time(now)
            for size in SIZES:
                for arms in ARMS:
                    merchant, issued = wiring.tenancy_service().create_merchant(f"Bench {size} x {arms}")
                    token = issued.token
                    ids = [f"c{i:06d}" for i in range(size)]
                    for start in range(0, size, 500):
                        wiring.ingest_service().upsert_customers(
                            merchant.merchant_id, [{"customer_id": c, "nickname": c} for c in ids[start:start + 500]])
                    cid = _campaign(api, token, ids, arms)
                    runtime.tick(now)
                    runtime.drain()
                    paid = to_iso(now + timedelta(hours=1))
                    buyers = ids[::10]
                    for start in range(0, len(buyers), 500):
                        orders = [{"order_id": f"o{c}", "customer_id": c, "paid_at": paid, "amount_fen": 12_000,
                                   "status": "paid"} for c in buyers[start:start + 500]]
                        assert api.post("/v1/orders/batch", {"items": orders}, token=token).status == 200
                    runtime.drain()
                    counter.reset()
                    began = time.perf_counter()
                    r = api.get(f"/v1/campaigns/{cid}/report", token=token)
                    wall = time.perf_counter() - began
                    assert r.status == 200, r.json
                    requests = counter.total
                    experiment = r.json.get("experiment")
                    verdict = experiment["verdict"]["status"] if experiment else "-"
                    rows.append((size, arms, requests, wall, verdict))
            wiring.reset()
    finally:
        fastmoto.uninstall()
        counter.uninstall()
    print("experiment bench: one GET /v1/campaigns/{id}/report per configuration (wallet, 10 % holdout, 10 % of "
          "customers ordering), in-process moto")
    print(f"{'recipients':>10} {'treatments':>10} {'requests':>9} {'per 1,000':>10} {'wall (s)':>9}  verdict")
    for size, arms, requests, wall, verdict in rows:
        print(f"{size:>10,} {arms:>10} {requests:>9} {requests * 1000 / size:>10.1f} {wall:>9.2f}  {verdict}")
    met = True
    for size in SIZES:
        base = next(r[2] for r in rows if r[0] == size and r[1] == 1)
        for _, arms, requests, _, _ in (r for r in rows if r[0] == size and r[1] > 1):
            extra = requests - base
            ok = extra <= arms
            met = met and ok
            print(f"{size:,} recipients, {arms} treatments: {extra:+d} requests over no treatments "
                  f"(target ≤ +{arms}, O(treatments): {'met' if ok else 'MISSED'})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
