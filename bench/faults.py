"""`make faults`: a 2,000-recipient campaign and 2,000 attributed orders while 20 % of AWS calls fail.

The botocore-level injector (infra/local/faults.py) throttles, fails (500) or times out a seeded share of every
DynamoDB and SQS call our code makes: the API, the tick, the plan and dispatch workers and the activity stream
consumer. The merchant's side retries a 5xx answer with the same body (and Idempotency-Key); the local runtime
re-delivers failed SQS messages and stream records; messages that reach a DLQ are redriven and stream records set
aside are replayed, as an operator would. Afterwards, with faults off, the ledger, the coupons in wallets, the run
counters, the customers' metrics and the campaign report must agree exactly with what was sent and ordered.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

RECIPIENTS = int(os.environ.get("FAULT_RECIPIENTS", "2000"))
ORDERS = int(os.environ.get("FAULT_ORDERS", str(RECIPIENTS)))
RATE = float(os.environ.get("FAULT_RATE", "0.2"))
SEED = int(os.environ.get("FAULT_SEED", "7"))
STICKY = float(os.environ.get("FAULT_STICKY", "0.1"))  # share of faulted calls failing on every attempt
HOLDOUT = 10
API_ATTEMPTS = 8
SEND_MINUTES = 30
VISIBILITY_SECONDS = 360  # the dispatch queue's retry delay (core.resources: a failed chunk is hidden that long)
TICK_ATTEMPTS = 3  # EventBridge retries a failed asynchronous invocation twice
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: no quiet hours


@dataclass
class Check:
    name: str
    expected: Any
    actual: Any

    @property
    def ok(self) -> bool:
        return bool(self.expected == self.actual)


@dataclass
class Result:
    """Everything the run measured."""

    recipients: int
    orders: int
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)  # by phase
    surfaced: Counter[str] = field(default_factory=Counter)  # by operation
    api_5xx: Counter[str] = field(default_factory=Counter)  # by path family, retried by the client
    tick_failures: int = 0
    tick_errors: Counter[str] = field(default_factory=Counter)
    send_minutes: int = 0  # simulated minutes of ticks until the run was complete
    sqs_redeliveries: Counter[str] = field(default_factory=Counter)
    stream_retries: int = 0
    dlq: Counter[str] = field(default_factory=Counter)  # messages redriven from each DLQ
    stream_set_aside: int = 0  # records replayed after the stream's retries ran out
    replay_failures: int = 0  # replayed records set aside again (and replayed once more)
    dlq_reasons: Counter[str] = field(default_factory=Counter)  # why each redriven message had failed
    checks: list[Check] = field(default_factory=list)
    wall: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


class Client:
    """The merchant's backend: a 5xx answer is retried with the same request; anything else is final."""

    def __init__(self, api: Any, token: str, result: Result) -> None:
        self._api = api
        self._token = token
        self._result = result

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = None,
             expect: tuple[int, ...] = (200, 201)) -> Any:
        headers = {"Idempotency-Key": key} if key else None
        for _ in range(API_ATTEMPTS):
            r = self._api.request(method, path, body, token=self._token, headers=headers)
            if r.status < 500:
                break
            self._result.api_5xx[f"{r.status} {method} /{path.split('/')[2]}"] += 1
        if r.status not in expect:
            raise AssertionError(f"{method} {path} answered {r.status}: {r.text[:300]}")
        return r.json


class Scenario:
    """One run on the current moto world (a fresh merchant); `runtime` is a LocalRuntime."""

    def __init__(self, api: Any, runtime: Any, injector: Any, recipients: int, orders: int,
                 log: Callable[[str], None] = lambda _: None) -> None:
        self.api = api
        self.runtime = runtime
        self.injector = injector
        self.result = Result(recipients, orders)
        self.ids = [f"f{i:05d}" for i in range(recipients)]
        self.orders = min(orders, recipients)
        self.log = log

    # -- phases ---------------------------------------------------------------------------------
    def run(self, now: datetime = START) -> Result:
        from chalicelib import wiring

        started = time.perf_counter()
        with self.injector.paused():
            merchant, issued = wiring.tenancy_service().create_merchant("Faults")
        self.merchant = merchant.merchant_id
        self.client = Client(self.api, issued.token, self.result)
        self.runtime.set_time(now)
        with self.injector.paused():
            self._fresh_watermark(now)
        self._phase("customers", self._customers)
        campaign, coupon = self._phase("setup", self._campaign)
        self.campaign = campaign
        self._phase("send", lambda: self._send(campaign, now))
        self.sent_at = now
        later = max(now + timedelta(days=1), self.runtime.now)
        self.runtime.set_time(later)
        self._phase("orders", lambda: self._orders(later))
        with self.injector.paused():
            self._verify(campaign, coupon)
        self.result.wall = time.perf_counter() - started
        return self.result

    def _phase(self, name: str, body: Callable[[], Any]) -> Any:
        stats = self.injector.stats
        before = (dict(stats.calls), stats.attempts, stats.retries, dict(stats.faulted), sum(stats.injected.values()),
                  stats.sticky, sum(stats.surfaced.values()))
        t0 = time.perf_counter()
        out = body()
        calls = sum(stats.calls.values()) - sum(before[0].values())
        faulted = sum(stats.faulted.values()) - sum(before[3].values())
        self.result.faults[name] = {
            "calls": calls, "faulted": faulted, "share": round(faulted / calls, 3) if calls else 0.0,
            "failed_attempts": sum(stats.injected.values()) - before[4], "retries": stats.retries - before[2],
            "surfaced": sum(stats.surfaced.values()) - before[6], "seconds": round(time.perf_counter() - t0, 1)}
        self.log(f"  {name}: {self.result.faults[name]}")
        return out

    def _customers(self) -> None:
        for start in range(0, len(self.ids), 500):
            items = [{"customer_id": c, "nickname": f"n{c}", "consent": {"wallet": True}}
                     for c in self.ids[start:start + 500]]
            out = self.client.call("POST", "/v1/customers/batch", {"items": items})
            assert out["rejected"] == 0, out

    def _campaign(self) -> tuple[str, str]:
        coupon = self.client.call("POST", "/v1/coupons", {
            "name": "faults", "kind": "store_threshold", "threshold_fen": 2000, "discount_fen": 500,
            "validity": {"kind": "relative", "days": 30}, "claim_window": {"kind": "any_time"},
            "stock": 1_000_000}, key="faults-coupon")["coupon_id"]
        body = {"name": "faults", "target": {"kind": "rule", "rule": {"all": [
                    {"field": "member_level", "op": "gte", "value": 0}]}},
                "action": {"channel": "wallet", "coupons": [{"coupon_id": coupon, "quantity": 1}]},
                "schedule": {"kind": "once", "at": None}, "holdout_percent": HOLDOUT,
                "attribution_window_days": 7}
        campaign = self.client.call("POST", "/v1/campaigns", body, key="faults-campaign")["campaign_id"]
        # A retried activation may find its first attempt applied (409): the status read back decides.
        self.client.call("POST", f"/v1/campaigns/{campaign}/activate", expect=(200, 409))
        status = self.client.call("GET", f"/v1/campaigns/{campaign}")["status"]
        assert status == "running", status
        return str(campaign), str(coupon)

    def _send(self, campaign: str, now: datetime) -> None:
        """A tick a minute (and everything delivered after each) until the run is complete."""
        at = now
        for minute in range(SEND_MINUTES):
            self._tick(at)
            self._settle()
            at = max(at, self.runtime.now) + timedelta(minutes=1)
            with self.injector.paused():
                runs = self.client.call("GET", f"/v1/campaigns/{campaign}/runs")["items"]
            if runs and all(r["status"] == "complete" for r in runs):
                self.result.send_minutes = minute + 1
                return

    def _orders(self, now: datetime) -> None:
        with self.injector.paused():
            self.expected = self._expected_orders()
        items = list(self.expected.values())
        for start in range(0, len(items), 500):
            out = self.client.call("POST", "/v1/orders/batch", {"items": items[start:start + 500]})
            assert out["rejected"] == 0, out
        self._settle()
        self._tick(now)
        self._settle()

    # -- event plumbing -------------------------------------------------------------------------
    def _tick(self, at: datetime) -> None:
        for _ in range(TICK_ATTEMPTS):
            try:
                self.runtime.tick(at)
                return
            except Exception as exc:  # EventBridge retries; the next minute's tick catches up anyway
                self.result.tick_failures += 1
                self.result.tick_errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1

    def _settle(self) -> None:
        """Drain until nothing moves; then redrive DLQs and replay set-aside stream records, and again."""
        for _ in range(20):
            stats = self.runtime.drain()
            self.result.sqs_redeliveries.update(stats.sqs_failures)
            self.result.stream_retries += stats.stream_retries
            with self.injector.paused():
                moved = self._redrive()
            if moved:
                # On AWS each failed receive waits out the visibility timeout; the local runtime redelivers at
                # once. Let that time pass before the redriven messages come back, so a lease left behind by a
                # worker whose failure could not even be recorded has expired (LEASE_SECONDS < visibility).
                self.runtime.set_time(self.runtime.now + timedelta(seconds=VISIBILITY_SECONDS))
            replay = list(self.runtime.stream_dead_letters)
            self.runtime.stream_dead_letters.clear()
            self.result.stream_set_aside += len(replay)
            if replay:
                # An operator replays the on-failure destination's records, in order, through the same mapping;
                # what fails again is set aside again and comes back in the next round.
                again = self.runtime.stream_dead_letters
                self.runtime._invoke_stream(sorted(replay, key=lambda r: int(r["dynamodb"]["SequenceNumber"])),
                                            stats)
                self.result.replay_failures += len(again)
            if not moved and not replay:
                return
        raise AssertionError("messages kept landing in the DLQs")

    def _redrive(self) -> int:
        """StartMessageMoveTask, by hand: every DLQ message back to its source queue."""
        from chalicelib import wiring
        from chalicelib.core.resources import QUEUES

        sqs = wiring.client("sqs")
        moved = 0
        for queue in QUEUES:
            dlq = self.runtime.urls[queue.dlq_name]
            while True:
                got = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=0)
                messages = got.get("Messages", [])
                if not messages:
                    break
                for m in messages:
                    self.result.dlq_reasons[self._why(queue.name, m["Body"])] += 1
                sqs.send_message_batch(QueueUrl=self.runtime.urls[queue.name], Entries=[
                    {"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)])
                sqs.delete_message_batch(QueueUrl=dlq, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
                self.result.dlq[queue.name] += len(messages)
                moved += len(messages)
        return moved

    @staticmethod
    def _why(queue: str, body: str) -> str:
        """What the chunk recorded about its last failure (a plan segment records nothing of the kind)."""
        from chalicelib import wiring
        from chalicelib.dispatch.messages import ChunkMessage, PlanMessage

        if queue != "dispatch":
            return f"{queue} segment {PlanMessage.model_validate_json(body).segment}: its five receives failed"
        msg = ChunkMessage.model_validate_json(body)
        chunk = wiring.run_store().get_chunk(msg.merchant_id, msg.run_id, msg.chunk_id)
        if chunk is None:
            return "dispatch: chunk missing"
        if chunk.owner is not None:
            return "dispatch: every receive found the chunk leased (a worker's failure could not be recorded)"
        return f"dispatch: {(chunk.last_error or 'no error recorded')[:100]}"

    @staticmethod
    def _fresh_watermark(now: datetime) -> None:
        from chalicelib.core.clock import to_iso
        from chalicelib.dispatch.store import DispatchItem

        DispatchItem("_system", "TICK", due_at=to_iso(now - timedelta(minutes=1))).save()

    # -- what must hold -------------------------------------------------------------------------
    def _ledger(self, campaign: str) -> tuple[list[Any], dict[str, Any]]:
        from chalicelib import wiring

        runs = []
        entries: dict[str, Any] = {}
        for record in self.client.call("GET", f"/v1/campaigns/{campaign}/runs?limit=50")["items"]:
            runs.append(record)
            for chunk in wiring.run_store().chunks_of(self.merchant, record["run_id"]):
                for r in chunk.recipients:
                    assert r.customer_id not in entries, f"{r.customer_id} planned twice"
                    entries[r.customer_id] = chunk.ledger.get(r.customer_id)
        return runs, entries

    def _expected_orders(self) -> dict[str, dict[str, Any]]:
        """One paid order per customer, the day after the send; every other reached buyer redeems its coupon."""
        from chalicelib.core.clock import to_iso

        _, entries = self._ledger(self.campaign)
        paid_at = to_iso(self.sent_at + timedelta(hours=12))
        orders = {}
        for i, cid in enumerate(self.ids[:self.orders]):
            entry = entries.get(cid)
            doc = {"order_id": f"o-{cid}", "customer_id": cid, "paid_at": paid_at,
                   "amount_fen": 3000 + (i % 7) * 100, "discount_fen": 0, "status": "paid"}
            if entry is not None and entry.instances and i % 2 == 0:
                doc.update(coupon_instance_id=entry.instances[0], discount_fen=500)
            orders[cid] = doc
        return orders

    def _verify(self, campaign: str, coupon: str) -> None:
        from chalicelib import wiring
        from chalicelib.customers.model import activity_from_doc
        from chalicelib.dispatch.model import Outcome

        add = self.result.checks.append
        runs, entries = self._ledger(campaign)
        outcomes = Counter(e.outcome.value if e else "none" for e in entries.values())
        reached = sorted(c for c, e in entries.items() if e and e.outcome is Outcome.SUCCEEDED)
        held = sorted(c for c, e in entries.items() if e and e.outcome is Outcome.HELD_OUT)
        add(Check("runs of the campaign", 1, len(runs)))
        add(Check("customers planned", len(self.ids), len(entries)))
        add(Check("every ledger entry final (succeeded or held out)", len(self.ids), len(reached) + len(held)))
        add(Check("ledger outcomes", {"succeeded": len(reached), "held_out": len(held)}, dict(outcomes)))
        progress = runs[0]["progress"] if runs else {}
        add(Check("run counters", {"targeted": len(self.ids), "succeeded": len(reached), "held_out": len(held),
                                   "failed": 0, "pending": 0},
                  {k: progress.get(k) for k in ("targeted", "succeeded", "held_out", "failed", "pending")}))
        add(Check("run status", "complete", runs[0]["status"] if runs else None))
        wallets = self._wallets()
        add(Check("coupons in wallets: one per reached customer, none for held out",
                  {c: 1 if c in set(reached) else 0 for c in self.ids}, wallets))
        issued = self.client.call("GET", f"/v1/coupons/{coupon}")["issued"]
        add(Check("coupon template's issued counter", len(reached), issued))

        orders = self.expected
        treated = [o for c, o in orders.items() if c in set(reached)]
        control = [o for c, o in orders.items() if c in set(held)]
        redeeming = [o for o in treated if o.get("coupon_instance_id")]
        report = self.client.call("GET", f"/v1/campaigns/{campaign}/report")
        add(Check("report funnel", {"targeted": len(self.ids), "held_out": len(held), "reached": len(reached),
                                    "ordered": len(treated), "paid": len(treated)},
                  {k: report["funnel"][k] for k in ("targeted", "held_out", "reached", "ordered", "paid")}))
        add(Check("report revenue", {
            "orders": len(treated), "gmv_fen": sum(o["amount_fen"] for o in treated),
            "discount_fen": sum(o["discount_fen"] for o in treated), "coupon_orders": len(redeeming),
            "control_orders": len(control), "control_gmv_fen": sum(o["amount_fen"] for o in control)},
            report["revenue"]))
        add(Check("report coupons issued / redeemed", {"issued": len(reached), "redeemed": len(redeeming)},
                  {k: report["coupons"][k] for k in ("issued", "redeemed")}))
        rows = wiring.customer_store().get_rows(self.merchant, list(orders))
        folded = {}
        for cid, row in rows.items():
            activity = activity_from_doc(row.activity) if row.activity else None
            folded[cid] = sorted((k, v.amount_fen) for k, v in activity.orders.items()) if activity else []
        add(Check("customer metrics: each buyer's one order counted once",
                  {c: [(o["order_id"], o["amount_fen"])] for c, o in orders.items()}, folded))
        per_customer = self._recipient_orders(campaign)
        add(Check("recipients: each buyer's attributed order and amount (held out ones: control)",
                  {c: (1, o["amount_fen"]) for c, o in orders.items() if c in set(reached) | set(held)},
                  {c: n for c, n in per_customer.items() if n[0]}))

    def _wallets(self) -> dict[str, int]:
        """Coupon instances per customer, from the wallet table (every instance, whatever its status)."""
        from chalicelib.coupons.store import WalletItem

        counts = dict.fromkeys(self.ids, 0)
        for cid in self.ids:
            for item in WalletItem.by_owner.query(f"{self.merchant}#{cid}"):
                counts[cid] += item.kind == "CI"
        return counts

    def _recipient_orders(self, campaign: str) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        cursor = None
        while True:
            path = f"/v1/campaigns/{campaign}/recipients?limit=200" + (f"&cursor={cursor}" if cursor else "")
            page = self.client.call("GET", path)
            for row in page["items"]:
                out[row["customer_id"]] = (row["orders"], row["amount_fen"])
            cursor = page.get("next_cursor")
            if not cursor:
                return out


def _shown(check: Check) -> str:
    """The value when short; for a mismatching mapping, what differs (a few examples)."""
    if len(str(check.actual)) < 160:
        return str(check.actual)
    if check.ok or not isinstance(check.actual, dict) or not isinstance(check.expected, dict):
        return f"{len(check.actual) if isinstance(check.actual, dict) else ''} entries as expected"
    keys = sorted(set(check.expected) | set(check.actual))
    diff = [k for k in keys if check.expected.get(k) != check.actual.get(k)]
    examples = ", ".join(f"{k}: expected {check.expected.get(k)} got {check.actual.get(k)}" for k in diff[:3])
    return f"{len(diff)} of {len(keys)} differ ({examples})"


def report(result: Result, plan: Any) -> str:
    """The figures, as `make faults` prints them."""
    lines = [f"fault injection: {result.recipients:,} recipients (holdout {HOLDOUT} %), {result.orders:,} orders; "
             f"{plan.rate:.0%} of DynamoDB/SQS calls faulted (seed {plan.seed}, {plan.sticky:.0%} of them on every "
             f"attempt), in-process moto, retry back-off counted not slept"]
    lines.append(f"{'phase':<10}{'calls':>8}{'faulted':>9}{'share':>7}{'failed att.':>12}{'retries':>9}"
                 f"{'surfaced':>10}{'seconds':>9}")
    for phase, f in result.faults.items():
        lines.append(f"{phase:<10}{f['calls']:>8,}{f['faulted']:>9,}{f['share']:>7.1%}{f['failed_attempts']:>12,}"
                     f"{f['retries']:>9,}{f['surfaced']:>10,}{f['seconds']:>9}")
    lines.append(f"surfaced to our code by operation: {dict(result.surfaced.most_common())}")
    for error, n in result.tick_errors.most_common(5):
        lines.append(f"  tick failed {n}x: {error}")
    lines.append(f"ticks until the run was complete: {result.send_minutes} simulated minutes")
    lines.append(f"API 5xx answers retried by the client: {dict(result.api_5xx) or 0}; tick invocations failed "
                 f"and retried: {result.tick_failures}")
    lines.append(f"redeliveries: SQS {dict(result.sqs_redeliveries) or 0}, stream batch retries "
                 f"{result.stream_retries}; DLQ messages redriven {dict(result.dlq) or 0}; stream records set aside "
                 f"and replayed {result.stream_set_aside} (set aside again in a replay: {result.replay_failures})")
    for reason, n in result.dlq_reasons.most_common(6):
        lines.append(f"  DLQ'd {n}x: {reason}")
    for check in result.checks:
        lines.append(f"  {'ok ' if check.ok else 'BAD'} {check.name}: {_shown(check)}")
    lines.append(f"wall {result.wall:.0f} s: {'nothing lost, nothing duplicated' if result.ok else 'MISMATCH'}")
    return "\n".join(lines)


def main() -> int:
    from bench.dispatch import _env

    _env()
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # no EMF lines between the figures
    os.environ["POWERTOOLS_LOG_LEVEL"] = "CRITICAL"
    logging.basicConfig(level=logging.CRITICAL)  # the injected failures are logged by every layer they cross
    from infra.local.faults import FaultInjector, FaultPlan

    plan = FaultPlan(rate=RATE, seed=SEED, sticky=STICKY)
    injector = FaultInjector(plan).install()
    import moto

    from devtools import fastmoto

    fastmoto.install()
    try:
        with moto.mock_aws():
            import app as handlers
            from chalicelib import wiring
            from infra.local.gateway import ApiClient
            from infra.local.provision import provision
            from infra.local.runtime import LocalRuntime

            with injector.paused():
                wiring.reset()
                provision()
                runtime = LocalRuntime(handlers)
            scenario = Scenario(ApiClient(handlers.app), runtime, injector, RECIPIENTS, ORDERS, log=print)
            result = scenario.run()
            result.surfaced = Counter(injector.stats.surfaced)
    finally:
        fastmoto.uninstall()
        injector.uninstall()
    print(report(result, plan))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
