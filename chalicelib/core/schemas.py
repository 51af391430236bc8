"""Schemas shared by every package's HTTP edge: list paging and the error body."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Body(BaseModel):
    """Base of request bodies: unknown fields are a 400, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


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
