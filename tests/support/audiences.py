"""Audience-engine doubles over fake shards (no AWS): customers, stored members, medians, records, sample rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from chalicelib.audiences.builtin import RfmSettings
from chalicelib.audiences.evaluate import AudienceEngine, MerchantContext
from chalicelib.core.records import Record
from chalicelib.customers.metrics import apply_order
from chalicelib.customers.model import CustomerActivity, OrderFact, activity_to_doc
from chalicelib.customers.rows import CustomerRow

TZ = "Asia/Shanghai"
AS_OF = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
SHARDS = 4


def shard(cid: str) -> int:
    return sum(cid.encode()) % SHARDS


def row(cid: str, orders: Iterable[tuple[float, int]] = (), **profile: Any) -> CustomerRow:
    activity = CustomerActivity()
    for n, (days_ago, amount) in enumerate(orders):
        fact = OrderFact(f"{cid}-{n}", cid, AS_OF - timedelta(days=days_ago), amount, "paid")
        activity = apply_order(activity, fact, TZ, AS_OF)
    return CustomerRow(cid, {"customer_id": cid, "nickname": f"n{cid}", **profile},
                       activity_to_doc(activity) if orders else None)


class FakeCustomers:
    shards = SHARDS

    def __init__(self, rows: list[CustomerRow]) -> None:
        self.rows = {r.customer_id: r for r in rows}
        self.segment_reads = 0

    def iter_shard(self, merchant_id: str, shard_no: int, page_size: int | None = None
                     ) -> Iterator[list[CustomerRow]]:
        self.segment_reads += 1
        yield from self.after(merchant_id, shard_no, None)

    def after(self, merchant_id: str, shard_no: int, after: str | None) -> Iterator[list[CustomerRow]]:
        ids = sorted(c for c in self.rows if shard(c) == shard_no and (after is None or c > after))
        for start in range(0, len(ids), 3):  # small pages, to cross page boundaries
            yield [self.rows[c] for c in ids[start:start + 3]]

    def get_rows(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, CustomerRow]:
        return {c: self.rows[c] for c in customer_ids if c in self.rows}


class FakeMembers:
    def __init__(self, stored: dict[str, list[str]] | None = None) -> None:
        self.stored = stored or {}

    def shard_of(self, customer_id: str) -> int:
        return shard(customer_id)

    def iter_ids(self, merchant_id: str, audience_id: str, shard_no: int, after: str | None = None
                 ) -> Iterator[list[str]]:
        ids = sorted(c for c in self.stored[audience_id] if shard(c) == shard_no and (after is None or c > after))
        if ids:
            yield ids


class FakeMedians:
    def __init__(self) -> None:
        self.values: dict[datetime, Fraction | None] = {}

    def get(self, merchant_id: str, as_of: datetime) -> tuple[bool, Fraction | None]:
        return (as_of in self.values), self.values.get(as_of)

    def put(self, merchant_id: str, as_of: datetime, median: Fraction | None) -> None:
        self.values[as_of] = median


class FakeRepo:
    kind = "AUDIENCE"

    def __init__(self, records: dict[str, Record]) -> None:
        self.records = records

    def get(self, merchant_id: str, item_id: str) -> Record | None:
        return self.records.get(item_id)


def engine(rows: list[CustomerRow], rfm: RfmSettings | None = None, stored: dict[str, list[str]] | None = None,
           records: dict[str, Record] | None = None) -> tuple[AudienceEngine, FakeCustomers, FakeMedians]:
    customers, medians = FakeCustomers(rows), FakeMedians()
    eng = AudienceEngine(customers, FakeMembers(stored), medians, FakeRepo(records or {}),  # type: ignore[arg-type]
                         lambda m: MerchantContext(TZ, rfm or RfmSettings()), customers.after)
    return eng, customers, medians


ROWS = [row("a", [(3, 9000), (10, 9000)], staff_owner="s1", phone="+8613800001111", email="a@x.cn"),
        row("b", [(5, 20000)], staff_owner="s2"), row("c", [(4, 100), (20, 100)]), row("d", [(2, 50)]),
        row("e", [(60, 15000), (100, 15000)]), row("f", [(100, 80), (120, 80)]), row("g"), row("h", staff_owner="s1")]
