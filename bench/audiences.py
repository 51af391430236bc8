"""Benchmark: audience evaluation for a 50,000-customer merchant on in-process moto, and AWS requests of ingestion."""

from __future__ import annotations

import gc
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

CUSTOMERS = int(os.environ.get("BENCH_AUDIENCE_CUSTOMERS", "50000"))
E2E_CUSTOMERS = 2_000
E2E_ORDERS = 1_000
NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
TZ = "Asia/Shanghai"
PAGE_BYTES = 1_000_000  # what moto (like DynamoDB's "1 MB") returns per Query page at most
TARGET_RATE = 500_000
TARGET_RATIO = 1.1
RULE = {"all": [{"field": "orders_180d", "op": "gte", "value": 2}, {"field": "city_tier", "op": "lte", "value": 2},
                {"field": "tags", "op": "contains", "value": "白领"}]}
PUMP = {("dynamodb-streams", op) for op in ("GetRecords", "GetShardIterator", "DescribeStream")} | {
    ("sqs", op) for op in ("ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibility")}


def _env() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "MKT_PREFIX": "bench",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "POWERTOOLS_METRICS_DISABLED": "true"})
    os.environ.pop("AWS_ENDPOINT_URL", None)


def _fresh_clients() -> None:
    """Forget every boto3 / PynamoDB client, so the ones built next report to the request counter."""
    from pynamodb.models import Model

    from chalicelib import wiring

    wiring.reset()
    pending = list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        model._connection = None
        pending.extend(model.__subclasses__())


# -- data ---------------------------------------------------------------------------------------------------
def generate(n: int, seed: int = 11) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(profile doc as ingestion stores it, activity doc folded with the pure metrics functions) per customer."""
    from chalicelib.customers.metrics import apply_event, apply_order
    from chalicelib.customers.model import CustomerActivity, EventFact, OrderFact, activity_to_doc
    from infra.local.sample import BRANDS, NICK, REGIONS, STAFF

    rng = random.Random(seed)
    kinds = ["visit", "visit", "product_view", "live_watch", "live_interaction", "cart_view", "review", "follow"]
    for i in range(n):
        cid = f"c{i:06d}"
        brand, os_name = rng.choice(BRANDS)
        registered = NOW - timedelta(days=rng.randrange(1, 700))
        profile = {
            "customer_id": cid, "nickname": f"{rng.choice(NICK)}{i}", "phone": f"+86138{rng.randrange(10**8):08d}",
            "email": f"{cid}@example.com" if i % 3 == 0 else None, "gender": rng.choice(["male", "female", "unknown"]),
            "birthday": date(rng.randrange(1965, 2006), rng.randrange(1, 13), rng.randrange(1, 29)).isoformat(),
            "age_band": rng.choice(["18-24", "25-34", "35-44", "45+"]), "device_brand": brand, "device_os": os_name,
            "region": rng.choice(REGIONS), "city_tier": rng.randrange(1, 5),
            "registered_at": registered.strftime("%Y-%m-%dT%H:%M:%SZ"), "phone_bound": rng.random() < 0.8,
            "member_level": rng.randrange(0, 5), "fan_level": rng.randrange(0, 4), "is_follower": rng.random() < 0.4,
            "tags": rng.sample(["学生", "白领", "宝妈", "夜猫子", "吃货"], 2),
            "staff_owner": rng.choice(STAFF) if i % 4 == 0 else None,
            "consent": {"wallet": True, "inbox": True, "sms": rng.random() < 0.6, "email": i % 3 == 0,
                        "webhook": True, "staff_task": True},
            "cards": [], "risk_flag": False,
        }
        activity = CustomerActivity()
        for k in range([0, 1, 1, 2, 3, 4, 6, 2, 1, 0][i % 10]):
            at = NOW - timedelta(days=rng.randrange(0, 365), seconds=rng.randrange(86_400))
            status: Literal["paid", "refunded"] = "refunded" if rng.random() < 0.05 else "paid"
            fact = OrderFact(f"o{i}_{k}", cid, at, rng.randrange(990, 30_000), status)
            activity = apply_order(activity, fact, TZ, NOW)
        for k in range(rng.randrange(0, 7)):
            at = NOW - timedelta(days=rng.randrange(0, 60), seconds=rng.randrange(86_400))
            kind = rng.choice(kinds)
            activity = apply_event(activity, EventFact(f"e{i}_{k}", cid, kind, at,  # type: ignore[arg-type]
                                                       value=rng.randrange(3, 600), rating="good",
                                                       content="好" if kind == "review" else None), TZ, NOW)
        folded = activity != CustomerActivity()
        yield profile, json.loads(json.dumps(activity_to_doc(activity))) if folded else None


def load(merchant_id: str, data: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
    """Profiles with CustomerStore.put_profiles, activity items with BatchWriteItem (moto's transactions copy
    every table per call, which makes save_activities quadratic on a 100,000-item moto table)."""
    from chalicelib import wiring
    from chalicelib.customers.store import ACTIVITY, CustomerItem

    store = wiring.customer_store()
    for start in range(0, len(data), 500):
        store.put_profiles(merchant_id, [p for p, _ in data[start:start + 500]], "2026-11-23T01:00:00Z")
    with CustomerItem.batch_write() as batch:
        for profile, activity in data:
            if activity is not None:
                cid = profile["customer_id"]
                batch.save(CustomerItem(store.pk(merchant_id, cid), f"{cid}#{ACTIVITY}", rev=1,
                                        doc=json.dumps(activity, separators=(",", ":")),
                                        updated_at="2026-11-23T01:00:00Z"))


def shard_bytes(merchant_id: str) -> Counter[str]:
    """Item bytes per customer partition, as moto (and DynamoDB) size them for the 1 MB page limit."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.core.config import get_config

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(get_config().table("customers"))
    sizes: Counter[str] = Counter()
    for item in table.all_items():
        pk = str(item.hash_key.value)
        if pk.startswith(merchant_id + "#"):
            sizes[pk] += item.size()
    return sizes


# -- measurements -------------------------------------------------------------------------------------------
def rate(pred: Callable[[Any], bool], facts: list[Any]) -> tuple[float, int]:
    """Customers per second through one predicate (best of 5), and how many matched."""
    best, matched = math.inf, 0
    for _ in range(5):
        started = time.perf_counter()
        matched = 0
        for f in facts:
            if pred(f):
                matched += 1
        best = min(best, time.perf_counter() - started)
    return len(facts) / best, matched


def throughput(data: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> list[tuple[str, float, int]]:
    from chalicelib.audiences.builtin import BUILTIN_IDS, BuiltinEvaluator, RfmSettings, rfm_median
    from chalicelib.audiences.evaluate import facts_of
    from chalicelib.audiences.rules import compile_rule, parse_rule
    from chalicelib.audiences.tally import count_pass
    from chalicelib.customers.rows import CustomerRow

    rows = [CustomerRow(p["customer_id"], p, a) for p, a in data]
    started = time.perf_counter()
    facts = [facts_of(r, TZ, NOW) for r in rows]
    out = [("facts_as_of (decode + facts, per customer)", len(rows) / (time.perf_counter() - started), len(rows))]
    out.append(("3-condition rule", *rate(compile_rule(parse_rule(RULE), NOW, TZ), facts)))
    evaluator = BuiltinEvaluator(NOW, RfmSettings(), rfm_median(facts))
    out += [(aid, *rate(evaluator.predicate(aid), facts)) for aid in BUILTIN_IDS if aid.startswith("rfm_")]
    preds = {aid: evaluator.predicate(aid) for aid in BUILTIN_IDS}
    started = time.perf_counter()
    count_pass(facts, lambda f: f, preds, None)
    out.append((f"all {len(preds)} built-ins in one pass", len(facts) / (time.perf_counter() - started), 0))
    return out


def evaluation_requests(counter: Any, merchant_id: str) -> list[tuple[str, Counter[tuple[str, str]], float]]:
    """One full evaluation (moto needs ~1 ms per item, so just one) and single segments as the plan worker runs."""
    from chalicelib import wiring
    from chalicelib.audiences.builtin import BUILTIN_IDS
    from chalicelib.audiences.model import Selector, SelectorKind
    from chalicelib.audiences.rules import parse_rule

    engine = wiring.audience_engine()
    rule = Selector(SelectorKind.RULE, rule=parse_rule(RULE))
    hv = Selector(SelectorKind.BUILTIN, builtin_id="rfm_high_value")
    out = []

    def measure(label: str, run: Callable[[], object]) -> None:
        counter.reset()
        started = time.perf_counter()
        run()
        out.append((label, counter.snapshot(), time.perf_counter() - started))

    selectors = {"rule": rule, **{aid: Selector(SelectorKind.BUILTIN, builtin_id=aid) for aid in BUILTIN_IDS}}
    measure(f"3-condition rule + all {len(BUILTIN_IDS)} built-ins, all shards", lambda: engine.counts(
        merchant_id, selectors, NOW))
    measure("3-condition rule: iter_members, one segment", lambda: sum(len(p) for p in engine.iter_members(
        merchant_id, rule, NOW, shard=3)))
    measure("rfm_high_value: one segment, median cached", lambda: sum(len(p) for p in engine.iter_members(
        merchant_id, hv, NOW, shard=3)))
    return out


def ingestion_requests(counter: Any) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]], int]:
    """(API requests, stream-consumer requests, orders accepted) for E2E_ORDERS orders; a fresh moto world."""
    import moto

    with moto.mock_aws():
        _fresh_clients()
        import app as handlers
        from chalicelib import wiring
        from infra.local.gateway import ApiClient
        from infra.local.provision import provision
        from infra.local.runtime import LocalRuntime

        provision()
        wiring.set_clock(lambda: NOW)
        merchant, issued = wiring.tenancy_service().create_merchant("Bench ingestion")
        load(merchant.merchant_id, list(generate(E2E_CUSTOMERS, seed=5)))
        runtime = LocalRuntime(handlers, now=NOW)
        runtime.set_time(NOW)
        api = ApiClient(handlers.app)
        rng = random.Random(3)
        buyers = rng.sample(range(E2E_CUSTOMERS), E2E_ORDERS)
        orders = [{"order_id": f"e2e{k}", "customer_id": f"c{c:06d}", "amount_fen": rng.randrange(990, 30_000),
                   "paid_at": (NOW - timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ"), "status": "paid"}
                  for k, c in enumerate(buyers)]
        counter.reset()
        accepted = 0
        for start in range(0, len(orders), 500):
            accepted += api.post("/v1/orders/batch", {"items": orders[start:start + 500]}, token=issued.token
                                 ).json["accepted"]
        api_counts = counter.snapshot()
        counter.reset()
        runtime.drain()
        stream_counts = counter.snapshot()
        wiring.set_clock(lambda: datetime.now(UTC))
    return api_counts, stream_counts, accepted


# -- report -------------------------------------------------------------------------------------------------
def _ops(counts: Counter[tuple[str, str]]) -> str:
    return ", ".join(f"{op} {n}" for (_, op), n in sorted(counts.items(), key=lambda kv: -kv[1]))


def main() -> int:
    _env()
    from bench.counting import RequestCounter

    counter = RequestCounter().install()
    import moto

    from devtools import fastmoto

    fastmoto.install()  # transactions, sorts, partition Queries, read dumps: stock moto's answers at 100,000 items
    started = time.perf_counter()
    print(f"audience bench: {CUSTOMERS:,} customers, in-process moto, as_of {NOW:%Y-%m-%dT%H:%M:%SZ}")
    with moto.mock_aws():
        _fresh_clients()
        from chalicelib import wiring
        from infra.local.provision import provision

        provision()
        wiring.set_clock(lambda: NOW)
        merchant, _ = wiring.tenancy_service().create_merchant("Bench audiences")
        mid = merchant.merchant_id
        data = list(generate(CUSTOMERS))
        gc.collect()
        gc.freeze()  # the 50,000 generated documents are long-lived: keep them out of every collection
        print(f"  generated and folded in {time.perf_counter() - started:.0f}s")
        load(mid, data)
        sizes = shard_bytes(mid)
        total = sum(sizes.values())
        ideal = math.ceil(total / PAGE_BYTES)
        floor = sum(math.ceil(b / PAGE_BYTES) for b in sizes.values())
        print(f"  loaded {2 * len(data) - sum(a is None for _, a in data):,} items, {total / 1e6:.1f} MB, "
              f"in {time.perf_counter() - started:.0f}s")
        print("\n(a) in-process evaluation over precomputed CustomerFacts (one core)")
        print(f"  {'predicate':<46}{'customers/s':>14}{'members':>10}")
        rates = throughput(data)
        for label, per_s, members in rates:
            print(f"  {label:<46}{per_s:>14,.0f}{members:>10,}")
        slowest = min(r for label, r, _ in rates[1:-1])
        print(f"  slowest predicate {slowest:,.0f}/s — target ≥ {TARGET_RATE:,}/s: "
              f"{'met' if slowest >= TARGET_RATE else 'MISSED'}")
        print(f"\n(b) AWS requests to evaluate one audience; customers occupy {total:,} bytes = {ideal} pages of 1 MB "
              f"({len(sizes)} shards: at least {floor} Query pages)")
        print(f"  {'evaluation':<50}{'requests':>9}{'ratio':>7}{'secs':>6}  by operation")
        measured = evaluation_requests(counter, mid)
        for label, counts, secs in measured:
            n = sum(counts.values())
            print(f"  {label:<50}{n:>9}{n / ideal:>7.2f}{secs:>6.0f}  {_ops(counts)}")
        full_ratio = sum(measured[0][1].values()) / ideal  # the first is the whole audience, all shards
        print(f"  whole audience {full_ratio:.2f}× its pages — target ≤ {TARGET_RATIO}×: "
              f"{'met' if full_ratio <= TARGET_RATIO else 'MISSED'}")
        print(f"  an RFM audience with a cold median cache adds one full pass ({floor} Query pages) + a PutItem;\n"
              f"  the plan worker avoids it by calling engine.prepare() once before fanning segments out")
        wiring.set_clock(lambda: datetime.now(UTC))
    api_counts, stream_counts, accepted = ingestion_requests(counter)
    app_stream = Counter({k: v for k, v in stream_counts.items() if k not in PUMP})
    pump = Counter({k: v for k, v in stream_counts.items() if k in PUMP})
    per = 1000 / accepted
    print(f"\n(c) AWS requests per 1,000 orders ingested end to end ({accepted:,} orders, "
          f"{E2E_ORDERS:,} customers)")
    print(f"  API (POST /v1/orders/batch)        {sum(api_counts.values()) * per:>6.1f}  {_ops(api_counts)}")
    print(f"  stream consumer + hooks            {sum(app_stream.values()) * per:>6.1f}  {_ops(app_stream)}")
    print(f"  total issued by the application    {(sum(api_counts.values()) + sum(app_stream.values())) * per:>6.1f}")
    print(f"  local event pump (Lambda's poller on AWS, not billed as requests) {sum(pump.values()) * per:.1f}: "
          f"{_ops(pump)}")
    print(f"\naudience bench took {time.perf_counter() - started:.0f}s (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")
    return 0 if slowest >= TARGET_RATE and full_ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
