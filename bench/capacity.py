"""DynamoDB capacity units by DynamoDB's billing rules, from the real item images moto holds before and after writes.

moto bills nothing, so the meter wraps moto's DynamoDB request handlers (in-process): before a write it reads every
item the request names, after it reads them again, and charges per item the started KB of the larger image (twice
inside TransactWriteItems; a ConditionCheck and a failed condition are charged for the item as it is, a failed Put
for the larger of the stored and the offered item), plus the writes each global secondary index takes (an entry
put, replaced or deleted: started KB of the projected item). Reads: started 4 KB per item for GetItem and
BatchGetItem, per request total for Query and Scan (every item evaluated, as stored in full: a projection saves
nothing), halved when eventually consistent, doubled in TransactGetItems. Install it before devtools.contention so
that its reads run inside the contention layer's serializing lock. Requests cancelled by a conflict are not charged.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.responses import DynamoHandler

from chalicelib.core.itemsize import KB, read_units, typed_item_size, write_units

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
READS = ("get_item", "batch_get_item", "transact_get_items", "query", "scan")
Image = dict[str, Any] | None
Labeler = Callable[[str, dict[str, Any]], str]  # (table, item key or image) -> what kind of item it is


@dataclass
class Units:
    """Capacity units by item kind: table writes, index writes, reads; `items` written per kind."""

    writes: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    index_writes: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    reads: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    items: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    largest: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))  # bytes, per kind

    @property
    def write_total(self) -> float:
        return sum(self.writes.values()) + sum(self.index_writes.values())

    @property
    def read_total(self) -> float:
        return sum(self.reads.values())


def plain_label(table: str, _item: dict[str, Any]) -> str:
    return table


class CapacityMeter:
    """Charges every DynamoDB request moto serves while installed; `reset()` between scenarios."""

    def __init__(self, label: Labeler = plain_label) -> None:
        self.label = label
        self.units = Units()
        self._lock = threading.Lock()
        self._originals: dict[str, Callable[..., Any]] = {}

    def install(self) -> CapacityMeter:
        for name in (*WRITES, *READS):
            original = getattr(DynamoHandler, name)
            self._originals[name] = original
            setattr(DynamoHandler, name, self._wrap(name, original))
        return self

    def uninstall(self) -> None:
        for name, original in self._originals.items():
            setattr(DynamoHandler, name, original)
        self._originals.clear()

    @contextmanager
    def installed(self) -> Iterator[CapacityMeter]:
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

    def reset(self) -> None:
        with self._lock:
            self.units = Units()

    def _wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        meter = self

        def handle(handler: DynamoHandler) -> Any:
            if name in WRITES:
                return meter._write(name, original, handler)
            return meter._read(name, original, handler)

        handle.__name__ = name
        return handle

    # -- writes ---------------------------------------------------------------------------------
    def _write(self, name: str, original: Callable[..., Any], handler: DynamoHandler) -> Any:
        targets = _write_targets(handler, name)
        before = [_stored(handler, table, key) for table, key, _ in targets]
        try:
            return original(handler)
        finally:
            after = [_stored(handler, table, key) for table, key, _ in targets]
            with self._lock:
                for (table, key, offered), old, new in zip(targets, before, after, strict=True):
                    if new == old and offered is not None:  # a Put that did not happen: charged as offered
                        new = offered
                    self._charge_write(handler, table, key, old, new, name == "transact_write_items")

    def _charge_write(self, handler: DynamoHandler, table: str, key: dict[str, Any], old: Image, new: Image,
                      transactional: bool) -> None:
        kind = self.label(table, new or old or key)
        old_size, new_size = typed_item_size(old), typed_item_size(new)
        self.units.writes[kind] += write_units(old_size, new_size, transactional=transactional)
        self.units.items[kind] += 1
        self.units.largest[kind] = max(self.units.largest[kind], old_size, new_size)
        self.units.index_writes[kind] += _index_units(handler, table, old, new)

    # -- reads ----------------------------------------------------------------------------------
    def _read(self, name: str, original: Callable[..., Any], handler: DynamoHandler) -> Any:
        body = handler.body
        if name in ("get_item", "batch_get_item", "transact_get_items"):
            targets = _read_targets(body, name)
            result = original(handler)
            with self._lock:
                for table, key, consistent in targets:
                    item = _stored(handler, table, key)
                    self.units.reads[self.label(table, item or key)] += read_units(
                        typed_item_size(item), consistent=consistent, transactional=name == "transact_get_items")
            return result
        result = original(handler)
        page = getattr(result, "result", None)
        if isinstance(page, dict):
            self._charge_page(handler, body, page)
        return result

    def _charge_page(self, handler: DynamoHandler, body: dict[str, Any], page: dict[str, Any]) -> None:
        table = body["TableName"]
        items = page.get("Items") or []
        sizes = [typed_item_size(_stored(handler, table, _key_of(handler, table, i)) or i) for i in items]
        scanned = int(page.get("ScannedCount") or len(items))
        total = sum(sizes) + (sum(sizes) / len(sizes) if sizes else 0) * max(0, scanned - len(items))
        consistent = bool(body.get("ConsistentRead")) and not body.get("IndexName")
        kind = self.label(table, items[0]) if items else self.label(table, {})
        with self._lock:
            self.units.reads[kind] += read_units(int(total), consistent=consistent)


def _key_names(handler: DynamoHandler, table: str) -> list[str]:
    t = handler.dynamodb_backend.get_table(table)
    return [t.hash_key_attr] + ([t.range_key_attr] if t.range_key_attr else [])


def _key_of(handler: DynamoHandler, table: str, item: dict[str, Any]) -> dict[str, Any]:
    return {n: item[n] for n in _key_names(handler, table) if n in item}


def _stored(handler: DynamoHandler, table: str, key: dict[str, Any]) -> Image:
    try:
        item = handler.dynamodb_backend.get_item(table, key)
    except Exception:
        return None
    return json.loads(json.dumps(item.to_json()["Attributes"])) if item else None


def _write_targets(handler: DynamoHandler, name: str) -> list[tuple[str, dict[str, Any], Image]]:
    """(table, key, the item a Put offers) per item the write names."""
    body = handler.body
    out: list[tuple[str, dict[str, Any], Image]] = []
    try:
        if name == "transact_write_items":
            for entry in body["TransactItems"]:
                kind, spec = next(iter(entry.items()))
                table = spec["TableName"]
                if kind == "Put":
                    out.append((table, _key_of(handler, table, spec["Item"]), spec["Item"]))
                else:
                    out.append((table, spec["Key"], None))
        elif name == "batch_write_item":
            for table, requests in body["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        out.append((table, _key_of(handler, table, item), item))
                    else:
                        out.append((table, request["DeleteRequest"]["Key"], None))
        elif name == "put_item":
            out.append((body["TableName"], _key_of(handler, body["TableName"], body["Item"]), body["Item"]))
        else:
            out.append((body["TableName"], body["Key"], None))
    except Exception:
        return []
    return out


def _read_targets(body: dict[str, Any], name: str) -> list[tuple[str, dict[str, Any], bool]]:
    if name == "get_item":
        return [(body["TableName"], body["Key"], bool(body.get("ConsistentRead")))]
    if name == "transact_get_items":
        return [(e["Get"]["TableName"], e["Get"]["Key"], True) for e in body["TransactItems"]]
    return [(table, key, bool(spec.get("ConsistentRead"))) for table, spec in body["RequestItems"].items()
            for key in spec["Keys"]]


def _projected(index: Any, item: Image, table_keys: list[str]) -> Image:
    """The index entry of `item` (None when the item lacks the index's keys)."""
    if not item:
        return None
    names = [k["AttributeName"] for k in index.schema]
    if any(n not in item for n in names):
        return None
    projection = index.projection or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return item
    keep = set(names) | set(table_keys) | set(projection.get("NonKeyAttributes") or ())
    return {k: v for k, v in item.items() if k in keep}


def _index_units(handler: DynamoHandler, table: str, old: Image, new: Image) -> int:
    """Write units the table's global secondary indexes take for one item going from `old` to `new`."""
    t = handler.dynamodb_backend.get_table(table)
    keys = _key_names(handler, table)
    units = 0
    for index in t.global_indexes:
        before, after = _projected(index, old, keys), _projected(index, new, keys)
        names = [k["AttributeName"] for k in index.schema]
        same_key = before is not None and after is not None and all(before[n] == after[n] for n in names)
        if same_key:
            if before != after:
                units += write_units(typed_item_size(before), typed_item_size(after))
            continue
        if before is not None:
            units += write_units(typed_item_size(before), 0)
        if after is not None:
            units += write_units(0, typed_item_size(after))
    return units


def describe(units: Units, per: int, what: str) -> list[str]:
    """Lines: units per `what` by item kind, then the totals."""
    kinds = sorted(set(units.writes) | set(units.reads),
                   key=lambda k: -(units.writes.get(k, 0) + units.reads.get(k, 0)))
    lines = [f"{'item kind':<22}{'WCU/' + what:>14}{'index WCU':>12}{'RCU/' + what:>14}{'items':>10}{'max KB':>9}"]
    for kind in kinds:
        lines.append(f"{kind:<22}{units.writes.get(kind, 0) / per:>14.3f}{units.index_writes.get(kind, 0) / per:>12.3f}"
                     f"{units.reads.get(kind, 0) / per:>14.3f}{units.items.get(kind, 0):>10,}"
                     f"{units.largest.get(kind, 0) / KB:>9.1f}")
    lines.append(f"{'total':<22}{sum(units.writes.values()) / per:>14.3f}"
                 f"{sum(units.index_writes.values()) / per:>12.3f}{units.read_total / per:>14.3f}")
    return lines
