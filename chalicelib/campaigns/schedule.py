"""Calendar schedules (once, recurring) and when they fire, in the merchant's time zone."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Shanghai"
# A recurring schedule that finds no firing day within this many days of the last one is
# treated as exhausted, so a bad definition can never spin the tick; valid ones fire at least
# every two months.
HORIZON_DAYS = 8 * 366

_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
_ONE_MICROSECOND = timedelta(microseconds=1)
_LAST_WALKED_DAY = date(9999, 10, 31)


class Frequency(StrEnum):
    """How often a recurring schedule fires (SPEC §6)."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


# Wrong types raise ValueError too, not TypeError: pydantic validators (the HTTP edge) turn only
# ValueError into a field error, and every message starts with the field's name.


def check_time_of_day(field: str, value: object) -> None:
    """Reject anything but a naive HH:MM wall time, naming `field`."""
    # Wall-clock HH:MM only: the tick works per minute, and an offset would fight the merchant's zone.
    if not isinstance(value, time) or value.tzinfo is not None or value.second or value.microsecond:
        raise ValueError(f"{field}: must be a local HH:MM time without seconds or offset")


def _check_date(field: str, value: object) -> None:
    # datetime is a date subclass; letting one in would silently drop its time part.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{field}: must be a calendar date")


def _check_bool(field: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{field}: must be true or false")


def _int_set(field: str, values: Iterable[object], low: int, high: int) -> tuple[int, ...]:
    """Sorted, de-duplicated ints in [low, high]; equal schedules then compare equal."""
    result: set[int] = set()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{field}: each value must be an integer from {low} to {high}")
        result.add(value)
    return tuple(sorted(result))


@dataclass(frozen=True)
class OnceSchedule:
    """Fire once: at `at`, or on activation when `at` is None (立即发券).

    A naive `at` is a wall time in the merchant's zone; an aware one is an exact instant.
    """

    at: datetime | None = None

    def __post_init__(self) -> None:
        if self.at is not None and not isinstance(self.at, datetime):
            raise ValueError("at: must be a date-time or null (send now)")


@dataclass(frozen=True, kw_only=True)
class RecurringSchedule:
    """Fire daily, on ISO weekdays (1=Mon..7=Sun) or on month days, at a local time."""

    frequency: Frequency
    time_of_day: time
    weekdays: tuple[int, ...] = ()
    month_days: tuple[int, ...] = ()
    last_day: bool = False
    start_date: date
    end_date: date | None = None
    start_next_period: bool = False

    def __post_init__(self) -> None:
        try:
            frequency = Frequency(self.frequency)
        except ValueError:
            raise ValueError("frequency: must be one of daily, weekly, monthly") from None
        check_time_of_day("time_of_day", self.time_of_day)
        weekdays = _int_set("weekdays", self.weekdays, 1, 7)
        month_days = _int_set("month_days", self.month_days, 1, 31)
        _check_bool("last_day", self.last_day)
        _check_bool("start_next_period", self.start_next_period)
        _check_date("start_date", self.start_date)
        if self.end_date is not None:
            _check_date("end_date", self.end_date)
            if self.end_date < self.start_date:
                raise ValueError("end_date: must not be before start_date")
        if frequency is Frequency.WEEKLY and not weekdays:
            raise ValueError("weekdays: a weekly schedule needs at least one weekday")
        if frequency is not Frequency.WEEKLY and weekdays:
            raise ValueError("weekdays: only a weekly schedule has weekdays")
        if frequency is Frequency.MONTHLY and not (month_days or self.last_day):
            raise ValueError("month_days: a monthly schedule needs month days or last_day")
        if frequency is not Frequency.MONTHLY and (month_days or self.last_day):
            raise ValueError("month_days: only a monthly schedule has month days or last_day")
        object.__setattr__(self, "frequency", frequency)
        object.__setattr__(self, "weekdays", weekdays)
        object.__setattr__(self, "month_days", month_days)


CalendarSchedule: TypeAlias = OnceSchedule | RecurringSchedule


def zone(tz: str) -> ZoneInfo:
    """The merchant's zone; an unknown name is a ValueError naming the field."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"tz: unknown time zone {tz!r}") from None


def aware_utc(field: str, value: datetime) -> datetime:
    """`value` as UTC; a naive datetime is a ValueError naming `field` (its zone would be a guess)."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{field}: must be a timezone-aware instant")
    return value.astimezone(UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The merchant's calendar day containing `instant`."""
    return instant.astimezone(tz).date()


def local_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the merchant's clock shows `wall` on `day`.

    Ambiguous times (clocks going back) take the first instant, fold=0: a 01:30 send goes out
    once, at the earlier 01:30. Non-existent times (clocks going forward) take the first instant
    after the gap, e.g. 02:30 in New York on spring-forward day is 03:00 EDT: firing as soon as
    the clock is past the wanted time beats both skipping the day and shifting by the gap length.
    """
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # In a gap the two folds straddle the transition; find it to the second by bisection.
    other = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(first, other), max(first, other)
    offset_after = high.astimezone(tz).utcoffset()
    lo_s, hi_s = 0, int((high - low) / _ONE_SECOND)
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if (low + mid * _ONE_SECOND).astimezone(tz).utcoffset() == offset_after:
            hi_s = mid
        else:
            lo_s = mid
    return low + hi_s * _ONE_SECOND


def once_instant(schedule: OnceSchedule, tz: str, activated_at: datetime) -> datetime:
    """When a once schedule fires: at `at`, but never before activation (a late activation sends now)."""
    activated = aware_utc("activated_at", activated_at)
    if schedule.at is None:
        return activated
    if schedule.at.utcoffset() is None:
        at = local_to_utc(schedule.at.date(), schedule.at.time(), zone(tz))
    else:
        at = schedule.at.astimezone(UTC)
    return max(at, activated)


def next_period_start(frequency: Frequency, day: date) -> date:
    """First day of the period (day, ISO week Mon-Sun, calendar month) after the one holding `day`."""
    if frequency is Frequency.DAILY:
        return day + _ONE_DAY
    if frequency is Frequency.WEEKLY:
        return day - timedelta(days=day.isoweekday() - 1) + timedelta(days=7)
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def month_fire_days(schedule: RecurringSchedule, year: int, month: int) -> list[int]:
    """Days of one month a monthly schedule fires on: missing days (31 in April) are skipped."""
    length = calendar.monthrange(year, month)[1]
    days = {d for d in schedule.month_days if d <= length}
    if schedule.last_day:
        days.add(length)
    return sorted(days)


def _horizon(day: date) -> date:
    # Clamped well inside date.max so stepping a day or a month past it cannot overflow.
    return min(day, _LAST_WALKED_DAY - timedelta(days=HORIZON_DAYS)) + timedelta(days=HORIZON_DAYS)


def _fire_dates(schedule: RecurringSchedule, first: date) -> Iterator[date]:
    """Firing days from `first` on, in order, until end_date or a horizon without any."""
    limit = _horizon(first)
    end = date.max if schedule.end_date is None else schedule.end_date
    if schedule.frequency is Frequency.MONTHLY:
        year, month = first.year, first.month
        while date(year, month, 1) <= min(limit, end):
            for number in month_fire_days(schedule, year, month):
                day = date(year, month, number)
                if day > end:
                    return
                if day >= first:
                    limit = _horizon(day)
                    yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return
    day = first
    while day <= min(limit, end):
        if schedule.frequency is Frequency.DAILY or day.isoweekday() in schedule.weekdays:
            limit = _horizon(day)
            yield day
        day += _ONE_DAY


def _recurring_after(
    schedule: RecurringSchedule, tz: ZoneInfo, after: datetime, activated_at: datetime
) -> Iterator[datetime]:
    """Occurrence instants strictly after `after` (and not before activation), in order."""
    first = schedule.start_date
    if schedule.start_next_period:
        first = max(first, next_period_start(schedule.frequency, local_date(activated_at, tz)))
    # Start a day early: a wall time inside a gap that spans midnight resolves onto the next day.
    first = max(first, local_date(max(after, activated_at), tz) - _ONE_DAY)
    previous: datetime | None = None
    for day in _fire_dates(schedule, first):
        instant = local_to_utc(day, schedule.time_of_day, tz)
        # Two days falling into one (day-long) gap would resolve to the same instant: fire once.
        if instant <= after or instant < activated_at or (previous is not None and instant <= previous):
            continue
        previous = instant
        yield instant


def next_occurrence(schedule: CalendarSchedule, tz: str, after: datetime, activated_at: datetime) -> datetime | None:
    """The first occurrence (UTC) strictly after `after`; None once the schedule is exhausted.

    Occurrences never precede `activated_at`: a once-now schedule's only occurrence is
    `activated_at` itself, and a recurring one starts at its first firing at or after activation
    (or in the next period when `start_next_period`).
    """
    after = aware_utc("after", after)
    activated = aware_utc("activated_at", activated_at)
    if isinstance(schedule, OnceSchedule):
        instant = once_instant(schedule, tz, activated)
        return instant if instant > after else None
    if isinstance(schedule, RecurringSchedule):
        return next(_recurring_after(schedule, zone(tz), after, activated), None)
    raise TypeError(f"schedule: {type(schedule).__name__} has no calendar occurrences")


def first_occurrence(schedule: CalendarSchedule, tz: str, activated_at: datetime) -> datetime | None:
    """The first occurrence at or after activation (what to claim when a campaign is activated)."""
    activated = aware_utc("activated_at", activated_at)
    return next_occurrence(schedule, tz, activated - _ONE_MICROSECOND, activated)


def occurrences_between(
    schedule: CalendarSchedule, tz: str, start: datetime, end: datetime, activated_at: datetime
) -> list[datetime]:
    """Occurrences t with start < t <= end, in order: what a late or replayed tick must catch up."""
    start = aware_utc("start", start)
    end = aware_utc("end", end)
    activated = aware_utc("activated_at", activated_at)
    if end <= start:  # pragma: no mutate -- equivalent: `<` differs only at end == start, an empty (start, end]
        return []
    if isinstance(schedule, OnceSchedule):
        instant = once_instant(schedule, tz, activated)
        return [instant] if start < instant <= end else []
    if isinstance(schedule, RecurringSchedule):
        found: list[datetime] = []
        for instant in _recurring_after(schedule, zone(tz), start, activated):
            if instant > end:
                break
            found.append(instant)
        return found
    raise TypeError(f"schedule: {type(schedule).__name__} has no calendar occurrences")
