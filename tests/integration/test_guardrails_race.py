"""Caps under concurrency: 8 threads deliver chunks of 3 campaigns to the same 1,000 customers at once."""

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
from chalicelib.core.clock import to_iso
from chalicelib.core.dynamo import commit
from chalicelib.dispatch.model import MAX_RECEIVES, Chunk, Outcome, Recipient, Run, RunStatus, run_id_for
from chalicelib.dispatch.plan import chunk_size
from chalicelib.dispatch.snapshot import view
from chalicelib.guardrails.rules import day_key, local_day, month_key, week_key
from chalicelib.guardrails.store import coupons_key, guard_key
from tests.support.dispatch import RecordingChannel, campaign_body, make_coupon

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 11:00 in Asia/Shanghai
CUSTOMERS = 1000
THREADS = 8
MONTHLY_STORE = 300  # binds: A and C try a store coupon for every customer


@pytest.fixture
def atomic_moto() -> Iterator[None]:
    """moto's in-process DynamoDB backend is not thread-safe; DynamoDB answers each request atomically. In this
    test only, every item-level method of the backend runs under one lock (reads too: moto writes a transaction
    item by item, and a concurrent read must not see half of one), which models that per-request atomicity."""
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


@pytest.fixture
def inbox(substitute: Any) -> RecordingChannel:
    """The inbox channel recorded (what is handed over is what the ledger says; the channel is not under test)."""
    recording = RecordingChannel()
    substitute.channel("inbox", recording)
    return recording


def _campaigns(api: Any, merchant: Any) -> dict[str, tuple[dict[str, Any], Counter[str]]]:
    """Three campaigns racing for the same caps: store coupons and the month's quota (A, C), item coupons (A, B)."""
    store = make_coupon(api, merchant, stock=1_000_000)
    item = make_coupon(api, merchant, stock=1_000_000, kind="item_discount", threshold_fen=None, discount_fen=None,
                       percent_off=20, item_ids=["sku1"])
    content = api.post("/v1/contents", {"name": "hello", "text": "hi"}, token=merchant.token).json["content_id"]
    # A rule target: its size is not known at activation, so the monthly quota binds while sending.
    target = {"kind": "rule", "rule": {"all": [{"field": "member_level", "op": "gte", "value": 0}]}}
    a = campaign_body(store, target, name="A store+item")
    a["action"]["coupons"].append({"coupon_id": item, "quantity": 1})
    plans = [(a, Counter(store=1, item=1)), (campaign_body(item, target, name="B item"), Counter(item=1)),
             (campaign_body(store, target, channel="inbox", content_id=content, name="C store message"),
              Counter(store=1, message=1))]
    out = {}
    for body, units in plans:
        cid = api.post("/v1/campaigns", body, token=merchant.token).json["campaign_id"]
        assert api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token).status == 200
        out[cid] = (api.get(f"/v1/campaigns/{cid}", token=merchant.token).json, units)
    return out


def _chunks(merchant_id: str, campaign_id: str, data: dict[str, Any], ids: list[str]) -> tuple[str, list[str]]:
    """The run and its chunks as the plan writes them (planning is not under test here: its output is)."""
    run = Run(merchant_id, run_id_for(merchant_id, campaign_id, NOW), campaign_id, NOW, data,
              RunStatus.SENDING, started_at=to_iso(NOW))
    campaign = view(campaign_id, "running", data)
    policy, coupons = wiring.dispatch.guardrail_policy(), wiring.coupons()
    size = chunk_size(coupons.items_per_recipient(merchant_id, campaign), coupons.fixed_items(campaign),
                      policy.items_per_recipient, policy.fixed_items(campaign))
    consent = frozenset({"wallet", "inbox"})
    chunks = [Chunk(merchant_id, run.run_id, f"00{n:05d}", [Recipient(c, consent=consent) for c in ids[i:i + size]],
                    campaign_id=campaign_id) for n, i in enumerate(range(0, len(ids), size))]
    store = wiring.run_store()
    commit([store.put_run_op(run)])
    for i in range(0, len(chunks), 50):
        commit([store.put_chunk_op(c, NOW) for c in chunks[i:i + 50]])
    return run.run_id, [c.chunk_id for c in chunks]


def test_no_customer_exceeds_a_cap_and_counters_equal_the_ledger_when_8_threads_race(api, merchant, clock, inbox,
                                                                                      atomic_moto):
    ids = [f"r{i:04d}" for i in range(CUSTOMERS)]
    settings = api.get("/v1/settings", token=merchant.token)
    body = {k: settings.json[k] for k in ("store_name", "timezone", "quiet_hours", "guardrails", "rfm")}
    body["guardrails"]["monthly_store_coupons"] = MONTHLY_STORE
    body["guardrails"]["audience_sends_per_day"] = 3  # the three campaigns send to one rule: one audience
    assert api.put("/v1/settings", body, token=merchant.token,
                   headers={"If-Match": str(settings.json["version"])}).status == 200
    clock.set(NOW)
    campaigns = _campaigns(api, merchant)
    runs = {cid: _chunks(merchant.id, cid, data, ids) for cid, (data, _) in campaigns.items()}
    # Interleaved: at any moment the threads hold chunks of different campaigns for the same customers.
    work = [(run_id, chunk_ids[n]) for n in range(max(len(c) for _, c in runs.values()))
            for run_id, chunk_ids in runs.values() if n < len(chunk_ids)]

    def deliver(task: tuple[str, str]) -> str:
        run_id, chunk_id = task
        for attempt in range(1, MAX_RECEIVES + 1):  # as SQS would redeliver a failed message
            try:
                return str(wiring.deliver_service().deliver_chunk(merchant.id, run_id, chunk_id,
                                                                  f"w{threading.get_ident()}", attempt, NOW))
            except RuntimeError:
                continue
        raise AssertionError(f"chunk {chunk_id} of {run_id} never settled")

    with ThreadPoolExecutor(THREADS) as pool:
        assert set(pool.map(deliver, work)) == {"done"}

    delivered: dict[str, Counter[str]] = defaultdict(Counter)  # customer -> units by kind, from the ledgers
    reached: dict[str, set[str]] = defaultdict(set)
    reasons: Counter[str] = Counter()
    for cid, (run_id, _) in runs.items():
        for chunk in wiring.run_store().chunks_of(merchant.id, run_id):
            for r in chunk.recipients:
                entry = chunk.ledger[r.customer_id]
                assert entry.outcome in (Outcome.SUCCEEDED, Outcome.SUPPRESSED), entry
                if entry.outcome is Outcome.SUCCEEDED:
                    delivered[r.customer_id].update(campaigns[cid][1])
                    reached[r.customer_id].add(cid)
                else:
                    reasons[str(entry.reason)] += 1
    for customer in ids:
        assert max(delivered[customer].values(), default=0) <= 1, (customer, delivered[customer])

    day = local_day(NOW, "Asia/Shanghai")
    items = wiring.guard_store().read([guard_key(merchant.id, c) for c in ids]
                                         + [coupons_key(merchant.id, month_key(day))])
    for customer in ids:
        guard = items.get(guard_key(merchant.id, customer), {})
        assert int(guard.get(f"ws_{week_key(day)}", 0)) == delivered[customer]["store"], customer
        assert int(guard.get(f"wi_{week_key(day)}", 0)) == delivered[customer]["item"], customer
        assert int(guard.get(f"md_{day_key(day)}", 0)) == delivered[customer]["message"], customer
        assert set(guard.get(f"rc_{day_key(day)}", ())) == reached[customer], customer
    month = items[coupons_key(merchant.id, month_key(day))]
    assert int(month["st"]) == sum(d["store"] for d in delivered.values()) == MONTHLY_STORE  # binds, exactly
    assert int(month["it"]) == sum(d["item"] for d in delivered.values())
    assert Counter(c for _, c in inbox.sent) == Counter({c: 1 for c, d in delivered.items() if d["message"]})
    assert {"cap_weekly_store_coupon", "quota_monthly_store_coupon", "cap_weekly_item_coupon"} <= set(reasons)
