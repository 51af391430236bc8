"""Behaviour-triggered schedules: N days after a customer's event, optionally at a local time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import TypeAlias

from chalicelib.campaigns.schedule import (
    OnceSchedule,
    RecurringSchedule,
    aware_utc,
    check_time_of_day,
    local_date,
    local_to_utc,
    zone,
)

MAX_DELAY_DAYS = 365
MAX_LOOKBACK_DAYS = 365


class TriggerEvent(StrEnum):
    """Behaviour events a triggered schedule waits for (SPEC §6)."""

    PURCHASE = "purchase"
    PURCHASE_ITEMS = "purchase_items"
    SERVICE_COMPLETED = "service_completed"
    CARD_USED = "card_used"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_TIMED_OUT = "order_timed_out"
    FAN_LEVEL_UP = "fan_level_up"
    REGISTRATION = "registration"
    BIRTHDAY = "birthday"
    FIRST_VISIT = "first_visit"  # a customer's first visit (到店) ever: once per customer and campaign


@dataclass(frozen=True)
class TriggeredSchedule:
    """Fire `delay_days` after a customer's behaviour event, optionally at a local time of day."""

    event: TriggerEvent
    delay_days: int = 0
    time_of_day: time | None = None
    item_ids: tuple[str, ...] = ()
    lookback_days: int = 0  # events this long before activation still trigger (0: only events after it)

    def __post_init__(self) -> None:
        try:
            event = TriggerEvent(self.event)
        except ValueError:
            raise ValueError(f"event: must be one of {', '.join(TriggerEvent)}") from None
        delay = self.delay_days
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_DAYS:
            raise ValueError(f"delay_days: must be an integer from 0 to {MAX_DELAY_DAYS}")
        back = self.lookback_days
        if isinstance(back, bool) or not isinstance(back, int) or not 0 <= back <= MAX_LOOKBACK_DAYS:
            raise ValueError(f"lookback_days: must be an integer from 0 to {MAX_LOOKBACK_DAYS}")
        if self.time_of_day is not None:
            check_time_of_day("time_of_day", self.time_of_day)
        if isinstance(self.item_ids, str) or any(not isinstance(i, str) or not i for i in self.item_ids):
            raise ValueError("item_ids: must be a list of non-empty item ids")
        # Sorted and de-duplicated so that equal definitions compare (and store) equal.
        item_ids = tuple(sorted(set(self.item_ids)))
        if event is TriggerEvent.PURCHASE_ITEMS and not item_ids:
            raise ValueError("item_ids: purchase_items needs at least one item id")
        if event is not TriggerEvent.PURCHASE_ITEMS and item_ids:
            raise ValueError("item_ids: only purchase_items takes item ids")
        object.__setattr__(self, "event", event)
        object.__setattr__(self, "item_ids", item_ids)


# Every schedule a campaign can carry; the calendar ones alone are CalendarSchedule in schedule.py.
Schedule: TypeAlias = OnceSchedule | RecurringSchedule | TriggeredSchedule


def triggered_due_at(schedule: TriggeredSchedule, tz: str, event_at: datetime) -> datetime:
    """When a touch triggered by an event at `event_at` is due (UTC).

    Without a time of day it is exactly delay_days * 24 h later. With one it is that local time
    on the event's local date plus delay_days; a time already past (delay 0) means send now.
    """
    event = aware_utc("event_at", event_at)
    if schedule.time_of_day is None:
        return event + timedelta(days=schedule.delay_days)
    merchant_zone = zone(tz)
    day = local_date(event, merchant_zone) + timedelta(days=schedule.delay_days)
    return max(local_to_utc(day, schedule.time_of_day, merchant_zone), event)


def touch_instants(schedule: TriggeredSchedule, tz: str, event_at: datetime) -> list[datetime]:
    """Every touch one event makes, in order (UTC)."""
    return [triggered_due_at(schedule, tz, event_at)]
