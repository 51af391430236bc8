"""DynamoDB's transaction conflicts on moto, which never raises them: items held by in-flight transactions.

DynamoDB runs a TransactWriteItems in two phases and holds every item it names (ConditionCheck included) from the
first to the second. While an item is held (the Amazon DynamoDB Developer Guide, "Transaction conflict handling"):
- another TransactWriteItems naming it is cancelled: TransactionCanceledException whose CancellationReasons say
  `TransactionConflict` for the held items and `None` for the others, nothing written;
- a PutItem, UpdateItem or DeleteItem of it fails with TransactionConflictException, nothing written;
- a TransactGetItems naming it is cancelled the same way;
- a GetItem, Query, Scan or BatchGetItem succeeds and sees the last committed value (read-committed).

`Contention` patches moto's DynamoDB request handlers (in-process, so a ThreadedMotoServer started here serves
them too) to do exactly that: a transaction registers its items, stays in flight for `hold` seconds (the time
DynamoDB's two phases take; none by default), is applied, then releases them. With `serialize` every DynamoDB
request is also applied under one lock, as DynamoDB answers each request atomically (moto's backend is not
thread-safe), while the hold itself runs outside that lock so that concurrent workers overlap as on AWS; the
requests moto serves in-process for other services (SQS, SNS, SES, S3, DynamoDB Streams) take the same lock.
Nothing in chalicelib is changed or aware of it. When nothing overlaps every answer and every table is stock
moto's (tests/integration/test_contention.py runs the differential script with and without it).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.core.botocore_stubber import BotocoreStubber
from moto.dynamodb.exceptions import DynamodbException, TransactionCanceledException
from moto.dynamodb.responses import DynamoHandler

CONFLICT_MESSAGE = "Transaction is ongoing for the item"
WRITES = ("put_item", "update_item", "delete_item")
TRANSACTIONS = ("transact_write_items", "transact_get_items")
# Requests applied under the serializing lock besides the ones above (moto's backend is not thread-safe).
OTHERS = ("get_item", "batch_get_item", "batch_write_item", "query", "scan")
Key = tuple[str, str]  # (table, canonical JSON of the key attributes)


class TransactionConflict(DynamodbException):
    """What DynamoDB answers a single-item write of an item an in-flight transaction holds."""

    error_type = "com.amazonaws.dynamodb.v20120810#TransactionConflictException"

    def __init__(self) -> None:
        super().__init__(TransactionConflict.error_type, CONFLICT_MESSAGE)


@dataclass
class ContentionStats:
    """Conflicts raised, by operation; `transactions` counts the TransactWriteItems applied (whatever the answer)."""

    conflicts: Counter[str] = field(default_factory=Counter)
    transactions: int = 0

    @property
    def total(self) -> int:
        return sum(self.conflicts.values())


def _key_of(handler: DynamoHandler, table_name: str, attrs: dict[str, Any]) -> Key:
    table = handler.dynamodb_backend.get_table(table_name)
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return table.name, json.dumps({n: attrs.get(n) for n in names}, sort_keys=True)


def _items(handler: DynamoHandler, operation: str) -> list[Key]:
    """The items a request names, in its order (a malformed request names none: moto answers it as before)."""
    body = handler.body
    try:
        if operation in TRANSACTIONS:
            keys = []
            for entry in body["TransactItems"]:
                kind, spec = next(iter(entry.items()))
                keys.append(_key_of(handler, spec["TableName"], spec["Item"] if kind == "Put" else spec["Key"]))
            return keys
        return [_key_of(handler, body["TableName"], body["Item"] if operation == "put_item" else body["Key"])]
    except Exception:
        return []


class Contention:
    """Install once (nested installs are counted); `hold` seconds in flight per transaction."""

    def __init__(self, hold: float = 0.0, *, serialize: bool = True) -> None:
        self.hold = hold
        self.serialize = serialize
        self.stats = ContentionStats()
        self._registry = threading.Lock()
        self._apply = threading.RLock()
        self._held: dict[Key, int] = {}  # item -> the id of the transaction holding it
        self._next = 0
        self._originals: dict[str, Callable[..., Any]] = {}
        self._stub: Callable[..., Any] | None = None

    # -- installation ---------------------------------------------------------------------------
    def install(self) -> Contention:
        for name in (*WRITES, *TRANSACTIONS, *(OTHERS if self.serialize else ())):
            original = getattr(DynamoHandler, name)
            self._originals[name] = original
            setattr(DynamoHandler, name, self._wrap(name, original))
        if self.serialize:
            self._stub = BotocoreStubber.process_request
            lock, stub = self._apply, self._stub

            def process_request(stubber: BotocoreStubber, request: Any) -> Any:
                if "//dynamodb." in str(request.url):  # the handlers above take the lock when they apply
                    return stub(stubber, request)
                with lock:
                    return stub(stubber, request)

            BotocoreStubber.process_request = process_request  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        for name, original in self._originals.items():
            setattr(DynamoHandler, name, original)
        self._originals.clear()
        if self._stub is not None:
            BotocoreStubber.process_request = self._stub  # type: ignore[method-assign]
            self._stub = None
        with self._registry:
            self._held.clear()

    @contextmanager
    def installed(self) -> Iterator[Contention]:
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

    # -- holding --------------------------------------------------------------------------------
    @contextmanager
    def holding(self, table: str, key: dict[str, Any]) -> Iterator[None]:
        """Tests: hold one item (`key` as DynamoDB JSON) as an in-flight transaction would, for the block."""
        held = (table, json.dumps(key, sort_keys=True))
        with self._registry:
            self._next += 1
            self._held[held] = -self._next
        try:
            yield
        finally:
            with self._registry:
                self._held.pop(held, None)

    def in_flight(self) -> int:
        """Transactions holding items now."""
        with self._registry:
            return len(set(self._held.values()))

    def _take(self, keys: list[Key]) -> tuple[int, list[bool]]:
        """Register a transaction's items, or report which of them another transaction holds."""
        with self._registry:
            busy = [k in self._held for k in keys]
            if any(busy):
                return 0, busy
            self._next += 1
            for k in keys:
                self._held[k] = self._next
            return self._next, busy

    def _release(self, owner: int, keys: list[Key]) -> None:
        with self._registry:
            for k in keys:
                if self._held.get(k) == owner:
                    del self._held[k]

    # -- the handlers ---------------------------------------------------------------------------
    def _wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        layer = self

        def handle(handler: DynamoHandler) -> Any:
            return layer._handle(name, original, handler)

        handle.__name__ = name
        return handle

    def _applied(self, original: Callable[..., Any], handler: DynamoHandler) -> Any:
        if not self.serialize:
            return original(handler)
        with self._apply:
            return original(handler)

    def _handle(self, name: str, original: Callable[..., Any], handler: DynamoHandler) -> Any:
        if name in OTHERS:
            return self._applied(original, handler)
        keys = _items(handler, name)
        if name in WRITES:
            with self._registry:
                busy = any(k in self._held for k in keys)
            if busy:
                self._count(name)
                raise TransactionConflict()
            return self._applied(original, handler)
        if name == "transact_get_items":
            with self._registry:
                busy_items = [k in self._held for k in keys]
            if any(busy_items):
                self._count(name)
                raise _cancelled(busy_items)
            return self._applied(original, handler)
        owner, busy_items = self._take(keys)
        if not owner:
            self._count(name)
            raise _cancelled(busy_items)
        try:
            if self.hold > 0:
                time.sleep(self.hold)  # in flight: other requests run meanwhile and meet the held items
            return self._applied(original, handler)
        finally:
            self._release(owner, keys)
            with self._registry:
                self.stats.transactions += 1

    def _count(self, name: str) -> None:
        with self._registry:
            self.stats.conflicts[name] += 1


def _cancelled(busy: list[bool]) -> TransactionCanceledException:
    return TransactionCanceledException([("TransactionConflict", CONFLICT_MESSAGE, None) if b else (None, None, None)
                                         for b in busy])
