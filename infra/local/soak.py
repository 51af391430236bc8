"""`make soak`: the local stack under a loopback load for a bounded time; then ledger, counters and reports must agree.

It starts `python -m infra.local.serve` (moto server, the API as `chalice local` serves it, the event pump), creates
a merchant with the admin CLI, and runs a small threaded load generator for SOAK_SECONDS (default 60): ingesting
customers and orders, creating and activating wallet-coupon campaigns, reading reports, recipients, runs, the
dashboard and customers, all at once. It prints requests, errors and p50/p99 latency per route family. When the
load stops and every run has completed, it checks: run counters against the recipients list, the report's funnel
and coupons against the run, attributed orders and GMV per campaign against the orders sent (last touch, holdout as
control, recomputed here from the recipients' reach times), each customer's metrics against their orders, and the
coupon's issued counter against the reached recipients.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from infra.local.serve import READY

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
WINDOW_DAYS = 7
MAX_CAMPAIGNS = 8
TARGET_SIZE = 40
SEED_CUSTOMERS = 200
CLOSING_BATCHES = 5  # order batches sent after the runs completed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def midday_zone(now: datetime) -> str:
    """A zone where it is about noon now: the soak runs on the wall clock, and quiet hours would defer sends."""
    offset = 12 - now.hour
    offset = offset - 24 if offset > 14 else offset
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Family:
    """Requests of one route family: how many, which failed, how long they took."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0


@dataclass
class World:
    """What the load generator created, as the merchant's backend knows it."""

    customers: list[str] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # order id -> the order as sent
    campaigns: dict[str, list[str]] = field(default_factory=dict)  # campaign id -> target customer ids
    coupon: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


class Load:
    """Closed-loop workers over one merchant; every answer is timed and judged."""

    def __init__(self, base: str, token: str, seed: int, campaigns: int = MAX_CAMPAIGNS) -> None:
        self.base = base
        self.max_campaigns = campaigns
        self.auth = {"Authorization": f"Bearer {token}"}
        self.world = World()
        self.families: dict[str, Family] = defaultdict(Family)
        self.rng = random.Random(seed)
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- HTTP -----------------------------------------------------------------------------------
    def call(self, family: str, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,),
             headers: dict[str, str] | None = None) -> Any:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        started = time.perf_counter()
        try:
            r = session.request(method, self.base + path, json=body, timeout=60,
                                headers={**self.auth, **(headers or {})})
            status, payload = r.status_code, (r.json() if r.content else None)
        except (requests.RequestException, ValueError) as exc:
            status, payload = 0, {"error": type(exc).__name__}
        elapsed = time.perf_counter() - started
        with self._lock:
            self.families[family].latencies.append(elapsed)
            if status not in expect:
                self.families[family].errors[f"{status} {json.dumps(payload)[:160]}"] += 1
        return payload if status in expect else None

    # -- the merchant's actions -----------------------------------------------------------------
    def setup(self) -> None:
        coupon = self.call("coupons.create", "POST", "/v1/coupons", {
            "name": "soak", "kind": "store_threshold", "threshold_fen": 1000, "discount_fen": 100,
            "validity": {"kind": "relative", "days": 30}, "claim_window": {"kind": "any_time"},
            "stock": 1_000_000}, expect=(201,))
        if coupon is None:
            raise RuntimeError("could not create the soak coupon")
        self.world.coupon = coupon["coupon_id"]
        for _ in range(SEED_CUSTOMERS // 50):
            self.ingest_customers()

    def ingest_customers(self) -> None:
        ids = [f"s{uuid.uuid4().hex[:10]}" for _ in range(50)]
        items = [{"customer_id": c, "nickname": c, "consent": {"wallet": True}} for c in ids]
        out = self.call("customers.batch", "POST", "/v1/customers/batch", {"items": items})
        if out is not None and out.get("rejected") == 0:
            with self.world.lock:
                self.world.customers.extend(ids)

    def ingest_orders(self, campaign_recipients_only: bool = False) -> None:
        with self.world.lock:
            pool = list(self.world.customers)
            targets = list(self.world.campaigns.values())
        if targets and (campaign_recipients_only or self.rng.random() < 0.6):
            pool = self.rng.choice(targets)  # campaign recipients: attribution has work to do
        if not pool:
            return
        # Two seconds back: a reach stamped in the same second as the order is never ambiguous.
        paid_at = _iso(datetime.now(UTC) - timedelta(seconds=2))
        batch: list[dict[str, Any]] = [
            {"order_id": f"o{uuid.uuid4().hex[:12]}", "customer_id": self.rng.choice(pool), "paid_at": paid_at,
             "amount_fen": self.rng.randrange(1000, 9000, 100), "status": "paid"} for _ in range(20)]
        out = self.call("orders.batch", "POST", "/v1/orders/batch", {"items": batch})
        if out is not None and out.get("rejected") == 0:
            with self.world.lock:
                self.world.orders.update({o["order_id"]: o for o in batch})

    def create_campaign(self) -> None:
        with self.world.lock:
            enough = len(self.world.campaigns) >= self.max_campaigns
            pool = list(self.world.customers)
        if enough:
            return self.read_reports()
        target = sorted(self.rng.sample(pool, min(TARGET_SIZE, len(pool))))
        body = {"name": "soak", "target": {"kind": "customers", "customer_ids": target},
                "action": {"channel": "wallet", "coupons": [{"coupon_id": self.world.coupon, "quantity": 1}]},
                "schedule": {"kind": "once", "at": None}, "holdout_percent": 10,
                "attribution_window_days": WINDOW_DAYS}
        made = self.call("campaigns.create", "POST", "/v1/campaigns", body, expect=(201,),
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        if made is None:
            return None
        if self.call("campaigns.activate", "POST", f"/v1/campaigns/{made['campaign_id']}/activate") is not None:
            with self.world.lock:
                self.world.campaigns[made["campaign_id"]] = target
        return None

    def read_reports(self) -> None:
        with self.world.lock:
            campaigns = list(self.world.campaigns)
        if not campaigns:
            self.call("reports.dashboard", "GET", "/v1/dashboard")
            return
        cid = self.rng.choice(campaigns)
        self.call("reports.report", "GET", f"/v1/campaigns/{cid}/report")
        self.call("reports.recipients", "GET", f"/v1/campaigns/{cid}/recipients?limit=50")
        self.call("runs.list", "GET", f"/v1/campaigns/{cid}/runs")
        self.call("reports.dashboard", "GET", "/v1/dashboard")

    def read_customer(self) -> None:
        with self.world.lock:
            pool = list(self.world.customers)
        if pool:
            self.call("customers.get", "GET", f"/v1/customers/{self.rng.choice(pool)}")

    def run(self, seconds: float, workers: int) -> float:
        """Workers loop until the deadline; returns the wall time the load took."""
        actions: list[tuple[Callable[[], Any], int]] = [
            (self.ingest_customers, 1), (self.ingest_orders, 3), (self.create_campaign, 1), (self.read_reports, 3),
            (self.read_customer, 2)]
        deadline = time.monotonic() + seconds
        started = time.perf_counter()

        def work(index: int) -> None:
            rng = random.Random(index)
            while time.monotonic() < deadline:
                rng.choices([a for a, _ in actions], weights=[w for _, w in actions])[0]()

        threads = [threading.Thread(target=work, args=(i,), name=f"load-{i}") for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


class Verifier:
    """After the load: every run complete, then counters, ledgers, reports and metrics must agree."""

    def __init__(self, load: Load) -> None:
        self.load = load
        self.world = load.world
        self.checks: list[Check] = []
        self.attributed: Counter[str] = Counter()  # orders the verifier expects attributed, by arm

    def get(self, path: str) -> Any:
        return self.load.call("verify", "GET", path)

    def wait_for_runs(self, seconds: float) -> dict[str, dict[str, Any]]:
        """Each campaign's one run, once complete (the pump keeps ticking and draining meanwhile)."""
        deadline = time.monotonic() + seconds
        runs: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            for cid in self.world.campaigns:
                if cid not in runs or runs[cid]["status"] != "complete":
                    page = self.get(f"/v1/campaigns/{cid}/runs")
                    if page and page["items"]:
                        runs[cid] = page["items"][0]
            if len(runs) == len(self.world.campaigns) and all(r["status"] == "complete" for r in runs.values()):
                break
            time.sleep(1)
        return runs

    def recipients(self, cid: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self.get(f"/v1/campaigns/{cid}/recipients?limit=200" + (f"&cursor={cursor}" if cursor else ""))
            if page is None:
                return rows
            rows += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return rows

    def add(self, name: str, expected: Any, actual: Any) -> None:
        self.checks.append(Check(name, expected == actual, f"expected {expected}, got {actual}"))

    def run(self, settle_seconds: float) -> list[Check]:
        runs = self.wait_for_runs(settle_seconds)
        incomplete = sorted(c for c in self.world.campaigns if runs.get(c, {}).get("status") != "complete")
        self.add("every campaign's run complete", [], incomplete)
        touches: dict[str, list[tuple[datetime, bool, str, str]]] = defaultdict(list)
        reached_total = 0
        for cid, target in sorted(self.world.campaigns.items()):
            run = runs.get(cid)
            if run is None:
                continue
            p = run["progress"]
            rows = self.recipients(cid)
            statuses = Counter(r["status"] for r in rows)
            settled = p["succeeded"] + p["held_out"] + p["failed"] + sum(p["suppressed"].values()) + p["cancelled"]
            self.add(f"{cid} run counters: targeted = target = settled, nothing pending",
                     (len(target), len(target), 0), (p["targeted"], settled, p["pending"]))
            self.add(f"{cid} recipients list vs run counters",
                     {"rows": p["targeted"], "reached": p["succeeded"], "held_out": p["held_out"]},
                     {"rows": len(rows), "reached": statuses.get("reached", 0),
                      "held_out": statuses.get("held_out", 0)})
            report = self.get(f"/v1/campaigns/{cid}/report")
            if report is not None:
                f = report["funnel"]
                self.add(f"{cid} report funnel and coupons vs run", (p["targeted"], p["held_out"], p["succeeded"],
                                                                     p["succeeded"]),
                         (f["targeted"], f["held_out"], f["reached"], report["coupons"]["issued"]))
            reached_total += p["succeeded"]
            for r in rows:
                if r["status"] in ("reached", "held_out") and r["at"]:
                    touches[r["customer_id"]].append((_parse(r["at"]), r["status"] == "held_out", cid,
                                                      r["run_id"] or ""))
        # A last wave of orders from the campaigns' recipients, now that every reach is recorded.
        for _ in range(CLOSING_BATCHES):
            self.load.ingest_orders(campaign_recipients_only=True)
        self._metrics(settle_seconds)
        self._attribution(touches, settle_seconds)
        coupon = self.get(f"/v1/coupons/{self.world.coupon}")
        self.add("coupon issued counter vs reached recipients", reached_total, coupon and coupon["issued"])
        return self.checks

    def _attribution(self, touches: dict[str, list[tuple[datetime, bool, str, str]]], seconds: float) -> None:
        """Last touch whose [at, at + window] holds paid_at (ties: treated, then ids), as reports attribute."""
        expected: dict[str, Counter[str]] = defaultdict(Counter)
        for order in self.world.orders.values():
            paid_at = _parse(order["paid_at"])
            eligible = [t for t in touches.get(order["customer_id"], [])
                        if t[0] <= paid_at <= t[0] + timedelta(days=WINDOW_DAYS)]
            if not eligible:
                continue
            _, held_out, cid, _ = max(eligible, key=lambda t: (t[0], not t[1], t[2], t[3]))
            arm = "control" if held_out else "treated"
            self.attributed[arm] += 1
            expected[cid][f"{arm}_orders"] += 1
            expected[cid][f"{arm}_gmv"] += order["amount_fen"]
        keys = ("treated_orders", "treated_gmv", "control_orders", "control_gmv")
        wanted = {cid: {k: expected[cid].get(k, 0) for k in keys} for cid in self.world.campaigns}
        actual: dict[str, dict[str, int]] = {}
        deadline = time.monotonic() + seconds
        while True:  # the pump may still be folding the last orders in: compare until equal, or time is up
            for cid in sorted(c for c in wanted if actual.get(c) != wanted[c]):
                report = self.get(f"/v1/campaigns/{cid}/report")
                if report is not None:
                    rev = report["revenue"]
                    actual[cid] = {"treated_orders": rev["orders"], "treated_gmv": rev["gmv_fen"],
                                   "control_orders": rev["control_orders"], "control_gmv": rev["control_gmv_fen"]}
            if actual == wanted or time.monotonic() > deadline:
                break
            time.sleep(1)
        for cid in sorted(wanted):
            self.add(f"{cid} attributed orders and GMV vs the orders sent", wanted[cid], actual.get(cid))

    def _metrics(self, seconds: float) -> None:
        per: dict[str, list[int]] = defaultdict(list)
        for order in self.world.orders.values():
            per[order["customer_id"]].append(order["amount_fen"])
        sample = sorted(per)[:100]
        wrong = list(sample)
        deadline = time.monotonic() + seconds
        while wrong and time.monotonic() < deadline:
            still = []
            for cid in wrong:
                got = self.get(f"/v1/customers/{cid}")
                metrics = got["metrics"] if got else {}
                if (metrics.get("orders_total"), metrics.get("spend_total")) != (len(per[cid]), sum(per[cid])):
                    still.append(cid)
            wrong = still
            if wrong:
                time.sleep(1)
        self.add(f"customer metrics vs orders sent ({len(sample)} customers)", [], wrong)


class Stack:
    """`python -m infra.local.serve` on free loopback ports, until stopped."""

    def __init__(self, lifetime: float) -> None:
        self.port, self.moto_port = _free_port(), _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MKT_PREFIX"}
        self.env = {**env, "MKT_PREFIX": "soak"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local.serve", "--port", str(self.port), "--moto-port", str(self.moto_port),
             "--duration", str(int(lifetime)), "--pump-interval", "0.5", "--tick-interval", "5"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout or []:
            self.lines.put(line)

    def wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not any(READY in line for line in self.log):
            try:
                self.log.append(self.lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty as exc:
                self.stop()
                raise RuntimeError("the local stack did not start:\n" + "".join(self.log)) from exc

    def create_merchant(self) -> str:
        env = {**self.env, "AWS_ENDPOINT_URL": f"http://{HOST}:{self.moto_port}", "AWS_ACCESS_KEY_ID": "local",
               "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}
        done = subprocess.run([sys.executable, "-m", "chalicelib.admin", "create-merchant", "--name", "Soak",
                               "--timezone", midday_zone(datetime.now(UTC))],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
        return str(json.loads(done.stdout)["api_key"])

    def pump_lines(self) -> Iterator[str]:
        while not self.lines.empty():
            yield self.lines.get_nowait()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -9


def render(load: Load, wall: float, verifier: Verifier, pump: list[str]) -> str:
    checks = verifier.checks
    families = {k: v for k, v in sorted(load.families.items()) if k != "verify"}
    total = sum(len(f.latencies) for f in families.values())
    errors = sum(sum(f.errors.values()) for f in families.values())
    lines = [f"soak: {total:,} requests in {wall:.0f} s ({total / wall:.1f}/s), {errors} errors; "
             f"{len(load.world.customers):,} customers, {len(load.world.orders):,} orders, "
             f"{len(load.world.campaigns)} campaigns",
             f"{'route family':<22}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}"]
    for name, fam in families.items():
        lines.append(f"{name:<22}{len(fam.latencies):>9,}{sum(fam.errors.values()):>8}"
                     f"{fam.percentile(0.5):>9.0f}{fam.percentile(0.99):>9.0f}")
    for name, fam in families.items():
        for error, n in fam.errors.most_common(3):
            lines.append(f"  {name} {n}x: {error}")
    if os.environ.get("SOAK_VERBOSE"):
        lines += [f"  | {line.rstrip()[:300]}" for line in pump]
    failed_rounds = [line.strip() for line in pump if "failed" in line and "failed none" not in line]
    lines.append(f"event pump rounds reporting failures: {len(failed_rounds)}")
    lines += [f"  {line[:200]}" for line in failed_rounds[:5]]
    lines.append(f"afterwards ({len(checks)} checks; {verifier.attributed['treated']} orders attributed to campaigns, "
                 f"{verifier.attributed['control']} held-out conversions, of {len(load.world.orders)} orders):")
    for check in checks:
        if not check.ok:
            lines.append(f"  BAD {check.name}: {check.detail[:400]}")
    agree = all(c.ok for c in checks)
    lines.append(f"  {sum(c.ok for c in checks)} of {len(checks)} agree" + ("" if agree else " — MISMATCH"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", "60")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("SOAK_WORKERS", "4")))
    parser.add_argument("--settle", type=float, default=300, help="seconds to wait for the runs to complete")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--campaigns", type=int, default=MAX_CAMPAIGNS, help="campaigns created at most")
    args = parser.parse_args(argv)
    stack = Stack(lifetime=args.seconds + args.settle + 300)
    try:
        stack.wait_ready(120)
        load = Load(f"http://{HOST}:{stack.port}", stack.create_merchant(), args.seed, args.campaigns)
        load.setup()
        wall = load.run(args.seconds, args.workers)
        verifier = Verifier(load)
        checks = verifier.run(args.settle)
        pump = list(stack.pump_lines())
    finally:
        code = stack.stop()
    print(render(load, wall, verifier, pump))
    errors = sum(sum(f.errors.values()) for f in load.families.values())
    ok = errors == 0 and all(c.ok for c in checks) and code == 0
    print("soak: ledger, counters and reports agree" if ok else f"soak: FAILED (stack exit {code})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
