"""Staff execution tallies (003 员工执行情况): every task counted once, done + open = assigned, overdue ⊆ open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.staff.execution import tally, total
from chalicelib.staff.model import OUTCOMES, StaffTask

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DUE = timedelta(hours=24)


def task(staff: str, age_hours: float, done_after_hours: float | None = None, outcome: str = "reached") -> StaffTask:
    created = NOW - timedelta(hours=age_hours)
    base = StaffTask("m1", f"t{staff}{age_hours}", staff, "c1", "call", created)
    if done_after_hours is None:
        return base
    return base.with_(status="done", outcome=outcome, completed_at=created + timedelta(hours=done_after_hours))


def test_a_task_is_late_or_overdue_only_past_its_due_time() -> None:
    rows = tally([task("s1", 25), task("s1", 23), task("s1", 24), task("s2", 30, 24), task("s2", 30, 24.5, "other")],
                 NOW, DUE)
    s1, s2 = rows
    assert (s1.staff_id, s1.assigned, s1.open, s1.overdue, s1.done) == ("s1", 3, 3, 1, 0)  # exactly due is not over
    assert (s2.assigned, s2.done, s2.done_late, s2.open) == (2, 2, 1, 0)
    assert s2.outcomes == {"reached": 1, "no_answer": 0, "declined": 0, "other": 1}
    assert tally([], NOW, DUE) == []


@given(st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.floats(0, 200),
                          st.one_of(st.none(), st.floats(0, 100)), st.sampled_from(OUTCOMES)), max_size=40),
       st.integers(1, 720))
def test_every_task_is_counted_once_and_the_totals_add_up(specs: list[tuple[str, float, float | None, str]],
                                                          due_hours: int) -> None:
    tasks = [task(s, age, None if done is None else min(done, age), o) for s, age, done, o in specs]
    rows = tally(tasks, NOW, timedelta(hours=due_hours))
    assert [r.staff_id for r in rows] == sorted({t.staff_id for t in tasks})
    for r in rows:
        assert r.done + r.open == r.assigned and 0 <= r.overdue <= r.open and 0 <= r.done_late <= r.done
        assert sum(r.outcomes.values()) == r.done
    due = timedelta(hours=due_hours)
    all_ = total(rows)
    assert all_.staff_id == "*"
    assert (all_.assigned, all_.done, all_.open) == (len(tasks), sum(t.status == "done" for t in tasks),
                                                     sum(t.status == "open" for t in tasks))
    assert all_.overdue == sum(t.status == "open" and NOW - t.created_at > due for t in tasks)
    assert all_.done_late == sum(t.completed_at is not None and t.completed_at - t.created_at > due for t in tasks)
    assert all_.outcomes == {o: sum(t.outcome == o for t in tasks) for o in OUTCOMES}
    for field in ("assigned", "done", "done_late", "open", "overdue"):
        assert getattr(all_, field) == sum(getattr(r, field) for r in rows), field


def test_totals_sum_every_staff_member() -> None:
    rows = tally([task("s1", 50, 30), task("s1", 40, 30), task("s2", 50, 26, "declined"), task("s2", 48),
                  task("s3", 30), task("s3", 2, 1, "other")], NOW, DUE)
    assert [(r.done_late, r.overdue) for r in rows] == [(2, 0), (1, 1), (0, 1)]
    all_ = total(rows)
    assert (all_.staff_id, all_.assigned, all_.done, all_.done_late, all_.open, all_.overdue) == ("*", 6, 4, 3, 2, 2)
    assert all_.outcomes == {"reached": 2, "no_answer": 0, "declined": 1, "other": 1}
