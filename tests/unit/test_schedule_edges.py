"""Schedules at their edges: the exact ends of (start, end], an end date on the 1st, a skipped day, the server's own
zone, and every validation error naming its field."""

from __future__ import annotations

import time as _time
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.campaigns.schedule import (
    Frequency,
    OnceSchedule,
    RecurringSchedule,
    first_occurrence,
    local_to_utc,
    next_occurrence,
    next_period_start,
    occurrences_between,
    once_instant,
)
from chalicelib.campaigns.schedule_triggered import TriggeredSchedule, TriggerEvent, triggered_due_at

SH = "Asia/Shanghai"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NAIVE = datetime(2026, 1, 1)


def daily(at: time = time(9, 0), **kw: object) -> RecurringSchedule:
    kw.setdefault("start_date", date(2024, 1, 1))
    return RecurringSchedule(frequency=Frequency.DAILY, time_of_day=at, **kw)  # type: ignore[arg-type]


@pytest.fixture
def server_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process runs in UTC+14, far from every merchant: nothing may depend on the server's zone."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    _time.tzset()
    yield
    monkeypatch.undo()
    _time.tzset()


# -- the (start, end] window ----------------------------------------------------------------------
def test_a_once_schedule_counts_in_start_exclusive_end_inclusive_windows():
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    once = OnceSchedule(at)
    assert occurrences_between(once, SH, at, at + timedelta(hours=1), T0) == []
    assert occurrences_between(once, SH, at - timedelta(hours=1), at, T0) == [at]
    assert occurrences_between(once, SH, at + timedelta(seconds=1), at + timedelta(days=1), T0) == []
    assert occurrences_between(once, SH, at - timedelta(days=1), at - timedelta(seconds=1), T0) == []


def test_a_recurring_occurrence_exactly_at_the_end_of_the_window_is_caught_up():
    nine = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    got = occurrences_between(daily(), SH, nine - timedelta(days=1), nine, T0)
    assert got == [nine]
    assert occurrences_between(daily(), SH, nine - timedelta(days=1), nine - timedelta(seconds=1), T0) == []


def test_an_empty_or_reversed_window_holds_nothing():
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert occurrences_between(OnceSchedule(at), SH, at, at - timedelta(hours=1), T0) == []
    assert occurrences_between(daily(), SH, at + timedelta(days=2), at, T0) == []


def test_a_naive_once_time_is_the_merchants_wall_time_when_caught_up():
    once = OnceSchedule(datetime(2026, 3, 1, 9, 0))
    nine_sh = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    assert occurrences_between(once, SH, nine_sh - timedelta(hours=1), nine_sh, T0) == [nine_sh]


# -- calendar edges -------------------------------------------------------------------------------------
def test_a_monthly_schedule_fires_on_an_end_date_that_is_the_first_of_a_month():
    monthly = RecurringSchedule(frequency=Frequency.MONTHLY, time_of_day=time(9, 0), month_days=(1,),
                                start_date=date(2027, 1, 1), end_date=date(2027, 3, 1))
    got = occurrences_between(monthly, SH, T0, datetime(2028, 1, 1, tzinfo=UTC), T0)
    assert [d.astimezone(ZoneInfo(SH)).date() for d in got] == [date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)]


def test_the_period_after_december_starts_on_the_first_of_january_of_the_next_year():
    assert next_period_start(Frequency.MONTHLY, date(2026, 12, 15)) == date(2027, 1, 1)
    assert next_period_start(Frequency.MONTHLY, date(2026, 11, 30)) == date(2026, 12, 1)


def test_a_day_the_zone_skipped_fires_once_at_the_first_instant_after_it():
    # Samoa skipped 30 December 2011: its midnight resolves to the next day's midnight, which fires only once.
    zone = "Pacific/Apia"
    start, end = datetime(2011, 12, 28, 12, tzinfo=UTC), datetime(2012, 1, 1, 9, tzinfo=UTC)
    got = occurrences_between(daily(time(0, 0), start_date=date(2011, 12, 1)), zone, start, end, start)
    assert [d.astimezone(ZoneInfo(zone)).date().isoformat() for d in got] == [
        "2011-12-29", "2011-12-31", "2012-01-01"]


def test_occurrences_do_not_depend_on_the_servers_time_zone(server_zone):
    # 23:00 at UTC-12 is already the day after tomorrow at UTC+14.
    zone = "Etc/GMT+12"
    after = datetime(2026, 3, 1, 23, 0, tzinfo=ZoneInfo(zone))
    got = next_occurrence(daily(time(23, 30)), zone, after, T0)
    assert got == datetime(2026, 3, 1, 23, 30, tzinfo=ZoneInfo(zone))
    once = once_instant(OnceSchedule(datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo(SH))), SH, T0)
    assert once == datetime(2026, 3, 1, 1, 0, tzinfo=UTC) and once.utcoffset() == timedelta(0)


# -- every validation error names its field ---------------------------------------------------------------
@pytest.mark.parametrize(("call", "message"), [
    (lambda: next_occurrence(daily(), SH, NAIVE, T0), "after: must be a timezone-aware instant"),
    (lambda: next_occurrence(daily(), SH, T0, NAIVE), "activated_at: must be a timezone-aware instant"),
    (lambda: occurrences_between(daily(), SH, NAIVE, T0, T0), "start: must be a timezone-aware instant"),
    (lambda: occurrences_between(daily(), SH, T0, NAIVE, T0), "end: must be a timezone-aware instant"),
    (lambda: occurrences_between(daily(), SH, T0, T0, NAIVE), "activated_at: must be a timezone-aware instant"),
    (lambda: once_instant(OnceSchedule(), SH, NAIVE), "activated_at: must be a timezone-aware instant"),
    (lambda: OnceSchedule("2026-01-01"), "at: must be a date-time or null (send now)"),
    (lambda: daily(last_day="yes"), "last_day: must be true or false"),
    (lambda: daily(start_next_period=1), "start_next_period: must be true or false"),
    (lambda: daily(end_date=datetime(2027, 1, 1)), "end_date: must be a calendar date"),
    (lambda: RecurringSchedule(frequency=Frequency.WEEKLY, time_of_day=time(9), weekdays=(8,),
                               start_date=date(2026, 1, 1)), "weekdays: each value must be an integer from 1 to 7"),
    (lambda: RecurringSchedule(frequency=Frequency.WEEKLY, time_of_day=time(9), weekdays=(True,),
                               start_date=date(2026, 1, 1)), "weekdays: each value must be an integer from 1 to 7"),
])
def test_a_bad_value_is_a_value_error_naming_its_field(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


def test_a_weekly_schedule_accepts_sunday_as_seven():
    weekly = RecurringSchedule(frequency=Frequency.WEEKLY, time_of_day=time(9), weekdays=(7,),
                               start_date=date(2026, 1, 1))
    assert weekly.weekdays == (7,)


@pytest.mark.parametrize("call", [next_occurrence, lambda s, tz, a, b: occurrences_between(s, tz, a, b, b)])
def test_a_triggered_schedule_has_no_calendar_occurrences(call):
    triggered = TriggeredSchedule(TriggerEvent.PURCHASE)
    with pytest.raises(TypeError) as caught:
        call(triggered, SH, T0, T0 + timedelta(days=1))
    assert str(caught.value) == "schedule: TriggeredSchedule has no calendar occurrences"


# -- triggered schedules ------------------------------------------------------------------------------------
EVENTS = ("purchase, purchase_items, service_completed, card_used, order_cancelled, order_timed_out, fan_level_up, "
          "registration, birthday, first_visit")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"event": "visit"}, f"event: must be one of {EVENTS}"),
    ({"delay_days": -1}, "delay_days: must be an integer from 0 to 365"),
    ({"delay_days": 366}, "delay_days: must be an integer from 0 to 365"),
    ({"delay_days": True}, "delay_days: must be an integer from 0 to 365"),
    ({"delay_days": "3"}, "delay_days: must be an integer from 0 to 365"),
    ({"time_of_day": time(9, 0, 30)}, "time_of_day: must be a local HH:MM time without seconds or offset"),
    ({"event": "purchase_items", "item_ids": "sku1"}, "item_ids: must be a list of non-empty item ids"),
    ({"event": "purchase_items", "item_ids": ("sku1", "")}, "item_ids: must be a list of non-empty item ids"),
    ({"event": "purchase_items", "item_ids": (7,)}, "item_ids: must be a list of non-empty item ids"),
    ({"event": "purchase_items"}, "item_ids: purchase_items needs at least one item id"),
    ({"item_ids": ("sku1",)}, "item_ids: only purchase_items takes item ids"),
])
def test_a_bad_triggered_schedule_names_its_field(kwargs, message):
    kwargs = {"event": "purchase", **kwargs}
    with pytest.raises(ValueError) as caught:
        TriggeredSchedule(**kwargs)
    assert str(caught.value) == message


def test_a_triggered_schedule_accepts_the_delay_bounds_and_keeps_item_ids_sorted_once():
    assert TriggeredSchedule(TriggerEvent.PURCHASE, 0).delay_days == 0
    assert TriggeredSchedule(TriggerEvent.PURCHASE, 365, time(9, 0)).delay_days == 365
    items = TriggeredSchedule(TriggerEvent.PURCHASE_ITEMS, item_ids=("b", "a", "b"))  # type: ignore[arg-type]
    assert items.item_ids == ("a", "b") and items.event is TriggerEvent.PURCHASE_ITEMS
    assert TriggeredSchedule("birthday").event is TriggerEvent.BIRTHDAY  # type: ignore[arg-type]


def test_a_triggered_due_time_needs_an_aware_event_instant():
    with pytest.raises(ValueError) as caught:
        triggered_due_at(TriggeredSchedule(TriggerEvent.PURCHASE, 1), SH, NAIVE)
    assert str(caught.value) == "event_at: must be a timezone-aware instant"


def test_a_wall_time_in_a_spring_forward_gap_is_the_first_instant_after_the_gap_to_the_second():
    ny = ZoneInfo("America/New_York")
    for minute in (1, 15, 30, 59):
        assert local_to_utc(date(2026, 3, 8), time(2, minute), ny) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert local_to_utc(date(2026, 3, 8), time(3, 0), ny) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_instants_come_back_in_utc_whatever_the_servers_zone(server_zone):
    ny = ZoneInfo("America/New_York")
    for got in (local_to_utc(date(2026, 3, 8), time(2, 1), ny), local_to_utc(date(2026, 3, 9), time(9, 0), ny),
                first_occurrence(OnceSchedule(), SH, datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo(SH))),
                next_occurrence(daily(), SH, datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo(SH)), T0)):
        assert got is not None and got.tzinfo is UTC, got
    assert local_to_utc(date(2026, 3, 8), time(2, 1), ny) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("wall", [time(9, 0, tzinfo=UTC), "09:00", time(9, 0, 0, 5)])
def test_a_time_of_day_is_a_naive_wall_time_in_whole_minutes(wall):
    with pytest.raises(ValueError, match="time_of_day: must be a local HH:MM time without seconds or offset"):
        daily(wall)
