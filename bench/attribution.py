"""Benchmark: AWS requests per 1,000 orders attributed end to end for a 20,000-recipient campaign (moto)."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", "20000"))
ORDERS = int(os.environ.get("BENCH_ORDERS", "1000"))
TARGET_PER_1000 = 80
CAMPAIGN = "cmp_bench"
INGEST, CONSUMER, PUMP_STAGE = "ingest API", "stream consumer", "local event pump"
HEADLINE = f"{ORDERS:,} attributed"


def _env() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "MKT_PREFIX": "bench",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "POWERTOOLS_METRICS_DISABLED": "true"})
    os.environ.pop("AWS_ENDPOINT_URL", None)


Ops = Counter[tuple[str, str]]


class Phase:
    """One step of the scenario: its requests per stage (the ingestion API, the consumer, each hook, the pump)."""

    def __init__(self, label: str, units: int) -> None:
        self.label = label
        self.units = units
        self.stages: dict[str, Ops] = {}
        self.wall = 0.0

    def ops(self, *, pump: bool = False) -> Ops:
        out: Ops = Counter()
        for stage, counts in self.stages.items():
            if (stage == PUMP_STAGE) == pump:
                out.update(counts)
        return out

    def stage_total(self, stage: str) -> int:
        return sum(self.stages.get(stage, Counter()).values())

    @property
    def product(self) -> int:
        """Requests the application makes (everything but the event pump)."""
        return sum(self.ops().values())

    def per_1000(self, count: int) -> float:
        return count * 1000 / self.units


class Recorder:
    """Charges each request to the innermost stage running when it was sent; pump operations to the pump."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter
        self.phases: list[Phase] = []
        self._stack: list[str] = []
        self._last: Ops = Counter()

    def _flush(self) -> None:
        now = self.counter.snapshot()
        delta, self._last = now - self._last, now
        if not self.phases or not self._stack:
            return
        from bench.counting import PUMP

        stages = self.phases[-1].stages
        for key, n in delta.items():
            stages.setdefault(PUMP_STAGE if key in PUMP else self._stack[-1], Counter())[key] += n

    @contextmanager
    def phase(self, label: str, units: int) -> Iterator[Phase]:
        self._flush()
        phase = Phase(label, units)
        self.phases.append(phase)
        started = time.perf_counter()
        try:
            yield phase
        finally:
            self._flush()
            phase.wall = time.perf_counter() - started

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._flush()
        self._stack.append(name)
        try:
            yield
        finally:
            self._flush()
            self._stack.pop()

    def spy_hooks(self, hooks: list[Any]) -> list[str]:
        """Wrap every activity hook's after_batch in its own stage; returns the stage names."""
        names = []
        for hook in hooks:
            name = f"hook {type(hook).__name__}"
            names.append(name)
            original = hook.after_batch

            def after_batch(merchant_id: str, changes: list[Any], _original: Any = original, _name: str = name
                            ) -> None:
                with self.stage(_name):
                    _original(merchant_id, changes)

            hook.after_batch = after_batch
        return names


def _orders(ids: list[str], paid_at: datetime, status: str = "paid") -> list[dict[str, Any]]:
    return [{"order_id": f"o{c}", "customer_id": c, "paid_at": paid_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "amount_fen": 3000, "discount_fen": 100, "status": status} for c in ids]


def _ingest(api: Any, token: str, runtime: Any, recorder: Recorder, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 500):
        with recorder.stage(INGEST):
            r = api.post("/v1/orders/batch", {"items": items[start:start + 500]}, token=token)
        assert r.status == 200 and r.json["rejected"] == 0, r.json
    with recorder.stage(CONSUMER):
        runtime.drain()


def _ops(counts: Ops) -> str:
    return ", ".join(f"{op} {n}" for (_, op), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _report(phases: list[Phase], stages: list[str]) -> str:
    col = 18
    keys = sorted({k for p in phases for k in p.ops()})
    width = max([len(f"{s} {o}") for s, o in keys] + [40]) + 2
    head = f"{'':<{width}}" + "".join(f"{p.label:>{col}}" for p in phases)
    lines = ["requests by operation (the application's; the event pump below)", head]
    for s, o in keys:
        lines.append(f"{s + ' ' + o:<{width}}" + "".join(f"{p.ops().get((s, o), 0):>{col},}" for p in phases))
    lines.append(f"{'total':<{width}}" + "".join(f"{p.product:>{col},}" for p in phases))
    lines.append(f"{'per 1,000 (reaches | orders)':<{width}}"
                 + "".join(f"{p.per_1000(p.product):>{col}.1f}" for p in phases))
    lines += ["", "per 1,000 by stage", head]
    for stage in stages:
        lines.append(f"{stage:<{width}}" + "".join(f"{p.per_1000(p.stage_total(stage)):>{col}.1f}" for p in phases))
    lines.append(f"{'application total':<{width}}" + "".join(f"{p.per_1000(p.product):>{col}.1f}" for p in phases))
    pump = [sum(p.ops(pump=True).values()) for p in phases]
    lines.append(f"{PUMP_STAGE + ' (not counted)':<{width}}"
                 + "".join(f"{p.per_1000(n):>{col}.1f}" for p, n in zip(phases, pump, strict=True)))
    lines.append(f"{'wall time (s)':<{width}}" + "".join(f"{p.wall:>{col}.1f}" for p in phases))
    for phase in phases[1:]:
        lines += ["", f"{phase.label}: requests by stage and operation"]
        for stage in [*stages, PUMP_STAGE]:
            counts = phase.stages.get(stage, Counter())
            lines.append(f"  {stage:<28}{sum(counts.values()):>6}  {_ops(counts)}")
    return "\n".join(lines)


def main() -> int:
    _env()
    from bench.counting import RequestCounter, fresh_clients

    counter = RequestCounter().install()
    import moto

    from devtools import fastmoto

    fastmoto.install()  # moto deep-copies a table per transaction item; same answers, same requests
    recorder = Recorder(counter)
    try:
        with moto.mock_aws():
            from chalicelib import wiring
            from chalicelib.dispatch.reaches import Reach
            from chalicelib.reports.model import Counts
            from infra.local.gateway import ApiClient
            from infra.local.provision import provision

            fresh_clients()  # every client, PynamoDB's too, rebuilt to report to this counter
            provision()
            import app as handlers
            from infra.local.runtime import LocalRuntime

            api = ApiClient(handlers.app)
            now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
            wiring.set_clock(lambda: now)
            merchant, issued = wiring.tenancy_service().create_merchant("Bench attribution")
            m, token = merchant.merchant_id, issued.token
            ids = [f"b{i:06d}" for i in range(RECIPIENTS)]
            for start in range(0, len(ids), 500):
                wiring.ingest_service().upsert_customers(m, [{"customer_id": c, "nickname": c}
                                                             for c in ids[start:start + 500]])
            runtime = LocalRuntime(handlers)
            runtime.purge()
            runtime.set_time(now)
            runtime.drain()
            hooks = recorder.spy_hooks(wiring.activity_hooks())  # the cached instances the consumer runs
            stages = [INGEST, CONSUMER, *hooks, "dispatch record_reaches"]
            sent = now - timedelta(days=2)
            reaches = [Reach(c, CAMPAIGN, "run_bench", sent, i % 10 == 0, (), 7) for i, c in enumerate(ids)]
            with recorder.phase("record reaches", RECIPIENTS), recorder.stage("dispatch record_reaches"):
                for start in range(0, len(reaches), 100):  # one call per dispatch chunk of 100
                    wiring.reach_log().record_reaches(m, reaches[start:start + 100])
            buyers = ids[:ORDERS]
            paid_at = sent + timedelta(days=1)
            attributed = 0
            for label, status in ((HEADLINE, "paid"), ("same re-sent", "paid"), ("all refunded", "refunded")):
                with recorder.phase(label, ORDERS):
                    _ingest(api, token, runtime, recorder, _orders(buyers, paid_at, status))
                if label == HEADLINE:
                    total = sum(wiring.stats_store().daily(m, CAMPAIGN, None, None).values(), Counts())
                    attributed = total.orders + total.ctl_orders
            final = sum(wiring.stats_store().daily(m, CAMPAIGN, None, None).values(), Counts())
            wiring.reset()
    finally:
        fastmoto.uninstall()
        counter.uninstall()
    phases = recorder.phases
    print(f"attribution bench: {RECIPIENTS:,} touches recorded, {ORDERS:,} orders through POST /v1/orders/batch "
          f"+ drain (stream consumer, then {', '.join(h.removeprefix('hook ') for h in hooks)}), in-process moto")
    print(_report(phases, stages))
    headline = next(p for p in phases if p.label == HEADLINE)
    per_1000 = headline.per_1000(headline.product)
    exact = attributed == ORDERS and final.orders == 0 and final.ctl_orders == 0
    met = per_1000 <= TARGET_PER_1000
    print(f"\nattributed {attributed:,} of {ORDERS:,} orders (treated + control); after refunds: orders "
          f"{final.orders}, gmv {final.gmv}: {'exact' if exact else 'WRONG'}")
    print(f"end to end {per_1000:.1f} requests per 1,000 orders attributed (target ≤ {TARGET_PER_1000}: "
          f"{'met' if met else 'MISSED'}); attribution hook's share "
          f"{headline.per_1000(headline.stage_total('hook AttributionHook')):.1f}")
    return 0 if exact and met else 1


if __name__ == "__main__":
    sys.exit(main())
