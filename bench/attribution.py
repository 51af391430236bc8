"""Benchmark: AWS requests per 1,000 orders attributed end to end for a 20,000-recipient campaign (moto)."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", "20000"))
ORDERS = int(os.environ.get("BENCH_ORDERS", "1000"))
TARGET_PER_1000 = 80
CAMPAIGN = "cmp_bench"


def _env() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "MKT_PREFIX": "bench",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"})
    os.environ.pop("AWS_ENDPOINT_URL", None)


class Phase:
    """Requests of one phase, and the share of them the attribution hook made."""

    def __init__(self, label: str, counter: Any) -> None:
        self.label = label
        self.counter = counter
        self.counts: Counter[tuple[str, str]] = Counter()
        self.hook: Counter[tuple[str, str]] = Counter()
        self.wall = 0.0

    def __enter__(self) -> Phase:
        self.counter.reset()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self._started
        self.counts = self.counter.snapshot()


def _item_rollback_transactions() -> None:
    """Emulator speed only: moto snapshots a transaction's whole table once per item (deepcopy), O(items × table).

    Snapshot just the items the transaction names and put them back on failure; requests are unchanged.
    """
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class _NoTableCopies:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    setattr(models, "copy", _NoTableCopies)  # noqa: B010 - the module attribute moto looks up
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            attrs = op.get("Key") or op.get("Item") or {}
            names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
            key = {n: attrs[n] for n in names if n in attrs}
            if len(key) == len(names):
                saved.append((table, key, copy.deepcopy(self.get_item(table.name, key))))
        try:
            original(self, transact_items)
        except Exception:
            for table, key, item in reversed(saved):
                h = DynamoType(key[table.hash_key_attr])
                if table.range_key_attr:
                    r = DynamoType(key[table.range_key_attr])
                    if item is None:
                        table.items[h].pop(r, None)
                    else:
                        table.items[h][r] = item
                elif item is None:
                    table.items.pop(h, None)
                else:
                    table.items[h] = item
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _spy_hook(counter: Any, phases: list[Phase]) -> None:
    """Attribute to the current phase the requests made inside AttributionHook.after_batch."""
    from chalicelib.reports import factory

    hook = factory.attribution_hook()
    original = hook.after_batch

    def after_batch(merchant_id: str, changes: list[Any]) -> None:
        before = counter.snapshot()
        try:
            original(merchant_id, changes)
        finally:
            phases[-1].hook.update(counter.snapshot() - before)

    hook.after_batch = after_batch  # type: ignore[method-assign]


def _orders(ids: list[str], paid_at: datetime, status: str = "paid") -> list[dict[str, Any]]:
    return [{"order_id": f"o{c}", "customer_id": c, "paid_at": paid_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "amount_fen": 3000, "discount_fen": 100, "status": status} for c in ids]


def _ingest(api: Any, token: str, runtime: Any, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 500):
        r = api.post("/v1/orders/batch", {"items": items[start:start + 500]}, token=token)
        assert r.status == 200 and r.json["rejected"] == 0, r.json
    runtime.drain()


def _table(phases: list[Phase]) -> str:
    keys = sorted({k for p in phases for k in p.counts})
    width = max(len(f"{s} {o}") for s, o in keys) + 2
    lines = [f"{'service operation':<{width}}" + "".join(f"{p.label:>18}" for p in phases)]
    for s, o in keys:
        lines.append(f"{s + ' ' + o:<{width}}" + "".join(f"{p.counts.get((s, o), 0):>18,}" for p in phases))
    lines.append(f"{'total':<{width}}" + "".join(f"{sum(p.counts.values()):>18,}" for p in phases))
    lines.append(f"{'  of which attribution':<{width}}" + "".join(f"{sum(p.hook.values()):>18,}" for p in phases))
    lines.append(f"{'per 1,000 (orders | reaches)':<{width}}"
                 + "".join(f"{sum(p.counts.values()) * 1000 / _units(p):>18.1f}" for p in phases))
    lines.append(f"{'  attribution per 1,000':<{width}}"
                 + "".join(f"{sum(p.hook.values()) * 1000 / _units(p):>18.1f}" for p in phases))
    lines.append(f"{'wall time (s)':<{width}}" + "".join(f"{p.wall:>18.1f}" for p in phases))
    return "\n".join(lines)


def _units(phase: Phase) -> int:
    return RECIPIENTS if phase.label == "record reaches" else ORDERS


def main() -> int:
    _env()
    from bench.counting import RequestCounter

    counter = RequestCounter().install()
    import moto

    _item_rollback_transactions()

    with moto.mock_aws():
        from chalicelib import wiring
        from chalicelib.reports import factory
        from chalicelib.reports.model import Counts, Reach
        from infra.local.gateway import ApiClient
        from infra.local.provision import provision

        wiring.reset()
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
        phases: list[Phase] = []
        _spy_hook(counter, phases)
        sent = now - timedelta(days=2)
        reaches = [Reach(c, CAMPAIGN, "run_bench", sent, i % 10 == 0, (), 7) for i, c in enumerate(ids)]
        phases.append(Phase("record reaches", counter))
        with phases[-1]:
            for start in range(0, len(reaches), 100):  # one call per dispatch chunk of 100
                factory.touch_store().record_reaches(m, reaches[start:start + 100])
        buyers = ids[:ORDERS]
        paid_at = sent + timedelta(days=1)
        for label, status in (("1,000 attributed", "paid"), ("same re-sent", "paid"), ("all refunded", "refunded")):
            phases.append(Phase(label, counter))
            with phases[-1]:
                _ingest(api, token, runtime, _orders(buyers, paid_at, status))
            if label == "1,000 attributed":
                total = sum(factory.stats_store().daily(m, CAMPAIGN, None, None).values(), Counts())
                attributed = total.orders + total.ctl_orders
        final = sum(factory.stats_store().daily(m, CAMPAIGN, None, None).values(), Counts())
    print(f"attribution bench: {RECIPIENTS:,} touches recorded, {ORDERS:,} orders through POST /v1/orders/batch "
          f"+ drain (stream consumer, metrics, trigger hook, attribution hook), in-process moto")
    print(_table(phases))
    per_1000 = sum(phases[1].counts.values()) * 1000 / ORDERS
    hook_per_1000 = sum(phases[1].hook.values()) * 1000 / ORDERS
    exact = attributed == ORDERS and final.orders == 0 and final.ctl_orders == 0
    print(f"attributed {attributed:,} of {ORDERS:,} orders (treated + control); after refunds: orders "
          f"{final.orders}, gmv {final.gmv}: {'exact' if exact else 'WRONG'}")
    print(f"end to end {per_1000:.1f} per 1,000 orders (target ≤ {TARGET_PER_1000}: "
          f"{'met' if per_1000 <= TARGET_PER_1000 else 'MISSED'}); attribution's own share {hook_per_1000:.1f}")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
