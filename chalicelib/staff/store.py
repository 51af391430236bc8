"""PynamoDB storage of staff tasks in the wallet table: by staff (gsi1) and for the whole merchant (gsi2)."""

from __future__ import annotations

import json
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import Invalid, TooLarge
from chalicelib.coupons.model import WalletConflict
from chalicelib.coupons.store import WalletItem, dumps
from chalicelib.staff.model import StaffTask

TASK = "TASK"
MAX_WINDOW_TASKS = 20_000  # tasks one execution view reads (about 20 MB of items): past it, a narrower window


def task_pk(merchant_id: str, task_id: str) -> str:
    return f"{merchant_id}#TASK#{task_id}"


def staff_owner_key(merchant_id: str, staff_id: str) -> str:
    return f"{merchant_id}#STAFF#{staff_id}"


def all_tasks_key(merchant_id: str) -> str:
    return f"{merchant_id}#TASKS"


def _item(task: StaffTask) -> WalletItem:
    sort = f"{task.to_doc()['created_at']}#{task.task_id}"
    return WalletItem(task_pk(task.merchant_id, task.task_id), TASK, kind=TASK, doc=dumps(task.to_doc()),
                      status=task.status, customer_id=task.customer_id,
                      gsi1pk=staff_owner_key(task.merchant_id, task.staff_id), gsi1sk=sort,
                      gsi2pk=all_tasks_key(task.merchant_id), gsi2sk=sort)


def _task(merchant_id: str, item: WalletItem) -> StaffTask:
    return StaffTask.from_doc(merchant_id, json.loads(item.doc or "{}"))


class TaskStore:
    def put_new(self, task: StaffTask) -> bool:
        """Store a task unless one with its id exists (a re-delivered message); True when stored now."""
        try:
            _item(task).save(condition=WalletItem.pk.does_not_exist())
        except PutError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def get(self, merchant_id: str, task_id: str) -> StaffTask | None:
        try:
            item = WalletItem.get(task_pk(merchant_id, task_id), TASK, consistent_read=True)
        except WalletItem.DoesNotExist:
            return None
        return _task(merchant_id, item)

    def replace(self, before: StaffTask, after: StaffTask) -> None:
        try:
            _item(after).save(condition=WalletItem.status == before.status)
        except PutError as exc:
            if is_condition_failure(exc):
                raise WalletConflict("status") from exc
            raise

    def created_between(self, merchant_id: str, staff_id: str | None, start_iso: str, end_iso: str
                        ) -> list[StaffTask]:
        """Every task created in [start, end) — one staff member's (gsi1) or the merchant's (gsi2)."""
        if staff_id is not None:
            results = WalletItem.by_owner.query(staff_owner_key(merchant_id, staff_id),
                                                WalletItem.gsi1sk.between(start_iso, end_iso), page_size=1000)
        else:
            results = WalletItem.by_merchant.query(all_tasks_key(merchant_id),
                                                   WalletItem.gsi2sk.between(start_iso, end_iso), page_size=1000)
        tasks: list[StaffTask] = []
        for item in results:
            if item.kind != TASK:
                continue
            if len(tasks) == MAX_WINDOW_TASKS:
                raise TooLarge(f"more than {MAX_WINDOW_TASKS} tasks in the window: choose fewer days",
                               field="query.from")
            tasks.append(_task(merchant_id, item))
        return tasks

    def list(self, merchant_id: str, staff_id: str | None, status: str | None, limit: int,
             start_key: dict[str, Any] | None) -> tuple[list[StaffTask], dict[str, Any] | None]:
        """Newest first: one staff member's tasks (gsi1) or every task of the merchant (gsi2)."""
        condition = WalletItem.status == status if status else None
        index_key, owner = (("gsi1pk", staff_owner_key(merchant_id, staff_id)) if staff_id is not None
                            else ("gsi2pk", all_tasks_key(merchant_id)))
        if start_key is not None and start_key.get(index_key, {}).get("S") != owner:
            raise Invalid("cursor belongs to another list", field="query.cursor")
        if staff_id is not None:
            results = WalletItem.by_owner.query(staff_owner_key(merchant_id, staff_id), scan_index_forward=False,
                                                filter_condition=condition, limit=limit, last_evaluated_key=start_key)
        else:
            results = WalletItem.by_merchant.query(all_tasks_key(merchant_id), scan_index_forward=False,
                                                   filter_condition=condition, limit=limit,
                                                   last_evaluated_key=start_key)
        tasks = [_task(merchant_id, item) for item in results if item.kind == TASK]
        return tasks, results.last_evaluated_key
