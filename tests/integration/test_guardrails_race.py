"""Caps under concurrency: 8 threads deliver chunks of 8 campaigns to the same 1,000 customers at once."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from chalicelib import wiring
from chalicelib.dispatch import factory
from chalicelib.dispatch.model import MAX_RECEIVES, SEGMENTS, Outcome
from chalicelib.guardrails import factory as guardrails
from chalicelib.guardrails.rules import day_key, local_day, month_key, week_key
from chalicelib.guardrails.store import coupons_key, guard_key
from tests.integration.test_dispatch_support import campaign_body, make_coupon, runs_of, set_watermark

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 11:00 in Asia/Shanghai
CUSTOMERS = 1000
THREADS = 8
CONSENT = {"wallet": True, "inbox": True}
MONTHLY_STORE = 1500  # binds: four store-coupon campaigns would need up to 1,000 each


@pytest.fixture
def atomic_moto() -> Iterator[None]:
    """moto's in-process DynamoDB backend is not thread-safe; DynamoDB answers each request atomically. In this
    test only, every item-level method of the backend runs under one lock (reads too: moto's transactions write
    item by item, and a concurrent read must not see half of one), which models that per-request atomicity."""
    from bench import motofast

    motofast.install()
    lock = threading.RLock()
    names = ("transact_write_items", "update_item", "put_item", "delete_item", "batch_write_item", "get_item",
             "batch_get_item", "query", "scan")
    originals = {name: getattr(DynamoDBBackend, name) for name in names}

    def locked(method: Any) -> Any:
        @wraps(method)
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)
        return run

    for name, method in originals.items():
        setattr(DynamoDBBackend, name, locked(method))
    yield
    for name, method in originals.items():
        setattr(DynamoDBBackend, name, method)
    motofast.uninstall()


def _campaigns(api: Any, merchant: Any, ids: list[str]) -> list[dict[str, Any]]:
    store = make_coupon(api, merchant, stock=1_000_000)
    item = make_coupon(api, merchant, stock=1_000_000, kind="item_discount", threshold_fen=None, discount_fen=None,
                       percent_off=20, item_ids=["sku1"])
    content = api.post("/v1/contents", {"name": "hello", "text": "hi"}, token=merchant.token).json["content_id"]
    target = {"kind": "customers", "customer_ids": ids}
    bodies = [campaign_body(store, target, name=f"store {i}") for i in range(4)]
    bodies += [campaign_body(item, target, name=f"item {i}") for i in range(2)]
    bodies += [campaign_body(None, target, channel="inbox", content_id=content, name=f"news {i}") for i in range(2)]
    return bodies


def test_no_customer_exceeds_a_cap_and_counters_equal_the_ledger_when_8_threads_race(api, merchant, clock, runtime,
                                                                                      atomic_moto):
    import time
    T00 = time.time()
    ids = [f"r{i:04d}" for i in range(CUSTOMERS)]
    for start in range(0, CUSTOMERS, 500):
        wiring.ingest_service().upsert_customers(merchant.id, [
            {"customer_id": c, "nickname": c, "consent": CONSENT} for c in ids[start:start + 500]])
    settings = api.get("/v1/settings", token=merchant.token)
    body = {k: settings.json[k] for k in ("store_name", "timezone", "quiet_hours", "guardrails", "rfm")}
    body["guardrails"]["monthly_store_coupons"] = MONTHLY_STORE
    assert api.put("/v1/settings", body, token=merchant.token,
                   headers={"If-Match": str(settings.json["version"])}).status == 200
    print("seed", time.time() - T00)
    clock.set(NOW)
    runtime.set_time(NOW)
    set_watermark(NOW)
    campaign_ids = []
    kinds: dict[str, str] = {}
    for b in _campaigns(api, merchant, ids):
        cid = api.post("/v1/campaigns", b, token=merchant.token).json["campaign_id"]
        assert api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token).status == 200
        campaign_ids.append(cid)
        kinds[cid] = "message" if b["action"]["channel"] == "inbox" else b["name"].split()[0]
    import time
    t0 = time.time()
    runtime.tick(NOW)
    runs = {cid: runs_of(api, merchant, cid)[0]["run_id"] for cid in campaign_ids}
    for run_id in runs.values():
        for segment in range(SEGMENTS):
            wiring.plan_service().plan_segment(merchant.id, run_id, segment, NOW)
    print("plan", time.time() - t0)
    runtime.purge()  # the chunk messages are delivered by the threads below instead
    chunks = {cid: [c.chunk_id for c in factory.run_store().chunks_of(merchant.id, run_id)]
              for cid, run_id in runs.items()}
    # Interleave the campaigns so that every thread works on the same customers at the same time.
    work = [(runs[cid], chunks[cid][n]) for n in range(max(map(len, chunks.values())))
            for cid in campaign_ids if n < len(chunks[cid])]

    def deliver(task: tuple[str, str]) -> str:
        run_id, chunk_id = task
        for attempt in range(1, MAX_RECEIVES + 1):  # as SQS would redeliver a failed message
            try:
                return str(wiring.deliver_service().deliver_chunk(merchant.id, run_id, chunk_id,
                                                                  f"w{threading.get_ident()}", attempt, NOW))
            except RuntimeError:
                continue
        raise AssertionError(f"chunk {chunk_id} of {run_id} never settled")

    t0 = time.time()
    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(deliver, work))
    print("deliver", time.time() - t0)
    assert set(outcomes) == {"done"}

    delivered: dict[str, Counter[str]] = defaultdict(Counter)  # customer -> units by kind
    reached: dict[str, set[str]] = defaultdict(set)
    reasons: Counter[str] = Counter()
    for cid, run_id in runs.items():
        for chunk in factory.run_store().chunks_of(merchant.id, run_id):
            for r in chunk.recipients:
                entry = chunk.ledger[r.customer_id]
                assert entry.outcome in (Outcome.SUCCEEDED, Outcome.SUPPRESSED), entry
                if entry.outcome is Outcome.SUCCEEDED:
                    delivered[r.customer_id][kinds[cid]] += 1
                    reached[r.customer_id].add(cid)
                else:
                    reasons[str(entry.reason)] += 1
    for customer in ids:
        assert delivered[customer]["store"] <= 1, customer
        assert delivered[customer]["item"] <= 1, customer
        assert delivered[customer]["message"] <= 1, customer

    day = local_day(NOW, "Asia/Shanghai")
    items = guardrails.guard_store().read([guard_key(merchant.id, c) for c in ids]
                                         + [coupons_key(merchant.id, month_key(day))])
    for customer in ids:
        guard = items.get(guard_key(merchant.id, customer), {})
        assert int(guard.get(f"ws_{week_key(day)}", 0)) == delivered[customer]["store"], customer
        assert int(guard.get(f"wi_{week_key(day)}", 0)) == delivered[customer]["item"], customer
        assert int(guard.get(f"md_{day_key(day)}", 0)) == delivered[customer]["message"], customer
        assert set(guard.get(f"rc_{day_key(day)}", ())) == reached[customer], customer
    month = items[coupons_key(merchant.id, month_key(day))]
    store_total = sum(d["store"] for d in delivered.values())
    assert int(month["st"]) == store_total == MONTHLY_STORE  # the quota binds, exactly
    assert int(month["it"]) == sum(d["item"] for d in delivered.values()) == CUSTOMERS
    assert sum(d["message"] for d in delivered.values()) == CUSTOMERS
    assert {"cap_weekly_store_coupon", "quota_monthly_store_coupon", "cap_weekly_item_coupon",
            "cap_daily"} <= set(reasons)
