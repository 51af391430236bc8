"""Ingestion use cases: validate each item on its own, store the good ones with batch writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from chalicelib.core.clock import Clock, to_iso
from chalicelib.core.errors import Invalid, TooLarge
from chalicelib.customers.schemas import (
    MAX_BATCH,
    BatchResult,
    CustomerIn,
    EventIn,
    ItemError,
    ItemResult,
    OrderIn,
)


class ProfileWriter(Protocol):
    def put_profiles(self, merchant_id: str, profiles: list[dict[str, Any]], stamp: str) -> None: ...


class ActivityWriter(Protocol):
    def put(self, merchant_id: str, kind: str, docs: list[dict[str, Any]], id_field: str, stamp: str,
            now_epoch: int) -> None: ...


def check_batch_size(items: list[Any]) -> None:
    """1..500 items, or a 400/413 that names the limit."""
    if not items:
        raise Invalid("at least one item is required", field="body.items")
    if len(items) > MAX_BATCH:
        raise TooLarge(f"at most {MAX_BATCH} items per call (got {len(items)})", field="body.items")


def validate_items(items: list[Any], model: type[BaseModel], id_field: str, now: datetime
                   ) -> tuple[list[tuple[int, dict[str, Any]]], list[ItemResult]]:
    """Per-item validation at clock `now` (facts ahead of it are refused); a repeated id in one batch keeps the last
    occurrence and rejects the others."""
    good: dict[str, tuple[int, dict[str, Any]]] = {}
    results: dict[int, ItemResult] = {}
    for index, raw in enumerate(items):
        try:
            parsed = model.model_validate(raw, context={"now": now})
        except ValidationError as exc:
            errors = [ItemError(field=".".join(str(p) for p in (f"items[{index}]", *e["loc"])), reason=e["msg"])
                      for e in exc.errors(include_url=False)]
            item_id = raw.get(id_field) if isinstance(raw, dict) and isinstance(raw.get(id_field), str) else None
            results[index] = ItemResult(index=index, id=item_id, ok=False, errors=errors)
            continue
        doc = parsed.model_dump(mode="json")
        item_id = doc[id_field]
        if item_id in good:
            earlier = good[item_id][0]
            results[earlier] = ItemResult(index=earlier, id=item_id, ok=False, errors=[ItemError(
                field=f"items[{earlier}].{id_field}", reason=f"repeated later in this batch (item {index} wins)")])
        good[item_id] = (index, doc)
        results[index] = ItemResult(index=index, id=item_id, ok=True)
    ordered = [results[i] for i in sorted(results)]
    return sorted(good.values(), key=lambda pair: pair[0]), ordered


def _summary(results: list[ItemResult]) -> BatchResult:
    accepted = sum(1 for r in results if r.ok)
    return BatchResult(accepted=accepted, rejected=len(results) - accepted, results=results)


class IngestService:
    """Customers, orders and events in; orders and events go to the activity table for the stream."""

    def __init__(self, profiles: ProfileWriter, activity: ActivityWriter, clock: Clock) -> None:
        self._profiles = profiles
        self._activity = activity
        self._clock = clock

    def _ingest(self, items: list[Any], model: type[BaseModel], id_field: str, now: datetime,
                write: Callable[[list[dict[str, Any]]], None]) -> BatchResult:
        check_batch_size(items)
        good, results = validate_items(items, model, id_field, now)
        if good:
            write([doc for _, doc in good])
        return _summary(results)

    def upsert_customers(self, merchant_id: str, items: list[Any]) -> BatchResult:
        now = self._clock()
        stamp = to_iso(now)
        return self._ingest(items, CustomerIn, "customer_id", now,
                            lambda docs: self._profiles.put_profiles(merchant_id, docs, stamp))

    def ingest_orders(self, merchant_id: str, items: list[Any]) -> BatchResult:
        now = self._clock()
        return self._ingest(items, OrderIn, "order_id", now, lambda docs: self._activity.put(
            merchant_id, "ORDER", docs, "order_id", to_iso(now), int(now.timestamp())))

    def ingest_events(self, merchant_id: str, items: list[Any]) -> BatchResult:
        now = self._clock()
        return self._ingest(items, EventIn, "event_id", now, lambda docs: self._activity.put(
            merchant_id, "EVENT", docs, "event_id", to_iso(now), int(now.timestamp())))
