"""Schemas shared by every package's HTTP edge: list paging, the error body, merge-patch bodies."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, create_model

T = TypeVar("T")
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


Day = Annotated[date, AfterValidator(check_day)]
Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]


class Body(BaseModel):
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
    made: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="forbid"), __doc__=model.__doc__,
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


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class ErrorDetail(BaseModel):
    field: str | None
    reason: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    field: str | None = None
    reason: str
    details: list[ErrorDetail] = []


class ErrorBody(BaseModel):
    error: ErrorInfo
