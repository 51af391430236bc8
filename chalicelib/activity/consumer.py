"""The activity stream consumer: fold orders and events into customer activity, then run the hooks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.core.batch import run_batch
from chalicelib.core.clock import Clock, to_iso
from chalicelib.customers.convert import event_from_doc, order_from_doc
from chalicelib.customers.metrics import apply_event, apply_order, is_first_visit
from chalicelib.customers.model import CustomerActivity, activity_from_doc, activity_to_doc
from chalicelib.customers.rows import CustomerRow

log = logging.getLogger(__name__)
FIRST_VISIT = "first_visit"  # Change mark: this visit is the customer's earliest known one (the 到店 trigger)


@dataclass(frozen=True)
class Change:
    """One order or event as the stream saw it change."""

    merchant_id: str
    kind: str  # "ORDER" | "EVENT"
    new: dict[str, Any] | None
    old: dict[str, Any] | None
    sequence: str
    marks: frozenset[str] = frozenset()  # what folding found out about the record (FIRST_VISIT)

    @property
    def customer_ids(self) -> set[str]:
        return {d["customer_id"] for d in (self.new, self.old) if d}


class ActivityHook(Protocol):
    """Later stages (behaviour triggers, attribution, coupon redemption) fed after metrics are saved."""

    def after_batch(self, merchant_id: str, changes: list[Change]) -> None: ...


class CustomerRows(Protocol):
    def get_activity_rows(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, CustomerRow]: ...

    def save_activities(self, merchant_id: str, changes: list[tuple[str, dict[str, Any], int, int]], stamp: str
                        ) -> list[str]: ...


def _image(record: dict[str, Any], which: str) -> dict[str, Any] | None:
    image = record.get("dynamodb", {}).get(which)
    if not image:
        return None
    doc = image.get("doc", {}).get("S")
    return json.loads(doc) if doc else None


def parse_change(record: dict[str, Any]) -> Change | None:
    """A Change from a raw stream record; None for items that are not orders or events."""
    keys = record.get("dynamodb", {}).get("Keys", {})
    kind = keys.get("sk", {}).get("S")
    if kind not in ("ORDER", "EVENT"):
        return None
    pk = keys["pk"]["S"]
    merchant_id = pk.split("#", 1)[0]
    return Change(merchant_id, kind, _image(record, "NewImage"), _image(record, "OldImage"),
                  record.get("dynamodb", {}).get("SequenceNumber", ""))


@dataclass
class _BatchState:
    rows: dict[tuple[str, str], CustomerRow] = field(default_factory=dict)
    activity: dict[tuple[str, str], CustomerActivity] = field(default_factory=dict)
    changed: set[tuple[str, str]] = field(default_factory=set)
    applied: dict[str, list[Change]] = field(default_factory=dict)
    records: dict[tuple[str, str], list[Change]] = field(default_factory=dict)  # what folded into each customer


class ActivityConsumer:
    """One stream batch: prefetch customers (BatchGetItem), fold per record, write changed ones atomically."""

    def __init__(self, customers: CustomerRows, timezone_of: Callable[[str], str], clock: Clock,
                 hooks: list[ActivityHook]) -> None:
        self._customers = customers
        self._tz = timezone_of
        self._clock = clock
        self._hooks = hooks

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        changes = [c for c in (parse_change(r) for r in event.get("Records", [])) if c is not None]
        state = _BatchState()
        by_merchant: dict[str, set[str]] = {}
        for change in changes:
            if change.new is not None:  # TTL removals fold nothing: no read for them
                by_merchant.setdefault(change.merchant_id, set()).update(change.customer_ids)
        zones = {m: self._tz(m) for m in by_merchant}
        now = self._clock()  # caps every watermark: no record dated ahead of it moves a customer's pruning horizon
        for merchant_id, ids in by_merchant.items():
            # Activity only: folding never reads the profile (half the BatchGetItem keys).
            for cid, row in self._customers.get_activity_rows(merchant_id, ids).items():
                state.rows[(merchant_id, cid)] = row
                state.activity[(merchant_id, cid)] = (activity_from_doc(row.activity) if row.activity
                                                      else CustomerActivity())

        def fold(record: DynamoDBRecord) -> None:
            change = parse_change(record.raw_event)
            if change is None or change.new is None:
                return  # TTL removals of old events change no metrics
            tz = zones[change.merchant_id]
            if change.kind == "ORDER":
                order = order_from_doc(change.new)
                old = change.old
                if old and old["customer_id"] != order.customer_id:
                    # The order moved to another customer: the first one loses what it had counted.
                    moved = order_from_doc(dict(old, status="cancelled"))
                    self._apply(state, change.merchant_id, moved.customer_id, lambda a: apply_order(a, moved, tz, now))
                self._apply(state, change.merchant_id, order.customer_id, lambda a: apply_order(a, order, tz, now))
            else:
                fact = event_from_doc(change.new)
                after = self._apply(state, change.merchant_id, fact.customer_id,
                                    lambda a: apply_event(a, fact, tz, now))
                if is_first_visit(after, fact):  # decided from the folded state: a replay marks it again
                    change = replace(change, marks=change.marks | {FIRST_VISIT})
            state.applied.setdefault(change.merchant_id, []).append(change)
            for cid in change.customer_ids:
                state.records.setdefault((change.merchant_id, cid), []).append(change)

        result = run_batch(event, context, fold, EventType.DynamoDBStreams, "activity_stream")
        stamp = to_iso(now)
        failed: set[str] = set()
        for merchant_id in by_merchant:
            writes = [(cid, activity_to_doc(state.activity[(m, cid)]), state.rows[(m, cid)].activity_rev,
                       state.rows[(m, cid)].activity_parts) for (m, cid) in sorted(state.changed) if m == merchant_id]
            refused = self._customers.save_activities(merchant_id, writes, stamp) if writes else []
            for cid in refused:  # cannot be stored at any size: its records fail alone, the others' writes stand
                log.error("activity too large to store", extra={"merchant_id": merchant_id, "customer_id": cid})
                failed.update(c.sequence for c in state.records.get((merchant_id, cid), []))
        for merchant_id, applied in state.applied.items():
            kept = [c for c in applied if c.sequence not in failed]
            for hook in self._hooks:
                if kept:
                    hook.after_batch(merchant_id, kept)
        return with_failures(result, failed)

    @staticmethod
    def _apply(state: _BatchState, merchant_id: str, customer_id: str,
               step: Callable[[CustomerActivity], CustomerActivity]) -> CustomerActivity:
        key = (merchant_id, customer_id)
        before = state.activity.get(key, CustomerActivity())
        after = step(before)
        if after != before:
            state.activity[key] = after
            state.changed.add(key)
        state.rows.setdefault(key, CustomerRow(customer_id, None, None, 0))
        return after


def with_failures(result: dict[str, Any], sequences: Iterable[str]) -> dict[str, Any]:
    """The partial batch response with these records failed too (the stream retries from the first failure)."""
    listed = list(result.get("batchItemFailures") or [])
    known = {f.get("itemIdentifier") for f in listed}
    listed += [{"itemIdentifier": s} for s in sorted(set(sequences)) if s not in known]
    return {**result, "batchItemFailures": listed}
