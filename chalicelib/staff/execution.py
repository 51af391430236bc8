"""Staff execution (003 员工执行情况): per staff member, the tasks assigned in a window, done, late and overdue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.staff.model import OUTCOMES, StaffTask, TaskOutcome


@dataclass(slots=True)
class StaffTally:
    """One staff member's tasks created in the window, as of `now`; a task is due `due` after it was created."""

    staff_id: str
    assigned: int = 0
    done: int = 0
    done_late: int = 0  # completed, but after its due time
    open: int = 0
    overdue: int = 0  # still open past its due time (a subset of open)
    outcomes: dict[TaskOutcome, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    def add(self, task: StaffTask, now: datetime, due: timedelta) -> None:
        due_at = task.created_at + due
        self.assigned += 1
        if task.status == "done":
            self.done += 1
            if task.completed_at is not None and task.completed_at > due_at:
                self.done_late += 1
            if task.outcome is not None:
                self.outcomes[task.outcome] += 1
        else:
            self.open += 1
            if now > due_at:
                self.overdue += 1


def tally(tasks: Iterable[StaffTask], now: datetime, due: timedelta) -> list[StaffTally]:
    """Every staff member with a task among `tasks`, by staff id."""
    by_staff: dict[str, StaffTally] = {}
    for task in tasks:
        by_staff.setdefault(task.staff_id, StaffTally(task.staff_id)).add(task, now, due)
    return [by_staff[s] for s in sorted(by_staff)]


def total(rows: Iterable[StaffTally]) -> StaffTally:
    """The merchant's sum over its staff (staff_id "*")."""
    out = StaffTally("*")
    for row in rows:
        out.assigned += row.assigned
        out.done += row.done
        out.done_late += row.done_late
        out.open += row.open
        out.overdue += row.overdue
        for outcome, n in row.outcomes.items():
            out.outcomes[outcome] += n
    return out
