"""Schedules: once / recurring / triggered occurrences, DST, and a day-walking reference model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.campaigns.schedule import (
    DEFAULT_TIMEZONE,
    Frequency,
    OnceSchedule,
    RecurringSchedule,
    first_occurrence,
    local_to_utc,
    next_occurrence,
    occurrences_between,
)
from chalicelib.campaigns.schedule_triggered import TriggeredSchedule, TriggerEvent, triggered_due_at

SH = DEFAULT_TIMEZONE
NY = "America/New_York"
# Zones with a 1 h DST shift (New York, London), a 30 min one (Lord Howe), a midnight
# transition (Santiago) and none at all (Shanghai).
ZONES = [SH, NY, "Europe/London", "Australia/Lord_Howe", "America/Santiago"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(tz: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A wall time that exists (and is unambiguous) in `tz`, as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def daily(at: str = "09:00", **kwargs: object) -> RecurringSchedule:
    return recurring("daily", at, **kwargs)


def recurring(frequency: str, at: str, **kwargs: object) -> RecurringSchedule:
    kwargs.setdefault("start_date", date(2024, 1, 1))
    return RecurringSchedule(frequency=frequency, time_of_day=time.fromisoformat(at), **kwargs)  # type: ignore[arg-type]


def walls(instants: list[datetime], tz: str = SH) -> list[str]:
    return [wall(i, tz) for i in instants]


def wall(instant: datetime | None, tz: str = SH) -> str:
    assert instant is not None
    return instant.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %a %H:%M")


# --- recurring: daily / weekly / monthly -------------------------------------------------------


def test_daily_fires_at_nine_local_when_shanghai() -> None:
    found = occurrences_between(daily(), SH, utc(2025, 3, 9), utc(2025, 3, 12), activated_at=utc(2025, 3, 1))
    assert found == [utc(2025, 3, 9, 1), utc(2025, 3, 10, 1), utc(2025, 3, 11, 1)]


def test_daily_starts_tomorrow_when_activated_after_todays_time() -> None:
    activated = local(SH, 2025, 3, 10, 9, 1)
    assert first_occurrence(daily(), SH, activated) == local(SH, 2025, 3, 11, 9, 0)


def test_daily_fires_at_activation_when_activated_exactly_on_time() -> None:
    activated = local(SH, 2025, 3, 10, 9, 0)
    assert first_occurrence(daily(), SH, activated) == activated
    assert next_occurrence(daily(), SH, after=activated, activated_at=activated) == local(SH, 2025, 3, 11, 9, 0)


def test_weekly_fires_on_monday_and_thursday_when_both_chosen() -> None:
    schedule = recurring("weekly", "10:00", weekdays=(4, 1))
    found = occurrences_between(schedule, SH, utc(2025, 3, 1), utc(2025, 3, 15), activated_at=utc(2025, 3, 1))
    assert walls(found) == [
        "2025-03-03 Mon 10:00",
        "2025-03-06 Thu 10:00",
        "2025-03-10 Mon 10:00",
        "2025-03-13 Thu 10:00",
    ]
    assert schedule.weekdays == (1, 4)


def test_monthly_fires_on_8th_and_18th_when_both_chosen() -> None:
    schedule = recurring("monthly", "08:30", month_days=(18, 8))
    found = occurrences_between(schedule, SH, utc(2025, 1, 1), utc(2025, 3, 31), activated_at=utc(2025, 1, 1))
    assert [d[:10] for d in walls(found)] == [
        "2025-01-08",
        "2025-01-18",
        "2025-02-08",
        "2025-02-18",
        "2025-03-08",
        "2025-03-18",
    ]


def test_monthly_31st_is_skipped_when_month_is_shorter() -> None:
    schedule = recurring("monthly", "09:00", month_days=(31,))
    found = occurrences_between(schedule, SH, utc(2025, 1, 1), utc(2026, 1, 1), activated_at=utc(2025, 1, 1))
    assert [d[:10] for d in walls(found)] == [
        "2025-01-31",
        "2025-03-31",
        "2025-05-31",
        "2025-07-31",
        "2025-08-31",
        "2025-10-31",
        "2025-12-31",
    ]


def test_monthly_29th_fires_in_february_only_when_leap_year() -> None:
    schedule = recurring("monthly", "09:00", month_days=(29,))
    plain = occurrences_between(schedule, SH, utc(2027, 1, 30), utc(2027, 3, 30), activated_at=utc(2027, 1, 1))
    assert [d[:10] for d in walls(plain)] == ["2027-03-29"]
    leap = occurrences_between(schedule, SH, utc(2028, 1, 30), utc(2028, 3, 30), activated_at=utc(2028, 1, 1))
    assert [d[:10] for d in walls(leap)] == ["2028-02-29", "2028-03-29"]


def test_last_day_hits_feb_28_and_leap_feb_29_when_set() -> None:
    schedule = recurring("monthly", "20:00", last_day=True)
    found = occurrences_between(schedule, SH, utc(2027, 1, 1), utc(2028, 4, 1), activated_at=utc(2027, 1, 1))
    days = [d[:10] for d in walls(found)]
    assert "2027-02-28" in days
    assert "2028-02-29" in days
    assert "2028-02-28" not in days
    assert days[:4] == ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]


def test_last_day_and_31st_fire_once_when_they_coincide() -> None:
    schedule = recurring("monthly", "09:00", month_days=(15, 31), last_day=True)
    found = occurrences_between(schedule, SH, utc(2025, 1, 1), utc(2025, 5, 1), activated_at=utc(2025, 1, 1))
    assert [d[:10] for d in walls(found)] == [
        "2025-01-15",
        "2025-01-31",
        "2025-02-15",
        "2025-02-28",
        "2025-03-15",
        "2025-03-31",
        "2025-04-15",
        "2025-04-30",
    ]


# --- start / end dates and "first activation starts next period" --------------------------------


def test_first_occurrence_waits_for_start_date_when_start_date_is_later() -> None:
    schedule = daily(start_date=date(2025, 6, 1))
    assert first_occurrence(schedule, SH, activated_at=utc(2025, 3, 1)) == local(SH, 2025, 6, 1, 9, 0)


def test_end_date_is_inclusive_and_then_exhausted_when_passed() -> None:
    schedule = daily(start_date=date(2025, 3, 1), end_date=date(2025, 3, 3))
    found = occurrences_between(schedule, SH, utc(2025, 2, 1), utc(2025, 4, 1), activated_at=utc(2025, 2, 1))
    assert [d[:10] for d in walls(found)] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert next_occurrence(schedule, SH, after=found[-1], activated_at=utc(2025, 2, 1)) is None


def test_monthly_end_date_is_inclusive_when_it_is_a_firing_day() -> None:
    schedule = recurring("monthly", "09:00", month_days=(8, 18), end_date=date(2025, 2, 18))
    found = occurrences_between(schedule, SH, utc(2025, 1, 1), utc(2026, 1, 1), activated_at=utc(2025, 1, 1))
    assert [d[:10] for d in walls(found)] == ["2025-01-08", "2025-01-18", "2025-02-08", "2025-02-18"]


def test_daily_starts_tomorrow_when_start_next_period_even_before_todays_time() -> None:
    activated = local(SH, 2025, 3, 10, 8, 0)
    assert first_occurrence(daily(), SH, activated) == local(SH, 2025, 3, 10, 9, 0)
    assert first_occurrence(daily(start_next_period=True), SH, activated) == local(SH, 2025, 3, 11, 9, 0)


def test_weekly_starts_next_iso_week_when_start_next_period() -> None:
    activated = local(SH, 2025, 3, 12, 8, 0)  # a Wednesday
    plain = recurring("weekly", "10:00", weekdays=(4,))
    next_week = recurring("weekly", "10:00", weekdays=(4,), start_next_period=True)
    assert wall(first_occurrence(plain, SH, activated)) == "2025-03-13 Thu 10:00"
    assert wall(first_occurrence(next_week, SH, activated)) == "2025-03-20 Thu 10:00"


def test_weekly_skips_this_monday_when_activated_on_monday_with_start_next_period() -> None:
    activated = local(SH, 2025, 3, 10, 0, 5)  # Monday, before the send time
    schedule = recurring("weekly", "10:00", weekdays=(1,), start_next_period=True)
    assert wall(first_occurrence(schedule, SH, activated)) == "2025-03-17 Mon 10:00"


def test_weekly_skips_this_sunday_when_start_next_period_since_iso_week_ends_sunday() -> None:
    activated = local(SH, 2025, 3, 12, 8, 0)  # Wednesday; this ISO week ends on Sunday 16 March
    schedule = recurring("weekly", "10:00", weekdays=(7,), start_next_period=True)
    assert wall(first_occurrence(schedule, SH, activated)) == "2025-03-23 Sun 10:00"


def test_monthly_starts_next_month_when_start_next_period() -> None:
    activated = local(SH, 2025, 3, 5, 12, 0)
    plain = recurring("monthly", "09:00", month_days=(8, 18))
    next_month = recurring("monthly", "09:00", month_days=(8, 18), start_next_period=True)
    assert first_occurrence(plain, SH, activated) == local(SH, 2025, 3, 8, 9, 0)
    assert first_occurrence(next_month, SH, activated) == local(SH, 2025, 4, 8, 9, 0)


def test_monthly_next_period_rolls_into_january_when_activated_in_december() -> None:
    schedule = recurring("monthly", "09:00", month_days=(1,), start_next_period=True)
    assert first_occurrence(schedule, SH, local(SH, 2025, 12, 31, 23, 59)) == local(SH, 2026, 1, 1, 9, 0)


def test_next_period_uses_local_day_when_utc_day_differs() -> None:
    activated = utc(2025, 3, 31, 17, 0)  # already 1 April 01:00 in Shanghai
    schedule = recurring("monthly", "09:00", month_days=(1,), start_next_period=True)
    assert first_occurrence(schedule, SH, activated) == local(SH, 2025, 5, 1, 9, 0)


def test_start_date_wins_when_later_than_next_period() -> None:
    schedule = recurring("monthly", "09:00", month_days=(8,), start_date=date(2025, 6, 1), start_next_period=True)
    assert first_occurrence(schedule, SH, local(SH, 2025, 3, 5, 12, 0)) == local(SH, 2025, 6, 8, 9, 0)


def test_next_occurrence_is_strictly_after_when_after_is_an_occurrence() -> None:
    nine = local(SH, 2025, 3, 10, 9, 0)
    assert next_occurrence(daily(), SH, after=nine - timedelta(microseconds=1), activated_at=utc(2025, 1, 1)) == nine
    assert next_occurrence(daily(), SH, after=nine, activated_at=utc(2025, 1, 1)) == nine + timedelta(days=1)


def test_occurrences_between_is_empty_when_window_is_empty_or_reversed() -> None:
    assert occurrences_between(daily(), SH, utc(2025, 3, 10, 1), utc(2025, 3, 10, 1), utc(2025, 1, 1)) == []
    assert occurrences_between(daily(), SH, utc(2025, 3, 11), utc(2025, 3, 1), utc(2025, 1, 1)) == []


def test_next_occurrence_is_quick_when_far_in_the_future() -> None:
    found = next_occurrence(recurring("monthly", "09:00", month_days=(31,)), SH, utc(2999, 2, 1), utc(2025, 1, 1))
    assert found == local(SH, 2999, 3, 31, 9, 0)


# --- once -----------------------------------------------------------------------------------------


def test_once_fires_at_its_instant_when_after_is_earlier() -> None:
    schedule = OnceSchedule(at=utc(2025, 5, 1, 2))
    assert next_occurrence(schedule, SH, after=utc(2025, 4, 1), activated_at=utc(2025, 4, 1)) == utc(2025, 5, 1, 2)
    assert next_occurrence(schedule, SH, after=utc(2025, 5, 1, 2), activated_at=utc(2025, 4, 1)) is None
    assert occurrences_between(schedule, SH, utc(2025, 5, 1), utc(2025, 5, 2), utc(2025, 4, 1)) == [utc(2025, 5, 1, 2)]


def test_once_reads_naive_at_as_merchant_wall_time_when_no_offset() -> None:
    schedule = OnceSchedule(at=datetime(2025, 5, 1, 10, 0))
    assert first_occurrence(schedule, SH, activated_at=utc(2025, 4, 1)) == utc(2025, 5, 1, 2)
    assert first_occurrence(schedule, NY, activated_at=utc(2025, 4, 1)) == utc(2025, 5, 1, 14)


def test_once_now_fires_at_activation_when_at_is_none() -> None:
    activated = utc(2025, 4, 1, 3, 17)
    before = activated - timedelta(minutes=1)
    assert next_occurrence(OnceSchedule(), SH, after=before, activated_at=activated) == activated
    assert first_occurrence(OnceSchedule(), SH, activated) == activated
    assert next_occurrence(OnceSchedule(), SH, after=activated, activated_at=activated) is None


def test_once_fires_at_activation_when_activated_after_its_time() -> None:
    activated = utc(2025, 5, 1, 2, 0, 30)
    assert first_occurrence(OnceSchedule(at=utc(2025, 5, 1, 2)), SH, activated) == activated


# --- triggered ----------------------------------------------------------------------------------------


def test_triggered_is_the_event_instant_when_delay_zero_without_time() -> None:
    event = utc(2025, 3, 10, 4, 5)
    assert triggered_due_at(TriggeredSchedule(TriggerEvent.PURCHASE), SH, event) == event


def test_triggered_is_later_today_when_delay_zero_and_time_not_yet_past() -> None:
    schedule = TriggeredSchedule("service_completed", 0, time(18, 0))  # type: ignore[arg-type]
    assert triggered_due_at(schedule, SH, local(SH, 2025, 3, 10, 12, 0)) == local(SH, 2025, 3, 10, 18, 0)


def test_triggered_is_now_when_delay_zero_and_time_already_past() -> None:
    event = local(SH, 2025, 3, 10, 19, 0)
    assert triggered_due_at(TriggeredSchedule(TriggerEvent.CARD_USED, 0, time(18, 0)), SH, event) == event


def test_triggered_uses_local_date_when_event_is_late_evening() -> None:
    event = local(SH, 2025, 3, 10, 23, 30)  # 15:30 UTC, same UTC date
    schedule = TriggeredSchedule(TriggerEvent.REGISTRATION, 1, time(9, 0))
    assert triggered_due_at(schedule, SH, event) == local(SH, 2025, 3, 11, 9, 0)


def test_triggered_is_exactly_365_days_later_when_no_time_of_day() -> None:
    event = utc(2027, 6, 1, 7, 13, 59)
    schedule = TriggeredSchedule(TriggerEvent.FAN_LEVEL_UP, 365)
    assert triggered_due_at(schedule, SH, event) == event + timedelta(hours=365 * 24)


def test_triggered_is_365_local_days_later_at_time_when_crossing_leap_day() -> None:
    schedule = TriggeredSchedule(TriggerEvent.PURCHASE_ITEMS, 365, time(10, 30), item_ids=("sku-2", "sku-1", "sku-2"))
    assert schedule.item_ids == ("sku-1", "sku-2")
    assert triggered_due_at(schedule, SH, local(SH, 2027, 6, 1, 20, 0)) == local(SH, 2028, 5, 31, 10, 30)


def test_triggered_keeps_wall_time_when_delay_crosses_dst() -> None:
    schedule = TriggeredSchedule(TriggerEvent.BIRTHDAY, 3, time(9, 0))
    assert triggered_due_at(schedule, NY, local(NY, 2025, 3, 7, 12, 0)) == utc(2025, 3, 10, 13)  # 09:00 EDT


# --- daylight saving time -------------------------------------------------------------------------------


def test_daily_keeps_local_time_when_new_york_changes_offset() -> None:
    found = occurrences_between(daily("09:00"), NY, utc(2025, 3, 8), utc(2025, 3, 11), activated_at=utc(2025, 1, 1))
    assert found == [utc(2025, 3, 8, 14), utc(2025, 3, 9, 13), utc(2025, 3, 10, 13)]


def test_nonexistent_time_fires_at_end_of_gap_when_spring_forward() -> None:
    found = occurrences_between(daily("02:30"), NY, utc(2025, 3, 8), utc(2025, 3, 11), activated_at=utc(2025, 1, 1))
    # 02:30 EST, then 03:00 EDT (02:30 does not exist on 9 March), then 02:30 EDT.
    assert found == [utc(2025, 3, 8, 7, 30), utc(2025, 3, 9, 7), utc(2025, 3, 10, 6, 30)]


def test_ambiguous_time_fires_once_at_first_instant_when_fall_back() -> None:
    found = occurrences_between(daily("01:30"), NY, utc(2025, 11, 1), utc(2025, 11, 4), activated_at=utc(2025, 1, 1))
    # 01:30 EDT on 2 November (the first of the two), once.
    assert found == [utc(2025, 11, 1, 5, 30), utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30)]


def test_midnight_gap_resolves_same_day_when_santiago_springs_forward() -> None:
    tz = ZoneInfo("America/Santiago")
    resolved = local_to_utc(date(2025, 9, 7), time(0, 30), tz)  # clocks jump 00:00 -> 01:00
    assert resolved.astimezone(tz).replace(tzinfo=None) == datetime(2025, 9, 7, 1, 0)


# --- validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: recurring("hourly", "09:00"), "frequency"),
        (lambda: recurring("weekly", "09:00"), "weekdays"),
        (lambda: recurring("weekly", "09:00", weekdays=(0,)), "weekdays"),
        (lambda: recurring("daily", "09:00", weekdays=(1,)), "weekdays"),
        (lambda: recurring("monthly", "09:00"), "month_days"),
        (lambda: recurring("monthly", "09:00", month_days=(32,)), "month_days"),
        (lambda: recurring("weekly", "09:00", weekdays=(1,), last_day=True), "month_days"),
        (lambda: recurring("daily", "09:00:30"), "time_of_day"),
        (lambda: daily(start_date=date(2025, 3, 2), end_date=date(2025, 3, 1)), "end_date"),
        (lambda: daily(start_date=datetime(2025, 3, 2)), "start_date"),
        (lambda: TriggeredSchedule(TriggerEvent.PURCHASE, 366), "delay_days"),
        (lambda: TriggeredSchedule(TriggerEvent.PURCHASE, -1), "delay_days"),
        (lambda: TriggeredSchedule("visit"), "event"),  # type: ignore[arg-type]
        (lambda: TriggeredSchedule(TriggerEvent.PURCHASE_ITEMS), "item_ids"),
        (lambda: TriggeredSchedule(TriggerEvent.PURCHASE, item_ids=("a",)), "item_ids"),
        (lambda: first_occurrence(daily(), SH, datetime(2025, 1, 1)), "activated_at"),
        (lambda: first_occurrence(daily(), "Mars/Olympus", utc(2025, 1, 1)), "tz"),
    ],
)
def test_invalid_definition_raises_value_error_naming_field_when_built(build: Callable[[], object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}:"):
        build()


def test_next_occurrence_refuses_when_schedule_is_triggered() -> None:
    with pytest.raises(TypeError):
        next_occurrence(TriggeredSchedule(TriggerEvent.PURCHASE), SH, utc(2025, 1, 1), utc(2025, 1, 1))  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------------------------

INSTANTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2032, 12, 31), timezones=st.just(UTC))


@st.composite
def recurring_schedules(draw: st.DrawFn) -> RecurringSchedule:
    frequency = draw(st.sampled_from(list(Frequency)))
    weekdays: set[int] = set()
    month_days: set[int] = set()
    last_day = False
    if frequency is Frequency.WEEKLY:
        weekdays = draw(st.sets(st.integers(1, 7), min_size=1))
    if frequency is Frequency.MONTHLY:
        month_days = draw(st.sets(st.integers(1, 31), max_size=4))
        last_day = draw(st.booleans()) or not month_days
    start = draw(st.dates(date(2024, 1, 1), date(2032, 12, 31)))
    # Short spans too, so that end_date often lands on (or next to) a firing day.
    end = draw(st.none() | (st.integers(0, 40) | st.integers(0, 900)).map(lambda n: start + timedelta(days=n)))
    return RecurringSchedule(
        frequency=frequency,
        time_of_day=time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 1, 15, 30, 45, 59]))),
        weekdays=tuple(weekdays),
        month_days=tuple(month_days),
        last_day=last_day,
        start_date=start,
        end_date=end,
        start_next_period=draw(st.booleans()),
    )


def fires_on(schedule: RecurringSchedule, day: date) -> bool:
    if schedule.frequency is Frequency.WEEKLY:
        return day.isoweekday() in schedule.weekdays
    if schedule.frequency is Frequency.MONTHLY:
        is_last = (day + timedelta(days=1)).month != day.month
        return day.day in schedule.month_days or (schedule.last_day and is_last)
    return True


def period_floor(schedule: RecurringSchedule, activated_day: date) -> date:
    if not schedule.start_next_period:
        return date.min
    if schedule.frequency is Frequency.DAILY:
        return activated_day + timedelta(days=1)
    if schedule.frequency is Frequency.WEEKLY:
        return activated_day + timedelta(days=8 - activated_day.isoweekday())
    return (activated_day.replace(day=28) + timedelta(days=4)).replace(day=1)


def reference_occurrences(
    schedule: RecurringSchedule, tz: str, start: datetime, end: datetime, activated_at: datetime
) -> list[datetime]:
    """Slow and obvious: look at every local day around the window and keep the ones that fire."""
    zone = ZoneInfo(tz)
    floor = max(schedule.start_date, period_floor(schedule, activated_at.astimezone(zone).date()))
    day, last = start.astimezone(zone).date() - timedelta(days=2), end.astimezone(zone).date() + timedelta(days=2)
    found: list[datetime] = []
    while day <= last:
        in_range = floor <= day and (schedule.end_date is None or day <= schedule.end_date)
        if in_range and fires_on(schedule, day):
            instant = local_to_utc(day, schedule.time_of_day, zone)
            if instant >= activated_at and start < instant <= end and instant not in found:
                found.append(instant)
        day += timedelta(days=1)
    return sorted(found)


def near(anchor: datetime, days: int) -> st.SearchStrategy[datetime]:
    """Instants within `days` of `anchor`, at minute precision, to hit boundaries often."""
    return st.integers(-days * 1440, days * 1440).map(lambda m: anchor + timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(schedule=recurring_schedules(), tz=st.sampled_from(ZONES), data=st.data())
def test_occurrences_between_matches_day_walking_reference_when_any_schedule(
    schedule: RecurringSchedule, tz: str, data: st.DataObject
) -> None:
    # Activation and window land near the start date (or anywhere) so start/end/period edges get hit.
    anchor = datetime.combine(schedule.start_date, time(), tzinfo=UTC)
    activated_at = data.draw(near(anchor, 45) | INSTANTS, label="activated_at")
    start = data.draw(near(activated_at, 40) | INSTANTS, label="start")
    end = start + timedelta(minutes=data.draw(st.integers(0, 120 * 1440), label="minutes"))
    expected = reference_occurrences(schedule, tz, start, end, activated_at)
    assert occurrences_between(schedule, tz, start, end, activated_at) == expected


@settings(max_examples=60, deadline=None)
@given(schedule=recurring_schedules(), tz=st.sampled_from(ZONES), activated_at=INSTANTS)
def test_occurrences_obey_the_definition_when_walked_over_years(
    schedule: RecurringSchedule, tz: str, activated_at: datetime
) -> None:
    zone = ZoneInfo(tz)
    found = occurrences_between(schedule, tz, activated_at - timedelta(days=1), utc(2035, 1, 1), activated_at)
    assert found == sorted(set(found))
    for instant in found:
        shown = instant.astimezone(zone)
        assert instant >= activated_at
        assert fires_on(schedule, shown.date())
        assert schedule.start_date <= shown.date()
        assert schedule.end_date is None or shown.date() <= schedule.end_date
        wanted = datetime.combine(shown.date(), schedule.time_of_day)
        if shown.replace(tzinfo=None) != wanted:  # only when the wanted wall time fell into a DST gap
            just_before = (instant - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None)
            assert just_before < wanted < shown.replace(tzinfo=None)
    if found:
        assert first_occurrence(schedule, tz, activated_at) == found[0]


@settings(max_examples=150, deadline=None)
@given(schedule=recurring_schedules(), tz=st.sampled_from(ZONES), activated_at=INSTANTS, after=INSTANTS)
def test_next_occurrence_chains_like_occurrences_between_when_stepped(
    schedule: RecurringSchedule, tz: str, activated_at: datetime, after: datetime
) -> None:
    end = after + timedelta(days=75)
    chained: list[datetime] = []
    cursor = after
    while (found := next_occurrence(schedule, tz, cursor, activated_at)) is not None and found <= end:
        chained.append(found)
        cursor = found
    assert chained == occurrences_between(schedule, tz, after, end, activated_at)


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(date(2024, 1, 1), date(2032, 12, 31)),
    wall=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    tz=st.sampled_from(ZONES),
)
def test_local_to_utc_is_first_instant_showing_wall_time_when_any_zone(day: date, wall: time, tz: str) -> None:
    zone = ZoneInfo(tz)
    wanted = datetime.combine(day, wall)
    instant = local_to_utc(day, wall, zone)

    def shown(at: datetime) -> datetime:
        return at.astimezone(zone).replace(tzinfo=None)

    # The clock shows the wanted time (or, in a gap, just passed it) and showed less just before.
    assert shown(instant) >= wanted
    assert all(shown(instant - timedelta(seconds=s)) < wanted for s in (1, 600, 1800, 3600, 5400, 7200))
    exists = shown(wanted.replace(tzinfo=zone).astimezone(UTC)) == wanted
    assert (shown(instant) == wanted) == exists


@settings(max_examples=200, deadline=None)
@given(
    delay=st.integers(0, 365),
    at=st.none() | st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    tz=st.sampled_from(ZONES),
    event_at=INSTANTS,
)
def test_triggered_due_is_never_before_event_and_on_the_right_day_when_any_delay(
    delay: int, at: time | None, tz: str, event_at: datetime
) -> None:
    zone = ZoneInfo(tz)
    due = triggered_due_at(TriggeredSchedule(TriggerEvent.PURCHASE, delay, at), tz, event_at)
    assert due >= event_at
    if at is None:
        assert due - event_at == timedelta(days=delay)
    elif due != event_at:
        assert due == local_to_utc(event_at.astimezone(zone).date() + timedelta(days=delay), at, zone)
