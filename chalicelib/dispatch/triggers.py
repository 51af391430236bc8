"""Behaviour triggers: the activity hook turning orders and events into touches of running triggered campaigns."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.activity.consumer import FIRST_VISIT, Change
from chalicelib.campaigns.schedule_triggered import TriggeredSchedule, TriggerEvent, triggered_due_at
from chalicelib.core.clock import Clock, parse_iso
from chalicelib.core.ports import Repo
from chalicelib.customers.model import PURCHASE_STATUSES
from chalicelib.dispatch.ports import DueRepo
from chalicelib.dispatch.snapshot import CampaignView, view
from chalicelib.dispatch.touches import touch_due

log = logging.getLogger(__name__)
# Behaviour event types that trigger as themselves (purchases and cancellations also come from orders, birthdays
# from the tick, first visits from the consumer's mark on the customer's earliest visit).
EVENT_TRIGGERS = frozenset({TriggerEvent.SERVICE_COMPLETED, TriggerEvent.CARD_USED, TriggerEvent.ORDER_CANCELLED,
                            TriggerEvent.ORDER_TIMED_OUT, TriggerEvent.FAN_LEVEL_UP, TriggerEvent.REGISTRATION})
CANCELLED = "cancelled"
NOT_ACCEPTED = "not_accepted_in_time"  # an order cancelled because the store did not accept it in time (超时未接单)
# A cancellation's touch is keyed by the order, whichever says it first (the order's status or an event naming the
# order): one touch per cancelled order, not one per report of it.
ORDER_KEYS = {TriggerEvent.ORDER_CANCELLED: "order-cancelled", TriggerEvent.ORDER_TIMED_OUT: "order-timed-out"}
FIRST_VISIT_KEY = "first-visit"  # one first visit per customer, whichever visit the consumer saw as earliest


def occurrences(change: Change, now: datetime | None = None) -> Iterator[tuple[TriggerEvent, str, str, datetime,
                                                                              frozenset[str]]]:
    """(trigger, customer, event key, instant, item ids) a stream change stands for; `now` dates a cancellation
    that does not say when it happened."""
    new = change.new
    if new is None:
        return
    if change.kind == "ORDER":
        yield from _order(change, new, now)
        return
    at = parse_iso(new["at"])
    if FIRST_VISIT in change.marks:
        yield TriggerEvent.FIRST_VISIT, new["customer_id"], FIRST_VISIT_KEY, at, frozenset()
    try:
        trigger = TriggerEvent(str(new.get("type")))
    except ValueError:
        return
    if trigger in EVENT_TRIGGERS:
        order_id = new.get("order_id")
        key = f"{ORDER_KEYS[trigger]}:{order_id}" if trigger in ORDER_KEYS and order_id else f"event:{new['event_id']}"
        yield trigger, new["customer_id"], key, at, frozenset()


def _order(change: Change, new: dict[str, Any], now: datetime | None
           ) -> Iterator[tuple[TriggerEvent, str, str, datetime, frozenset[str]]]:
    old_status = change.old.get("status") if change.old else None
    was_purchase = old_status in PURCHASE_STATUSES
    customer, order_id = new["customer_id"], new["order_id"]
    if new.get("status") in PURCHASE_STATUSES and not was_purchase:
        items = frozenset(str(line.get("item_id")) for line in new.get("items") or ())
        key = f"order:{order_id}"
        yield TriggerEvent.PURCHASE, customer, key, parse_iso(new["paid_at"]), items
        yield TriggerEvent.PURCHASE_ITEMS, customer, key, parse_iso(new["paid_at"]), items
    elif new.get("status") == CANCELLED and old_status != CANCELLED:
        trigger = TriggerEvent.ORDER_TIMED_OUT if new.get("cancel_reason") == NOT_ACCEPTED \
            else TriggerEvent.ORDER_CANCELLED
        stated = new.get("cancelled_at")
        at = parse_iso(stated) if stated else (now or parse_iso(new["paid_at"]))
        yield trigger, customer, f"{ORDER_KEYS[trigger]}:{order_id}", at, frozenset()


class SkipSink(Protocol):
    def record(self, merchant_id: str, campaign_id: str, keys: Sequence[tuple[str, str]], now: datetime) -> int:
        """Count each (customer, event key) once however often it is recorded."""


def acts_on(campaign: CampaignView, schedule: TriggeredSchedule, at: datetime) -> bool:
    """A triggered plan acts on events from its activation on, or from its look-back before it (SPEC §6: a
    backfilled old order must not create a touch for an occurrence long past)."""
    if campaign.activated_at is None:
        return True
    return at >= campaign.activated_at - timedelta(days=schedule.lookback_days)


def matches(schedule: TriggeredSchedule, trigger: TriggerEvent, items: frozenset[str]) -> bool:
    if schedule.event is not trigger:
        return False
    return trigger is not TriggerEvent.PURCHASE_ITEMS or bool(items & set(schedule.item_ids))


class TriggerHook:
    """ActivityHook: a touch per (campaign, customer, event), written only if new (at most once, ever)."""

    def __init__(self, due: DueRepo, campaigns: Repo, timezone_of: Callable[[str], str], clock: Clock,
                 skips: SkipSink | None = None) -> None:
        self._due = due
        self._skips = skips
        self._campaigns = campaigns
        self._tz = timezone_of
        self._clock = clock

    def _running_triggered(self, merchant_id: str) -> list[CampaignView]:
        found: list[CampaignView] = []
        start = None
        while True:
            records, start = self._campaigns.list(merchant_id, limit=200, start_key=start, status="running")
            for record in records:
                try:
                    campaign = view(record.id, record.status, record.data)
                except ValueError:
                    continue
                if campaign.triggered:
                    found.append(campaign)
            if start is None:
                return found

    def after_batch(self, merchant_id: str, changes: list[Change]) -> None:
        now = self._clock()
        candidates = [o for c in changes for o in occurrences(c, now)]
        if not candidates:
            return
        campaigns = self._running_triggered(merchant_id)
        if not campaigns:
            return
        tz = self._tz(merchant_id)
        skipped: dict[str, list[tuple[str, str]]] = {}
        for trigger, customer_id, key, at, items in candidates:
            for campaign in campaigns:
                schedule = campaign.schedule
                if not isinstance(schedule, TriggeredSchedule) or not matches(schedule, trigger, items):
                    continue
                if not acts_on(campaign, schedule, at):
                    skipped.setdefault(campaign.campaign_id, []).append((customer_id, key))
                    continue
                due_at = triggered_due_at(schedule, tz, at)
                self._due.put(touch_due(merchant_id, campaign.campaign_id, customer_id, key, due_at), now)
        if self._skips is not None:
            for campaign_id, keys in skipped.items():
                self._skips.record(merchant_id, campaign_id, keys, now)
