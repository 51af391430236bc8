"""PynamoDB storage of customers: a profile item and an activity item per customer, sharded per merchant."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.dynamo import commit, is_condition_failure, table_meta, transact_get
from chalicelib.core.tx import TX_MAX_BYTES, TX_MAX_ITEMS, TxCancelled, TxOp
from chalicelib.customers.activity_parts import ActivityTooLarge, Stored, decode, encode, part_sk
from chalicelib.customers.lookup import nickname_key, normalize_phone
from chalicelib.customers.rows import CustomerRow

PROFILE = "P"
ACTIVITY = "A"
PAGE_ROWS = 1000  # customers a shard page hands on
ACTIVITY_REREADS = 3  # reads of a heavy customer's activity before a write in flight is called a conflict
ITEM_OVERHEAD = 200  # bytes an activity or part item adds to its document (keys, stamp, revision)


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
    """pk `{merchant}#{shard:02d}`, sk `{customer}#P` (profile), `{customer}#A` (activity) and, for a heavy
    customer, `{customer}#A.{nn}` (the activity's further compressed pieces: customers.activity_parts)."""

    Meta = table_meta("customers")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    doc = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    rev = NumberAttribute(default=0)
    blob = BinaryAttribute(null=True, legacy_encoding=False)  # a compressed activity's piece (doc is then "")
    parts = NumberAttribute(null=True)  # part items beside a compressed activity item
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
        return self._rows(merchant_id, customer_ids, (PROFILE, ACTIVITY))

    def get_activity_rows(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, CustomerRow]:
        """Activity only (profile None) of several customers: half the keys of get_rows, 100 customers per
        BatchGetItem; what the stream consumer folds into."""
        return self._rows(merchant_id, customer_ids, (ACTIVITY,))

    def _rows(self, merchant_id: str, customer_ids: Iterable[str], kinds: tuple[str, ...]) -> dict[str, CustomerRow]:
        ids = sorted(set(customer_ids))
        keys = [(self.pk(merchant_id, c), f"{c}#{kind}") for c in ids for kind in kinds]
        found: dict[str, dict[str, CustomerItem]] = {}
        for item in CustomerItem.batch_get(keys, consistent_read=True):
            cid, kind = item.sk.rsplit("#", 1)
            found.setdefault(cid, {})[kind] = item
        return {cid: self.row(merchant_id, cid, found.get(cid, {})) for cid in ids}

    def row(self, merchant_id: str, customer_id: str, items: dict[str, CustomerItem]) -> CustomerRow:
        """One customer's row from its items by kind; a compressed activity whose part items were not all read
        (or were read at another revision) is read again, its items in one TransactGetItems."""
        known = items.get(ACTIVITY)
        parts: int | None = int(known.parts or 0) if known is not None else None
        for _ in range(ACTIVITY_REREADS):
            row = _row(customer_id, items)
            if row is not None:
                return row
            items = {k: v for k, v in items.items() if k == PROFILE}
            items.update(self._activity_items(merchant_id, customer_id, parts))
            parts = None  # read again: the activity item says how many parts it has now
        raise ActivityConflict(f"activity of {customer_id} kept changing while read")

    def _activity_items(self, merchant_id: str, customer_id: str, parts: int | None) -> dict[str, CustomerItem]:
        """The activity item and its `parts` part items (None: as many as the activity item names now), read
        together in one TransactGetItems (isolated from a write in flight)."""
        pk, sk = self.pk(merchant_id, customer_id), f"{customer_id}#{ACTIVITY}"
        if parts is None:
            try:
                main = CustomerItem.get(pk, sk, consistent_read=True)
            except CustomerItem.DoesNotExist:
                return {}
            parts = int(main.parts or 0)
            if not parts:
                return {ACTIVITY: main}
        with transact_get() as tx:
            futures = [tx.get(CustomerItem, pk, sk)] + [tx.get(CustomerItem, pk, part_sk(customer_id, ACTIVITY, n))
                                                        for n in range(1, parts + 1)]
        out: dict[str, CustomerItem] = {}
        for future in futures:
            try:
                item = future.get()
            except CustomerItem.DoesNotExist:
                continue
            out[item.sk.rsplit("#", 1)[1]] = item
        return out

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

    def save_activities(self, merchant_id: str, changes: list[tuple[str, dict[str, Any], int, int]], stamp: str
                        ) -> list[str]:
        """Write changed activity docs atomically, each conditional on the revision it was read at; returns the
        customers whose activity cannot be stored at all (ActivityTooLarge: their records fail, no one else's).

        A change is (customer, doc, revision read, part items read). One TransactWriteItems per ≤ 100 items and
        ≤ 4 MB (a heavy customer's parts count); a concurrent writer makes it fail as a whole, and the stream batch
        is retried (the fold is idempotent, so re-applying is safe).
        """
        refused: list[str] = []
        groups: list[list[TxOp]] = [[]]
        size = 0
        for cid, doc, rev, had in changes:
            try:
                stored = encode(doc)
            except ActivityTooLarge:
                refused.append(cid)
                continue
            ops = self._activity_ops(merchant_id, cid, stored, rev, had, stamp)
            weight = stored.size + ITEM_OVERHEAD * len(ops)
            if groups[-1] and (len(groups[-1]) + len(ops) > TX_MAX_ITEMS or size + weight > TX_MAX_BYTES):
                groups.append([])
                size = 0
            groups[-1].extend(ops)
            size += weight
        for ops in groups:
            try:
                commit(ops)
            except TxCancelled as exc:
                raise ActivityConflict(str(exc)) from exc
            except TransactWriteError as exc:
                if is_condition_failure(exc):  # still contended after commit's retries
                    raise ActivityConflict(str(exc)) from exc
                raise
        return refused

    def _activity_ops(self, merchant_id: str, cid: str, stored: Stored, rev: int, had: int, stamp: str
                      ) -> list[TxOp]:
        """The activity item (conditional on its revision) and its part items: put those it names, delete the
        ones a larger document left."""
        pk = self.pk(merchant_id, cid)
        first = stored.pieces[0] if stored.pieces else None
        main = CustomerItem(pk, f"{cid}#{ACTIVITY}", doc=stored.text or "", updated_at=stamp, rev=rev + 1, blob=first,
                            parts=stored.parts or None)
        condition = CustomerItem.sk.does_not_exist() if rev == 0 else CustomerItem.rev == rev
        ops = [TxOp("save", main, f"activity:{cid}", condition)]
        for n, piece in enumerate(stored.pieces[1:], start=1):
            ops.append(TxOp("save", CustomerItem(pk, part_sk(cid, ACTIVITY, n), doc="", updated_at=stamp,
                                                 rev=rev + 1, blob=piece), f"activity:{cid}:{n}"))
        ops += [TxOp("delete", CustomerItem(pk, part_sk(cid, ACTIVITY, n)), f"activity:{cid}:{n}")
                for n in range(stored.parts + 1, had + 1)]
        return ops

    def iter_shard(self, merchant_id: str, shard: int, page_size: int | None = None, after: str | None = None
                   ) -> Iterator[list[CustomerRow]]:
        """Pages of customers of one shard, in customer id order, profile and activity paired (after customer
        `after` when given: member paging; ids sort before '#~')."""
        condition = CustomerItem.sk > f"{after}#~" if after is not None else None
        yield from self.pages(merchant_id, CustomerItem.query(f"{merchant_id}#{shard:02d}", condition,
                                                              page_size=page_size))

    def iter_shard_after(self, merchant_id: str, shard: int, after: str | None) -> Iterator[list[CustomerRow]]:
        """iter_shard resumed after customer `after` (member paging)."""
        return self.iter_shard(merchant_id, shard, after=after)

    def pages(self, merchant_id: str, items: Iterable[CustomerItem]) -> Iterator[list[CustomerRow]]:
        """Rows of a shard's items in sk order (each customer's items are adjacent), 1,000 a page."""
        pending: dict[str, CustomerItem] = {}
        current: str | None = None
        page: list[CustomerRow] = []
        for item in items:
            cid, kind = item.sk.rsplit("#", 1)
            if current is not None and cid != current:
                page.append(self.row(merchant_id, current, pending))
                pending = {}
                if len(page) >= PAGE_ROWS:
                    yield page
                    page = []
            current = cid
            pending[kind] = item
        if current is not None:
            page.append(self.row(merchant_id, current, pending))
        if page:
            yield page

    def iter_all(self, merchant_id: str) -> Iterator[list[CustomerRow]]:
        for shard in range(self.shards):
            yield from self.iter_shard(merchant_id, shard)


def _row(cid: str, items: dict[str, CustomerItem]) -> CustomerRow | None:
    """A customer's row from its items by kind; None when a compressed activity's pieces are not all there at
    the activity's revision (a part missing, or read from another write)."""
    prof, act = items.get(PROFILE), items.get(ACTIVITY)
    activity: dict[str, Any] | None = None
    parts = 0
    if act is not None:
        parts = int(act.parts or 0)
        pieces: list[bytes] = [act.blob] if act.blob else []
        for n in range(1, parts + 1):
            part = items.get(part_kind(n))
            if part is None or part.rev != act.rev or not part.blob:
                return None
            pieces.append(part.blob)
        activity = decode(act.doc, pieces)
    return CustomerRow(cid, json.loads(prof.doc) if prof else None, activity, int(act.rev) if act else 0, parts)


def part_kind(n: int) -> str:
    return part_sk("", ACTIVITY, n)[1:]
