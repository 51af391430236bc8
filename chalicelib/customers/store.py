"""PynamoDB storage of customers: a profile item and an activity item per customer, sharded per merchant."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.dynamo import commit, is_condition_failure, table_meta
from chalicelib.core.tx import TX_MAX_ITEMS, TxCancelled, TxOp
from chalicelib.customers.lookup import nickname_key, normalize_phone
from chalicelib.customers.rows import CustomerRow

PROFILE = "P"
ACTIVITY = "A"


def shard_of(customer_id: str, shards: int) -> int:
    """Stable shard of a customer id; shards let audience evaluation run as parallel segments."""
    return int(hashlib.sha1(customer_id.encode()).hexdigest()[:8], 16) % shards


class PhoneIndex(GlobalSecondaryIndex["CustomerItem"]):  # type: ignore[no-untyped-call]
    """gsi1: `{merchant}#PHONE#{phone}` → customer id (list audiences found by phone)."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class NicknameIndex(GlobalSecondaryIndex["CustomerItem"]):  # type: ignore[no-untyped-call]
    """gsi2: `{merchant}#NICK#{nickname}` → customer id (list audiences found by exact nickname, 004 精确搜索)."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


def phone_key(merchant_id: str, phone: str) -> str:
    return f"{merchant_id}#PHONE#{normalize_phone(phone)}"


def nickname_index_key(merchant_id: str, nickname: str) -> str:
    return f"{merchant_id}#NICK#{nickname_key(nickname)}"


class CustomerItem(Model):
    """pk `{merchant}#{shard:02d}`, sk `{customer}#P` (profile) or `{customer}#A` (activity)."""

    Meta = table_meta("customers")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    doc = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    rev = NumberAttribute(default=0)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    by_phone = PhoneIndex()
    by_nickname = NicknameIndex()


class ActivityConflict(Exception):
    """Another writer changed an activity item first; the batch is retried."""


class CustomerStore:
    """Reads and writes customers of one deployment."""

    def __init__(self, shards: int) -> None:
        self.shards = shards

    def pk(self, merchant_id: str, customer_id: str) -> str:
        return f"{merchant_id}#{shard_of(customer_id, self.shards):02d}"

    def put_profiles(self, merchant_id: str, profiles: list[dict[str, Any]], stamp: str) -> None:
        """Upsert profiles (whole replacement) with BatchWriteItem, 25 per request; the profile item is indexed by
        its normalised phone (gsi1) and its nickname (gsi2), sparsely."""
        with CustomerItem.batch_write() as batch:
            for p in profiles:
                cid = p["customer_id"]
                phone = p.get("phone")
                nickname = nickname_key(p.get("nickname") or "")
                batch.save(CustomerItem(
                    self.pk(merchant_id, cid), f"{cid}#{PROFILE}", doc=json.dumps(p, separators=(",", ":")),
                    updated_at=stamp, gsi1pk=phone_key(merchant_id, phone) if phone else None,
                    gsi1sk=cid if phone else None,
                    gsi2pk=nickname_index_key(merchant_id, nickname) if nickname else None,
                    gsi2sk=cid if nickname else None))

    def get_rows(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, CustomerRow]:
        """Profile and activity of several customers with BatchGetItem (100 keys per request)."""
        ids = sorted(set(customer_ids))
        keys = [(self.pk(merchant_id, c), f"{c}#{kind}") for c in ids for kind in (PROFILE, ACTIVITY)]
        found: dict[str, dict[str, CustomerItem]] = {}
        for item in CustomerItem.batch_get(keys, consistent_read=True):
            cid, kind = item.sk.rsplit("#", 1)
            found.setdefault(cid, {})[kind] = item
        rows = {}
        for cid in ids:
            parts = found.get(cid, {})
            prof, act = parts.get(PROFILE), parts.get(ACTIVITY)
            rows[cid] = CustomerRow(cid, json.loads(prof.doc) if prof else None,
                                    json.loads(act.doc) if act else None, int(act.rev) if act else 0)
        return rows

    def get_activity_rows(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, CustomerRow]:
        """Activity only (profile None) of several customers: half the keys of get_rows, 100 customers per
        BatchGetItem; what the stream consumer folds into."""
        ids = sorted(set(customer_ids))
        keys = [(self.pk(merchant_id, c), f"{c}#{ACTIVITY}") for c in ids]
        found = {item.sk.rsplit("#", 1)[0]: item for item in CustomerItem.batch_get(keys, consistent_read=True)}
        return {cid: CustomerRow(cid, None, json.loads(act.doc) if act else None, int(act.rev) if act else 0)
                for cid in ids for act in (found.get(cid),)}

    def get_row(self, merchant_id: str, customer_id: str) -> CustomerRow | None:
        row = self.get_rows(merchant_id, [customer_id])[customer_id]
        return row if (row.profile or row.activity) else None

    def find_by_phone(self, merchant_id: str, phone: str) -> list[str]:
        """Customer ids with this phone (the same number however it is written), through gsi1."""
        return [item.gsi1sk for item in CustomerItem.by_phone.query(phone_key(merchant_id, phone)) if item.gsi1sk]

    def find_by_nickname(self, merchant_id: str, nickname: str) -> list[str]:
        """Customer ids whose nickname is exactly this one, through gsi2."""
        return [item.gsi2sk for item in CustomerItem.by_nickname.query(nickname_index_key(merchant_id, nickname))
                if item.gsi2sk]

    def save_activities(self, merchant_id: str, changes: list[tuple[str, dict[str, Any], int]], stamp: str) -> None:
        """Write changed activity docs atomically, each conditional on the revision it was read at.

        One TransactWriteItems per 100 customers; a concurrent writer makes it fail as a whole, and the
        stream batch is retried (the fold is idempotent, so re-applying is safe).
        """
        for start in range(0, len(changes), TX_MAX_ITEMS):
            ops = [TxOp("save", CustomerItem(self.pk(merchant_id, cid), f"{cid}#{ACTIVITY}",
                                             doc=json.dumps(doc, separators=(",", ":")), updated_at=stamp, rev=rev + 1),
                        f"activity:{cid}", CustomerItem.sk.does_not_exist() if rev == 0 else CustomerItem.rev == rev)
                   for cid, doc, rev in changes[start:start + TX_MAX_ITEMS]]
            try:
                commit(ops)
            except TxCancelled as exc:
                raise ActivityConflict(str(exc)) from exc
            except TransactWriteError as exc:
                if is_condition_failure(exc):  # still contended after commit's retries
                    raise ActivityConflict(str(exc)) from exc
                raise

    def iter_shard(self, merchant_id: str, shard: int, page_size: int | None = None) -> Iterator[list[CustomerRow]]:
        """Pages of customers of one shard, in customer id order, profile and activity paired."""
        pending: dict[str, CustomerItem] = {}
        current: str | None = None
        page: list[CustomerRow] = []
        results = CustomerItem.query(f"{merchant_id}#{shard:02d}", page_size=page_size)
        for item in results:
            cid, kind = item.sk.rsplit("#", 1)
            if current is not None and cid != current:
                page.append(_row(current, pending))
                pending = {}
            current = cid
            pending[kind] = item
            if len(page) >= 1000:
                yield page
                page = []
        if current is not None:
            page.append(_row(current, pending))
        if page:
            yield page

    def iter_all(self, merchant_id: str) -> Iterator[list[CustomerRow]]:
        for shard in range(self.shards):
            yield from self.iter_shard(merchant_id, shard)


def _row(cid: str, parts: dict[str, CustomerItem]) -> CustomerRow:
    prof, act = parts.get(PROFILE), parts.get(ACTIVITY)
    return CustomerRow(cid, json.loads(prof.doc) if prof else None, json.loads(act.doc) if act else None,
                       int(act.rev) if act else 0)
