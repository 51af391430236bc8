"""Staff routes: tasks, completing one, execution per staff member (a staff key sees only its own)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.core.auth import ALL_ROLES, Principal, Role
from chalicelib.core.clock import to_iso
from chalicelib.core.errors import Invalid
from chalicelib.core.http import Request, route
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.core.pii import mask_phone
from chalicelib.staff.execution import StaffTally, total
from chalicelib.staff.model import StaffTask
from chalicelib.staff.schemas import (
    MAX_EXECUTION_DAYS,
    CompleteTaskIn,
    ExecutionOut,
    ExecutionQuery,
    ExecutionRow,
    StaffTaskOut,
    StaffTaskPage,
    StaffTaskQuery,
)

bp = Blueprint(__name__)
TAG = "staff"


def _viewer(principal: Principal) -> str | None:
    """The staff id a staff key is bound to; None for roles that see every task."""
    if principal.role is Role.STAFF:
        return principal.staff_id or ""  # a staff key without a staff id sees nothing
    return None


def task_out(task: StaffTask) -> StaffTaskOut:
    return StaffTaskOut(
        task_id=task.task_id, staff_id=task.staff_id, customer_id=task.customer_id, nickname=task.nickname,
        phone=mask_phone(task.phone), script=task.script, coupons=list(task.coupons), campaign_id=task.campaign_id,
        run_id=task.run_id, status=task.status, created_at=to_iso(task.created_at),
        completed_at=to_iso(task.completed_at) if task.completed_at else None, completed_by=task.completed_by,
        outcome=task.outcome, note=task.note)


@route(bp, "/v1/staff/tasks", "GET", summary="Follow-up tasks (a staff key sees only its own)", tag=TAG,
       roles=ALL_ROLES, query=StaffTaskQuery, response=StaffTaskPage)
def list_tasks(req: Request) -> StaffTaskPage:
    q: StaffTaskQuery = req.query
    merchant = req.principal.merchant_id
    tasks, last = wiring.staff_service().list_tasks(merchant, _viewer(req.principal), q.staff_id, q.status,
                                                    q.limit, decode_cursor(q.cursor, merchant))
    return StaffTaskPage(items=[task_out(t) for t in tasks], next_cursor=encode_cursor(last))


@route(bp, "/v1/staff/tasks/{task_id}/complete", "POST", summary="Record a follow-up task's outcome", tag=TAG,
       roles=frozenset({Role.ADMIN, Role.OPERATOR, Role.STAFF}), body=CompleteTaskIn, response=StaffTaskOut)
def complete_task(req: Request, task_id: str) -> StaffTaskOut:
    body: CompleteTaskIn = req.body
    done = wiring.staff_service().complete(req.principal.merchant_id, task_id, body.outcome, body.note,
                                           _viewer(req.principal), req.principal.staff_id or req.principal.key_id)
    return task_out(done)


@route(bp, "/v1/staff/execution", "GET", summary="Staff execution (员工执行情况): per staff member, the follow-up "
       "tasks created in the local days (?from, ?to; default the last 7) — assigned, done, done late, open, overdue "
       "(open past ?due_hours, default 24) and outcomes, as of now; a staff key sees its own row", tag=TAG,
       roles=ALL_ROLES, query=ExecutionQuery, response=ExecutionOut)
def staff_execution(req: Request) -> ExecutionOut:
    q: ExecutionQuery = req.query
    merchant = req.principal.merchant_id
    zone = ZoneInfo(wiring.tenancy_service().settings(merchant)[0].timezone)
    day_to = q.to or wiring.clock()().astimezone(zone).date()
    day_from = q.from_ or day_to - timedelta(days=6)
    if day_from > day_to:
        raise Invalid("from must not be after to", field="query.from")
    if (day_to - day_from).days >= MAX_EXECUTION_DAYS:
        raise Invalid(f"at most {MAX_EXECUTION_DAYS} days from from to to", field="query.to")
    start, end = (datetime.combine(d, time(0), tzinfo=zone) for d in (day_from, day_to + timedelta(days=1)))
    rows, now = wiring.staff_service().execution(merchant, _viewer(req.principal), q.staff_id, start, end,
                                                 timedelta(hours=q.due_hours))
    return ExecutionOut(day_from=day_from, day_to=day_to, due_hours=q.due_hours, as_of=to_iso(now),
                        items=[_row(r) for r in rows], totals=_row(total(rows)))


def _row(t: StaffTally) -> ExecutionRow:
    return ExecutionRow(staff_id=t.staff_id, assigned=t.assigned, done=t.done, done_late=t.done_late, open=t.open,
                        overdue=t.overdue, outcomes=dict(t.outcomes))
