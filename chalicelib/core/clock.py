"""The injected clock: domain code takes `now` as an argument, wiring supplies it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
# How far ahead of our clock an ingested instant may lie (producers' clocks drift, a few seconds to minutes); later
# instants are refused at the edge, and derived state never moves past now + this skew.
MAX_FUTURE_SKEW = timedelta(minutes=5)


def system_clock() -> datetime:
    """Current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def fixed_clock(instant: datetime) -> Clock:
    """A clock stuck at `instant` (tests, replays)."""
    if instant.tzinfo is None:
        raise ValueError("fixed_clock needs an aware datetime")
    return lambda: instant


def to_iso(instant: datetime) -> str:
    """ISO-8601 in UTC with a Z, second precision: how instants are stored and returned."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 instant; naive input is rejected by callers before this."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("instant needs a UTC offset")
    return value.astimezone(UTC)
