"""HTTP bodies of staff follow-up tasks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from chalicelib.core.basemodel import Model
from chalicelib.core.schemas import Body, ListQuery

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class StaffTaskQuery(ListQuery):
    status: Literal["open", "done"] | None = None
    staff_id: str | None = Field(default=None, pattern=ID, description="admin/operator/readonly: one staff member")


class CompleteTaskIn(Body):
    outcome: Literal["reached", "no_answer", "declined", "other"]
    note: str | None = Field(default=None, max_length=500)


class StaffTaskOut(Model):
    task_id: str
    staff_id: str
    customer_id: str
    nickname: str | None
    phone: str | None = Field(description="masked")
    script: str = Field(description="the rendered script to use with the customer")
    coupons: list[dict[str, Any]]
    campaign_id: str | None
    run_id: str | None
    status: Literal["open", "done"]
    created_at: str
    completed_at: str | None
    completed_by: str | None
    outcome: str | None
    note: str | None


class StaffTaskPage(Model):
    items: list[StaffTaskOut]
    next_cursor: str | None = None
