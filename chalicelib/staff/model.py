"""Staff follow-up tasks: the staff owner reaches the customer with a script and records the outcome."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from chalicelib.core.clock import parse_iso, to_iso

TaskStatus = Literal["open", "done"]
TaskOutcome = Literal["reached", "no_answer", "declined", "other"]
OUTCOMES: tuple[TaskOutcome, ...] = ("reached", "no_answer", "declined", "other")


@dataclass(frozen=True, slots=True)
class StaffTask:
    """One task for one staff member about one customer; pausing a campaign leaves it in place."""

    merchant_id: str
    task_id: str
    staff_id: str
    customer_id: str
    script: str
    created_at: datetime
    status: TaskStatus = "open"
    nickname: str | None = None
    phone: str | None = None
    campaign_id: str | None = None
    run_id: str | None = None
    delivery_key: str | None = None
    coupons: tuple[dict[str, Any], ...] = ()
    completed_at: datetime | None = None
    completed_by: str | None = None
    outcome: TaskOutcome | None = None
    note: str | None = None

    def with_(self, **changes: Any) -> StaffTask:
        return replace(self, **changes)

    def to_doc(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id, "staff_id": self.staff_id, "customer_id": self.customer_id,
            "script": self.script, "created_at": to_iso(self.created_at), "status": self.status,
            "nickname": self.nickname, "phone": self.phone, "campaign_id": self.campaign_id, "run_id": self.run_id,
            "delivery_key": self.delivery_key, "coupons": list(self.coupons),
            "completed_at": to_iso(self.completed_at) if self.completed_at else None,
            "completed_by": self.completed_by, "outcome": self.outcome, "note": self.note,
        }

    @staticmethod
    def from_doc(merchant_id: str, doc: dict[str, Any]) -> StaffTask:
        return StaffTask(
            merchant_id=merchant_id, task_id=doc["task_id"], staff_id=doc["staff_id"],
            customer_id=doc["customer_id"], script=doc["script"], created_at=parse_iso(doc["created_at"]),
            status=doc["status"], nickname=doc.get("nickname"), phone=doc.get("phone"),
            campaign_id=doc.get("campaign_id"), run_id=doc.get("run_id"), delivery_key=doc.get("delivery_key"),
            coupons=tuple(doc.get("coupons") or ()),
            completed_at=parse_iso(doc["completed_at"]) if doc.get("completed_at") else None,
            completed_by=doc.get("completed_by"), outcome=doc.get("outcome"), note=doc.get("note"))
