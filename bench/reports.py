"""Benchmark: what one recipients page reads at 1,000 and at 100,000 recipients (bytes and items, from botocore).

Each campaign's settled deliveries are written the way dispatch writes them: DeliveryLog ops (counters and
recipient index items) of 200-recipient chunks, committed into in-process moto. Then a recipients page
(limit 50, no status; ?status=failed; the second page through its cursor) is read and every DynamoDB response
is measured: its body bytes and the items it returned. Target: the larger campaign reads no more than the
smaller one (bytes within 10 %: item sizes vary by a few bytes), so a page costs O(limit) whatever the size.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

SIZES = tuple(int(n) for n in os.environ.get("BENCH_REPORT_SIZES", "1000,100000").split(","))
CHUNK = 200
LIMIT = 50
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
TOLERANCE = 1.10


class ReadMeter:
    """DynamoDB response bytes and items returned, per operation (an `after-call` hook on every new client)."""

    def __init__(self) -> None:
        self.bytes: Counter[str] = Counter()
        self.items: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()

    def hook(self, http_response: Any = None, parsed: Any = None, model: Any = None, **_: Any) -> None:
        name = getattr(model, "name", "?")
        self.requests[name] += 1
        self.bytes[name] += len(getattr(http_response, "content", b"") or b"")
        parsed = parsed or {}
        found = len(parsed.get("Items", [])) + (1 if parsed.get("Item") else 0)
        found += sum(len(v) for v in (parsed.get("Responses") or {}).values() if isinstance(v, list))
        self.items[name] += found

    def reset(self) -> None:
        self.bytes.clear()
        self.items.clear()
        self.requests.clear()

    def install(self) -> None:
        import botocore.client

        original = botocore.client.ClientCreator.create_client
        hook = self.hook

        def create_client(creator: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(creator, *args, **kwargs)
            if client.meta.service_model.service_name == "dynamodb":
                client.meta.events.register("after-call.dynamodb", hook)
            return client

        botocore.client.ClientCreator.create_client = create_client  # type: ignore[method-assign]


def _campaign(mid: str, size: int, coupon: str) -> tuple[str, int]:
    """A wallet campaign of `size` settled recipients (1 in 10 failed), written as dispatch's tallies would be."""
    from chalicelib import wiring
    from chalicelib.core.clock import to_iso
    from chalicelib.core.dynamo import commit
    from chalicelib.dispatch.model import Chunk, Entry, Outcome, Recipient, Run, RunStatus
    from chalicelib.dispatch.snapshot import view
    from chalicelib.reports.delivery_log import derived_ids

    cid = f"cmp_bench_{size}"
    data = {"name": cid, "target": {"kind": "customers", "customer_ids": ["x"]},
            "action": {"channel": "wallet", "coupons": [{"coupon_id": coupon, "quantity": 1}]},
            "schedule": {"kind": "once", "at": None}}
    wiring.repo("CAMPAIGN").create(mid, cid, data, NOW, status="running")
    run = Run(mid, f"run_{cid}", cid, NOW, data, RunStatus.SENDING, started_at=to_iso(NOW))
    commit([wiring.run_store().put_run_op(run)])
    log = wiring.delivery_log()
    view_grants = view(cid, "running", data).coupons
    stamp = to_iso(NOW + timedelta(minutes=1))
    for start in range(0, size, CHUNK):
        ids = [f"c{n:07d}" for n in range(start, min(size, start + CHUNK))]
        ledger = {c: (Entry(Outcome.FAILED, "provider_error", (), stamp) if n % 10 == 9 else
                      Entry(Outcome.SUCCEEDED, None, derived_ids(mid, run.run_id, c, view_grants), stamp))
                  for n, c in enumerate(ids)}
        chunk = Chunk(mid, run.run_id, f"{start // CHUNK:07d}", [Recipient(c) for c in ids], ledger, campaign_id=cid)
        commit(log.settled_ops(run, chunk, ledger, NOW))
    return cid, size


def _measure(meter: ReadMeter, read: Any) -> tuple[int, int, int, Any]:
    meter.reset()
    result = read()
    return sum(meter.requests.values()), sum(meter.bytes.values()), sum(meter.items.values()), result


def main() -> int:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "MKT_PREFIX": "bench",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "POWERTOOLS_METRICS_DISABLED": "true"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    meter = ReadMeter()
    meter.install()
    import moto

    from devtools import fastmoto

    fastmoto.install()
    print(f"reports bench: recipients page (limit {LIMIT}) at {', '.join(f'{n:,}' for n in SIZES)} recipients")
    with moto.mock_aws():
        from bench.counting import fresh_clients

        fresh_clients()
        from chalicelib import wiring
        from infra.local.provision import provision

        provision()
        wiring.set_clock(lambda: NOW + timedelta(hours=1))
        merchant, _ = wiring.tenancy_service().create_merchant("Bench reports")
        mid = merchant.merchant_id
        coupon = "cpn_bench"  # no template nor instances stored: the page's coupon lookup finds none (O(limit))
        figures: dict[int, dict[str, tuple[int, int, int]]] = {}
        for size in SIZES:
            started = time.perf_counter()
            cid, _ = _campaign(mid, size, coupon)
            print(f"  {size:,} recipients written in {time.perf_counter() - started:.0f}s")
            service = wiring.report_service()
            rows: dict[str, tuple[int, int, int]] = {}
            req, byt, items, (page, cursor) = _measure(
                meter, lambda: service.recipients(mid, cid, None, None, LIMIT))  # noqa: B023
            assert len(page) == LIMIT and cursor, "the first page is full and has a next page"
            rows["page 1"] = (req, byt, items)
            req, byt, items, (second, _) = _measure(
                meter, lambda: service.recipients(mid, cid, None, cursor, LIMIT))  # noqa: B023
            assert len(second) == LIMIT and {r.customer_id for r in second}.isdisjoint(r.customer_id for r in page)
            rows["page 2 (cursor)"] = (req, byt, items)
            req, byt, items, (failed, _) = _measure(
                meter, lambda: service.recipients(mid, cid, "failed", None, LIMIT))  # noqa: B023
            assert len(failed) == LIMIT and {r.status for r in failed} == {"failed"}
            rows["?status=failed"] = (req, byt, items)
            figures[size] = rows
    print(f"  {'read':<18}" + "".join(f"{f'{n:,} req':>12}{'bytes':>10}{'items':>8}" for n in SIZES))
    ok = True
    for name in figures[SIZES[0]]:
        line = f"  {name:<18}"
        for size in SIZES:
            req, byt, items = figures[size][name]
            line += f"{req:>12}{byt:>10,}{items:>8}"
        small, large = figures[SIZES[0]][name], figures[SIZES[-1]][name]
        grew = large[1] > small[1] * TOLERANCE or large[2] > small[2] or large[0] > small[0]
        ok = ok and not grew
        print(line + ("  GREW" if grew else "  flat"))
    print(f"  target: bytes, items and requests of a page do not grow with the campaign: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
