"""HTTP bodies of staff follow-up tasks."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from chalicelib.core.basemodel import Model
from chalicelib.core.schemas import Body, Day, ListQuery

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


MAX_EXECUTION_DAYS = 92


class ExecutionQuery(Body):
    from_: Day | None = Field(default=None, alias="from",
                              description="first local day (YYYY-MM-DD) of task creation; default 6 days before to")
    to: Day | None = Field(default=None, description="last local day, inclusive; default today")
    due_hours: int = Field(default=24, ge=1, le=720,
                           description="a task is due this many hours after it was created: still open after that "
                                       "is overdue, completed after that is done_late")
    staff_id: str | None = Field(default=None, pattern=ID, description="one staff member (a staff key: its own)")


class ExecutionRow(Model):
    staff_id: str = Field(description="the staff member; \"*\" in totals")
    assigned: int = Field(description="tasks created for this staff member in the window")
    done: int = Field(description="of those, completed (with an outcome) by as_of")
    done_late: int = Field(description="of the done, completed more than due_hours after creation")
    open: int = Field(description="of those, not completed by as_of (assigned = done + open)")
    overdue: int = Field(description="of the open, created more than due_hours before as_of")
    outcomes: dict[Literal["reached", "no_answer", "declined", "other"], int] = Field(
        description="the done tasks by recorded outcome")


class ExecutionOut(Model):
    """Staff execution (003 员工执行情况): each staff member's follow-up tasks created in the local days."""

    day_from: date
    day_to: date
    due_hours: int
    as_of: str = Field(description="the instant open tasks were judged overdue at")
    items: list[ExecutionRow] = Field(description="staff members with a task in the window, by staff id")
    totals: ExecutionRow
