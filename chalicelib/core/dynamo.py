"""PynamoDB plumbing shared by stores: table Meta, transactions (commit), and the generic definitions repository."""

from __future__ import annotations

import builtins
import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib.core.clock import to_iso
from chalicelib.core.config import get_config
from chalicelib.core.errors import Conflict, Invalid, NotFound, PreconditionFailed
from chalicelib.core.records import AlreadyExists, Record
from chalicelib.core.tx import TxCancelled, TxOp

CONFLICT_RETRIES = 3
# PynamoDB sends condition checks, then deletes, then puts, then updates: cancellation reasons follow it.
_RANK = {"check": 0, "delete": 1, "save": 2, "update": 3}


def table_meta(logical: str) -> Any:
    """A PynamoDB Meta class for a logical table, from the process config."""
    cfg = get_config()

    class Meta:
        table_name = cfg.table(logical)
        region = cfg.region
        host = cfg.endpoint_url
        max_retry_attempts = 8

    return Meta


@lru_cache(maxsize=1)
def _connection() -> Connection:
    cfg = get_config()
    return Connection(region=cfg.region, host=cfg.endpoint_url, max_retry_attempts=8)


def transact_get() -> TransactGet:
    """A TransactGetItems context (≤100 items, read together: isolated from any write in flight)."""
    return TransactGet(connection=_connection())


def transact_write() -> TransactWrite:
    """A TransactWriteItems context (≤100 items, all or nothing) on the process's connection."""
    return TransactWrite(connection=_connection())


def commit(ops: Sequence[TxOp]) -> None:
    """Write `ops` (≤ core.tx.TX_MAX_ITEMS) all or nothing; raise TxCancelled naming the failed conditions.

    A cancellation only for TransactionConflict (another transaction held one of the items, e.g. a merchant's
    quota counter that every chunk writes) wrote nothing: the same transaction is sent again a few times after
    a jittered pause before the error goes to the caller's retry.
    """
    if not ops:
        return
    ordered = sorted(ops, key=lambda op: _RANK[op.kind])
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            _write(ordered)
            return
        except TransactWriteError as exc:
            if not is_condition_failure(exc):
                raise
            reasons = [r.code if r is not None else None for r in exc.cancellation_reasons or []]
            failed = [ordered[i].tag for i, code in enumerate(reasons)
                      if code == "ConditionalCheckFailed" and i < len(ordered)]
            if not failed and "TransactionConflict" in reasons:
                if attempt < CONFLICT_RETRIES:
                    time.sleep(random.uniform(0.02, 0.08) * 2 ** attempt)
                    continue
                raise  # still contended: let the caller's retry take it
            raise TxCancelled(failed) from exc


def _write(ordered: Sequence[TxOp]) -> None:
    with transact_write() as tx:
        for op in ordered:
            if op.kind == "save":
                tx.save(op.model, condition=op.condition)
            elif op.kind == "update":
                tx.update(op.model, actions=list(op.actions), condition=op.condition, add_version_condition=False)
            elif op.kind == "delete":
                tx.delete(op.model, condition=op.condition, add_version_condition=False)
            else:  # every table is keyed by string `pk` and `sk` (core.resources)
                key = op.model.attribute_values
                tx.condition_check(type(op.model), key["pk"], key["sk"], condition=op.condition)


def reset_connection() -> None:
    _connection.cache_clear()


def is_condition_failure(exc: Exception) -> bool:
    """True when a PynamoDB write failed only because its condition did not hold."""
    code = getattr(exc, "cause_response_code", None)
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


class DefinitionItem(Model):
    """Envelope of every merchant-owned definition: pk=merchant, sk=KIND#id, body as JSON."""

    Meta = table_meta("definitions")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    item_id = UnicodeAttribute()
    data = JSONAttribute()
    status = UnicodeAttribute(null=True)
    label = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    idem_fp = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    version = VersionAttribute()


class KeyItem(DefinitionItem):
    """An API key (its hash): its own table, so that only the functions that manage keys may write one."""

    Meta = table_meta("keys")


def _record(item: DefinitionItem) -> Record:
    return Record(item.pk, item.kind, item.item_id, dict(item.data or {}), int(item.version or 0),
                  item.created_at, item.updated_at, item.status, item.label, item.idem_fp)


class DefinitionRepo:
    """CRUD with optimistic locking and cursor paging for one kind of definition."""

    def __init__(self, kind: str, model: type[DefinitionItem] = DefinitionItem) -> None:
        self.kind = kind
        self._model = model

    def _sk(self, item_id: str) -> str:
        return f"{self.kind}#{item_id}"

    def _load(self, merchant_id: str, item_id: str) -> DefinitionItem | None:
        try:
            return self._model.get(merchant_id, self._sk(item_id), consistent_read=True)
        except self._model.DoesNotExist:
            return None

    def get(self, merchant_id: str, item_id: str) -> Record | None:
        item = self._load(merchant_id, item_id)
        return _record(item) if item else None

    def require(self, merchant_id: str, item_id: str) -> Record:
        record = self.get(merchant_id, item_id)
        if record is None:
            raise NotFound(f"no {self.kind.lower()} {item_id}", field="path.id")
        return record

    def create(self, merchant_id: str, item_id: str, data: dict[str, Any], now: datetime, *,
               status: str | None = None, label: str | None = None, name: str | None = None,
               idem_fp: str | None = None) -> Record:
        stamp = to_iso(now)
        item = self._model(merchant_id, self._sk(item_id), kind=self.kind, item_id=item_id, data=data,
                              status=status, label=label, name=name, idem_fp=idem_fp,
                              created_at=stamp, updated_at=stamp)
        try:
            item.save(condition=self._model.pk.does_not_exist())
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            existing = self.get(merchant_id, item_id)
            if existing is None:
                raise
            raise AlreadyExists(existing) from exc
        return _record(item)

    def update(self, merchant_id: str, item_id: str, data: dict[str, Any], now: datetime, *,
               expected_version: int | None, status: str | None = None, label: str | None = None,
               name: str | None = None) -> Record:
        item = self._load(merchant_id, item_id)
        if item is None:
            raise NotFound(f"no {self.kind.lower()} {item_id}", field="path.id")
        if expected_version is not None and int(item.version or 0) != expected_version:
            raise PreconditionFailed(f"version {expected_version} is stale; current is {item.version}",
                                     field="header.If-Match")
        item.data = data
        item.status = status
        item.label = label
        item.name = name
        item.updated_at = to_iso(now)
        try:
            item.save()
        except PutError as exc:
            if is_condition_failure(exc):
                raise PreconditionFailed("the item changed while you were updating it",
                                         field="header.If-Match") from exc
            raise
        return _record(item)

    def set_status(self, merchant_id: str, item_id: str, status: str, now: datetime, *,
                   expected_status: tuple[str, ...], data_updates: dict[str, Any] | None = None) -> Record:
        """Atomically move status from one of `expected_status` (409 otherwise)."""
        item = self._load(merchant_id, item_id)
        if item is None:
            raise NotFound(f"no {self.kind.lower()} {item_id}", field="path.id")
        if item.status not in expected_status:
            raise Conflict(f"{self.kind.lower()} is {item.status}; allowed from {', '.join(expected_status)}",
                           field="status")
        # PynamoDB's update() bumps the VersionAttribute itself (adding it here again is a ValidationException).
        actions: list[Any] = [self._model.status.set(status), self._model.updated_at.set(to_iso(now))]
        if data_updates:
            merged = dict(item.data or {})
            merged.update(data_updates)
            actions.append(self._model.data.set(merged))
        try:
            item.update(actions=actions, condition=self._model.status.is_in(*expected_status)
                        & (self._model.version == item.version))
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise Conflict(f"{self.kind.lower()} changed state concurrently; retry", field="status") from exc
            raise
        return _record(item)

    def delete(self, merchant_id: str, item_id: str, *, expected_version: int | None = None) -> None:
        item = self._load(merchant_id, item_id)
        if item is None:
            raise NotFound(f"no {self.kind.lower()} {item_id}", field="path.id")
        if expected_version is not None and int(item.version or 0) != expected_version:
            raise PreconditionFailed(f"version {expected_version} is stale; current is {item.version}",
                                     field="header.If-Match")
        try:
            item.delete(condition=self._model.version == item.version)
        except DeleteError as exc:
            if is_condition_failure(exc):
                raise PreconditionFailed("the item changed while you were deleting it",
                                         field="header.If-Match") from exc
            raise

    def list(self, merchant_id: str, *, limit: int = 50, start_key: dict[str, Any] | None = None,
             status: str | None = None, label: str | None = None, where: Callable[[Record], bool] | None = None
             ) -> tuple[list[Record], dict[str, Any] | None]:
        """A page of this kind's definitions in id order; `where` keeps only the records it accepts (a test on the
        body, which DynamoDB cannot filter on: it reads on until the page is full or the list ends)."""
        if where is not None:
            return self._list_where(merchant_id, limit, start_key, status, label, where)
        if start_key is not None and not _resumes(start_key, merchant_id, self.kind):
            # Another list's cursor would make DynamoDB refuse the query (a ValidationException, i.e. a 500).
            raise Invalid("cursor belongs to another list", field="query.cursor")
        condition: Condition | None = None
        if status is not None:
            condition = self._model.status == status
        if label is not None:
            label_cond = self._model.label == label
            condition = label_cond if condition is None else condition & label_cond
        results = self._model.query(merchant_id, self._model.sk.startswith(f"{self.kind}#"),
                                       filter_condition=condition, limit=limit,
                                       last_evaluated_key=start_key, consistent_read=True)
        records = [_record(item) for item in results]
        last = results.last_evaluated_key if len(records) >= limit else None
        return records, last

    def _list_where(self, merchant_id: str, limit: int, start_key: dict[str, Any] | None, status: str | None,
                    label: str | None, where: Callable[[Record], bool]
                    ) -> tuple[builtins.list[Record], dict[str, Any] | None]:
        kept: builtins.list[Record] = []
        key = start_key
        while True:
            page, key = self.list(merchant_id, limit=limit, start_key=key, status=status, label=label)
            for record in page:
                if where(record):
                    kept.append(record)
                    if len(kept) == limit:
                        # The cursor resumes after the last record shown, wherever in DynamoDB's page it was.
                        return kept, {"pk": {"S": merchant_id}, "sk": {"S": self._sk(record.id)}}
            if key is None:
                return kept, None

    def count(self, merchant_id: str) -> int:
        return self._model.count(merchant_id, self._model.sk.startswith(f"{self.kind}#"))

    def iter_all(self, merchant_id: str) -> builtins.list[Record]:
        return [_record(i) for i in self._model.query(merchant_id, self._model.sk.startswith(f"{self.kind}#"))]


def _resumes(start_key: dict[str, Any], merchant_id: str, kind: str) -> bool:
    """The cursor is a last key of this merchant's list of this kind (base table: pk and sk only)."""
    pk, sk = start_key.get("pk"), start_key.get("sk")
    return (set(start_key) == {"pk", "sk"} and isinstance(pk, dict) and pk.get("S") == merchant_id
            and isinstance(sk, dict) and str(sk.get("S", "")).startswith(f"{kind}#"))
