"""Staff task use cases: create one per delivery (idempotent), list by viewer, complete with an outcome."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.core.clock import Clock, to_iso
from chalicelib.core.errors import Conflict, Forbidden, NotFound
from chalicelib.coupons.model import WalletConflict
from chalicelib.staff.execution import StaffTally, tally
from chalicelib.staff.model import StaffTask, TaskOutcome


class TaskPort(Protocol):
    def put_new(self, task: StaffTask) -> bool: ...

    def get(self, merchant_id: str, task_id: str) -> StaffTask | None: ...

    def replace(self, before: StaffTask, after: StaffTask) -> None: ...

    def created_between(self, merchant_id: str, staff_id: str | None, start_iso: str, end_iso: str
                        ) -> list[StaffTask]: ...

    def list(self, merchant_id: str, staff_id: str | None, status: str | None, limit: int,
             start_key: dict[str, Any] | None) -> tuple[list[StaffTask], dict[str, Any] | None]: ...


def task_id_for(merchant_id: str, delivery_key: str) -> str:
    """One task per delivery: a re-delivered message finds the task it created."""
    digest = hashlib.sha256(f"{merchant_id}\x00task\x00{delivery_key}".encode()).digest()
    return "tk_" + base64.b32encode(digest).decode().lower()[:20]


class StaffTaskService:
    def __init__(self, store: TaskPort, clock: Clock,
                 on_completed: Callable[[StaffTask], None] | None = None) -> None:
        """`on_completed` releases the staff-side limit (guardrails: one open task per customer per plan)."""
        self._store = store
        self._clock = clock
        self._on_completed = on_completed

    def create_task(self, merchant_id: str, staff_id: str, customer_id: str, script: str, *, delivery_key: str,
                    nickname: str | None = None, phone: str | None = None, campaign_id: str | None = None,
                    run_id: str | None = None, coupons: tuple[dict[str, Any], ...] = ()) -> tuple[StaffTask, bool]:
        """(task, created now); the same delivery_key returns the task made the first time."""
        task = StaffTask(merchant_id, task_id_for(merchant_id, delivery_key), staff_id, customer_id, script,
                         self._clock(), nickname=nickname, phone=phone, campaign_id=campaign_id, run_id=run_id,
                         delivery_key=delivery_key, coupons=coupons)
        if self._store.put_new(task):
            return task, True
        existing = self._store.get(merchant_id, task.task_id)
        return (existing or task), False

    def list_tasks(self, merchant_id: str, viewer_staff_id: str | None, staff_id: str | None, status: str | None,
                   limit: int, start_key: dict[str, Any] | None) -> tuple[list[StaffTask], dict[str, Any] | None]:
        """A staff viewer sees only its own tasks; others see all, or one staff member's with `staff_id`."""
        if viewer_staff_id is not None:
            if staff_id is not None and staff_id != viewer_staff_id:
                raise Forbidden("a staff key sees only its own tasks", field="query.staff_id")
            staff_id = viewer_staff_id
        return self._store.list(merchant_id, staff_id, status, limit, start_key)

    def execution(self, merchant_id: str, viewer_staff_id: str | None, staff_id: str | None, start: datetime,
                  end: datetime, due: timedelta) -> tuple[list[StaffTally], datetime]:
        """Per staff member, the tasks created in [start, end) as of now (a staff viewer: its own row only)."""
        if viewer_staff_id is not None:
            if staff_id is not None and staff_id != viewer_staff_id:
                raise Forbidden("a staff key sees only its own tasks", field="query.staff_id")
            staff_id = viewer_staff_id
        now = self._clock()
        return tally(self._store.created_between(merchant_id, staff_id, to_iso(start), to_iso(end)), now, due), now

    def get(self, merchant_id: str, task_id: str, viewer_staff_id: str | None) -> StaffTask:
        task = self._store.get(merchant_id, task_id)
        if task is None or (viewer_staff_id is not None and task.staff_id != viewer_staff_id):
            raise NotFound(f"no task {task_id}", field="path.task_id")
        return task

    def complete(self, merchant_id: str, task_id: str, outcome: TaskOutcome, note: str | None,
                 viewer_staff_id: str | None, completed_by: str) -> StaffTask:
        """Record the outcome once; a second completion is a 409."""
        task = self.get(merchant_id, task_id, viewer_staff_id)
        if task.status == "done":
            self._released(task)  # a retry after the release failed: release again (idempotent) before the 409
            raise Conflict(f"task already completed with outcome {task.outcome}", field="path.task_id")
        done = task.with_(status="done", outcome=outcome, note=note, completed_at=self._clock(),
                          completed_by=completed_by)
        try:
            self._store.replace(task, done)
        except WalletConflict as exc:
            raise Conflict("task already completed", field="path.task_id") from exc
        self._released(done)
        return done

    def _released(self, task: StaffTask) -> None:
        if self._on_completed is not None and task.campaign_id and task.delivery_key:
            self._on_completed(task)
