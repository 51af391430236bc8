"""Campaign domain: what a stored campaign keeps beside its definition, and its schedule as schedule.py dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from pydantic import BaseModel

from chalicelib.campaigns.schedule import Frequency, OnceSchedule, RecurringSchedule
from chalicelib.campaigns.schedule_triggered import Schedule, TriggeredSchedule, TriggerEvent
from chalicelib.core.errors import Invalid

# A recurring schedule without a start date runs from activation; occurrences never precede it anyway.
OPEN_START = date(2000, 1, 1)
# Lifecycle instants kept in `data` beside the definition (ISO UTC strings or None).
STAMPS: tuple[str, ...] = ("activated_at", "paused_at", "resumed_at", "cancelled_at", "ended_at",
                           "send_now_requested_at", "next_run_at")
# schedule.py's attribute names -> the JSON field names of a campaign schedule.
_JSON_NAMES = {"time_of_day": "time"}


def _hhmm(text: str | None) -> time | None:
    return None if text is None else time.fromisoformat(text)


def _schedule_error(exc: ValueError, where: str) -> Invalid:
    """schedule.py says 'field: reason'; name the JSON field under `where`."""
    name, _, reason = str(exc).partition(": ")
    if not reason:
        return Invalid(str(exc), field=where)
    return Invalid(reason, field=f"{where}.{_JSON_NAMES.get(name, name)}")


def to_schedule(body: Mapping[str, Any] | BaseModel, where: str = "schedule") -> Schedule:
    """A campaign's schedule JSON (stored dict or pydantic body) as OnceSchedule, RecurringSchedule or
    TriggeredSchedule; Invalid naming `where.<field>` when the combination is not a schedule."""
    raw: Mapping[str, Any] = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    kind = raw.get("kind")
    try:
        if kind == "once":
            at = raw.get("at")
            return OnceSchedule(None if at is None else datetime.fromisoformat(at.replace("Z", "+00:00")))
        if kind == "recurring":
            start, end = raw.get("start_date"), raw.get("end_date")
            return RecurringSchedule(
                frequency=Frequency(raw["frequency"]), time_of_day=time.fromisoformat(raw["time"]),
                weekdays=tuple(raw.get("weekdays") or ()), month_days=tuple(raw.get("month_days") or ()),
                last_day=bool(raw.get("last_day", False)),
                start_date=date.fromisoformat(start) if start else OPEN_START,
                end_date=date.fromisoformat(end) if end else None,
                start_next_period=bool(raw.get("start_next_period", False)))
        if kind == "triggered":
            return TriggeredSchedule(TriggerEvent(raw["event"]), int(raw.get("delay_days", 0)),
                                     _hhmm(raw.get("time")), tuple(raw.get("item_ids") or ()),
                                     int(raw.get("lookback_days") or 0))
    except ValueError as exc:
        raise _schedule_error(exc, where) from None
    raise Invalid("must be once, recurring or triggered", field=f"{where}.kind")
