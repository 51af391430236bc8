"""Schemas shared by every package's HTTP edge: list paging, the error body, merge-patch bodies."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, create_model
from pydantic_core import PydanticCustomError

from chalicelib.core.basemodel import Model
from chalicelib.core.clock import MAX_FUTURE_SKEW

# Input days and instants stay in a range where local-day / UTC conversions and day arithmetic cannot overflow
# (year 1 at +08:00 is before datetime.min in UTC) and where stored ISO text keeps four-digit years.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2199, 12, 31)
_RANGE = f"must be between {EARLIEST_DAY} and {LATEST_DAY}"


def check_day(value: date) -> date:
    """A day within EARLIEST_DAY..LATEST_DAY (ValueError otherwise, which pydantic reports with the field)."""
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(_RANGE)
    return value


def check_instant(value: datetime) -> datetime:
    """An aware instant whose UTC day is within EARLIEST_DAY..LATEST_DAY."""
    try:
        check_day(value.astimezone(UTC).date())
    except OverflowError:
        raise ValueError(_RANGE) from None
    return value


# The most advanced time zone (Pacific/Kiritimati) is UTC+14: a day after the UTC day of now + 14 h is a future day
# for every merchant.
_LATEST_OFFSET = timedelta(hours=14)


def _clock(info: ValidationInfo) -> datetime:
    """The request's clock, passed as validation context {"now": instant} by whoever validates facts."""
    now = (info.context or {}).get("now")
    if not isinstance(now, datetime):
        raise TypeError("facts are validated with context={'now': <aware datetime>}")
    return now


def check_not_ahead(value: datetime, info: ValidationInfo) -> datetime:
    """A fact's instant no more than MAX_FUTURE_SKEW after the clock (a typo such as 2099 is refused by item)."""
    now = _clock(info)
    if value > now + MAX_FUTURE_SKEW:
        minutes = int(MAX_FUTURE_SKEW.total_seconds()) // 60
        clock = f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
        raise PydanticCustomError("future_instant", "lies in the future: at most {minutes} minutes after the "
                                  "server's clock ({now})", {"minutes": minutes, "now": clock})
    return value


def check_day_not_ahead(value: date, info: ValidationInfo) -> date:
    """A fact's day that is not after today in every time zone."""
    today = (_clock(info).astimezone(UTC) + _LATEST_OFFSET).date()
    if value > today:
        raise PydanticCustomError("future_day", "lies in the future: at most {today}", {"today": today.isoformat()})
    return value


Day = Annotated[date, AfterValidator(check_day)]
Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]
# Instants and days of facts (orders, events, customers' dates): refused when ahead of the clock, so that no record
# dated by mistake moves derived state (windows, watermarks) into the future.
PastDay = Annotated[date, AfterValidator(check_day), AfterValidator(check_day_not_ahead)]
PastInstant = Annotated[AwareDatetime, AfterValidator(check_instant), AfterValidator(check_not_ahead)]


class Body(Model):
    """Base of request bodies: unknown fields are a 400, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


def partial_model(model: type[BaseModel], name: str) -> type[BaseModel]:
    """`model` with every field optional and defaulting to None, nested models made partial too, unknown fields
    refused: the body of a JSON Merge Patch (RFC 7396) of a document `model` validates. Field constraints carry
    over; validators run when the merged document is validated as `model`."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = partial_model(annotation, annotation.__name__ + "Patch")
        optional = copy.copy(info)
        optional.default = None
        optional.default_factory = None
        fields[field_name] = (annotation | None, optional)
    made: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="forbid", defer_build=True),
                                         __doc__=model.__doc__,
                                         **fields)
    return made


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge member by member, null removes a member (the document's default applies again),
    anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class ListQuery(Body):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2048)


class ErrorDetail(Model):
    field: str | None
    reason: str


class ErrorInfo(Model):
    code: str
    message: str
    field: str | None = None
    reason: str
    details: list[ErrorDetail] = []  # noqa: RUF012 (pydantic copies a default per instance)


class ErrorBody(Model):
    error: ErrorInfo
