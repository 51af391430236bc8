"""Staff follow-up task routes: a staff key sees and completes only its own tasks; outcomes recorded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.channels.base import Addressee, Message


def make_tasks(merchant: Any, *owners: tuple[str, str]) -> list[str]:
    """One task per (customer, staff owner) through the staff_task channel; returns the task ids."""
    from chalicelib import wiring
    batch = [(Addressee(merchant.id, cid, nickname="n" + cid, phone="+8613800001234", staff_owner=staff,
                        consent={"staff_task": True}), Message("cmp1", "run1", f"run1:{cid}", f"call {cid}"))
             for cid, staff in owners]
    outcomes = wiring.channel_for("staff_task").send(batch)
    assert all(o.ok for o in outcomes)
    return [o.provider_id or "" for o in outcomes]


def key(api: Any, merchant: Any, role: str, staff_id: str | None = None) -> str:
    body = {"role": role, **({"staff_id": staff_id} if staff_id else {})}
    r = api.post("/v1/keys", body, token=merchant.token)
    assert r.status == 201, r.json
    token: str = r.json["api_key"]
    return token


def test_staff_key_sees_only_its_own_tasks(api: Any, merchant: Any, clock: Any) -> None:
    t1, t2, t3 = make_tasks(merchant, ("c1", "s1"), ("c2", "s2"), ("c3", "s1"))
    s1 = key(api, merchant, "staff", "s1")
    mine = api.get("/v1/staff/tasks", token=s1)
    assert mine.status == 200 and {t["task_id"] for t in mine.json["items"]} == {t1, t3}
    task = next(t for t in mine.json["items"] if t["task_id"] == t1)
    assert (task["script"], task["phone"], task["status"]) == ("call c1", "+86138****1234", "open")
    foreign = api.get("/v1/staff/tasks?staff_id=s2", token=s1)
    assert foreign.status == 403 and foreign.json["error"]["field"] == "query.staff_id"
    everyone = api.get("/v1/staff/tasks", token=merchant.token).json["items"]
    assert {t["task_id"] for t in everyone} == {t1, t2, t3}
    only_s2 = api.get("/v1/staff/tasks?staff_id=s2", token=merchant.token).json["items"]
    assert [t["task_id"] for t in only_s2] == [t2]
    readonly = key(api, merchant, "readonly")
    assert api.get("/v1/staff/tasks", token=readonly).status == 200


def test_staff_completes_its_task_once_and_not_another_staff_members(api: Any, merchant: Any, clock: Any) -> None:
    t1, t2 = make_tasks(merchant, ("c1", "s1"), ("c2", "s2"))
    s1 = key(api, merchant, "staff", "s1")
    done = api.post(f"/v1/staff/tasks/{t1}/complete", {"outcome": "reached", "note": "will visit Friday"}, token=s1)
    assert done.status == 200, done.json
    assert (done.json["status"], done.json["outcome"], done.json["completed_by"]) == ("done", "reached", "s1")
    twice = api.post(f"/v1/staff/tasks/{t1}/complete", {"outcome": "other"}, token=s1)
    assert twice.status == 409 and twice.json["error"]["field"] == "path.task_id"
    other = api.post(f"/v1/staff/tasks/{t2}/complete", {"outcome": "reached"}, token=s1)
    assert other.status == 404 and other.json["error"]["field"] == "path.task_id"
    assert api.get("/v1/staff/tasks?status=done", token=s1).json["items"][0]["task_id"] == t1
    assert api.get("/v1/staff/tasks?status=open", token=s1).json["items"] == []
    assert api.post(f"/v1/staff/tasks/{t2}/complete", {"outcome": "no_answer"}, token=merchant.token).status == 200


def test_complete_validates_outcome_and_note_and_role(api: Any, merchant: Any, clock: Any) -> None:
    (t1,) = make_tasks(merchant, ("c1", "s1"))
    path = f"/v1/staff/tasks/{t1}/complete"
    bad = api.post(path, {"outcome": "maybe"}, token=merchant.token)
    assert bad.status == 400 and bad.json["error"]["field"] == "body.outcome"
    long = api.post(path, {"outcome": "other", "note": "x" * 501}, token=merchant.token)
    assert long.status == 400 and long.json["error"]["field"] == "body.note"
    assert api.post(path, {"outcome": "other", "extra": 1}, token=merchant.token).json["error"]["field"] == (
        "body.extra")
    assert api.post(path, {"outcome": "other"}, token=key(api, merchant, "readonly")).status == 403
    assert api.get("/v1/staff/tasks?status=later", token=merchant.token).json["error"]["field"] == "query.status"


def test_another_merchant_cannot_see_or_complete_tasks(api: Any, merchant: Any, other_merchant: Any,
                                                       clock: Any) -> None:
    (t1,) = make_tasks(merchant, ("c1", "s1"))
    assert api.get("/v1/staff/tasks", token=other_merchant.token).json["items"] == []
    r = api.post(f"/v1/staff/tasks/{t1}/complete", {"outcome": "reached"}, token=other_merchant.token)
    assert r.status == 404
    make_tasks(merchant, ("c2", "s1"))
    cursor = api.get("/v1/staff/tasks?limit=1", token=merchant.token).json["next_cursor"]
    assert cursor and api.get(f"/v1/staff/tasks?cursor={cursor}", token=other_merchant.token).status == 400
    mixed = api.get(f"/v1/staff/tasks?staff_id=s1&cursor={cursor}", token=merchant.token)
    assert mixed.status == 400 and mixed.json["error"]["field"] == "query.cursor"


def test_staff_execution_counts_assigned_done_late_and_overdue_per_staff_member(api: Any, merchant: Any,
                                                                              clock: Any) -> None:
    created = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, the merchant's zone
    clock.set(created)
    t1, _, t3 = make_tasks(merchant, ("c1", "s1"), ("c2", "s2"), ("c3", "s1"))
    clock.set(created + timedelta(hours=2))
    assert api.post(f"/v1/staff/tasks/{t1}/complete", {"outcome": "reached"}, token=merchant.token).status == 200
    clock.set(created + timedelta(hours=30))  # 15:00 local on the 21st
    assert api.post(f"/v1/staff/tasks/{t3}/complete", {"outcome": "no_answer"}, token=merchant.token).status == 200
    make_tasks(merchant, ("c4", "s2"))

    def rows(query: str = "", token: str = merchant.token) -> dict[str, Any]:
        r = api.get(f"/v1/staff/execution{query}", token=token)
        assert r.status == 200, r.json
        return {row["staff_id"]: row for row in [*r.json["items"], r.json["totals"]]}

    got = rows()
    zero = {"reached": 0, "no_answer": 0, "declined": 0, "other": 0}
    assert got["s1"] == {"staff_id": "s1", "assigned": 2, "done": 2, "done_late": 1, "open": 0, "overdue": 0,
                         "outcomes": {**zero, "reached": 1, "no_answer": 1}}
    assert got["s2"] == {"staff_id": "s2", "assigned": 2, "done": 0, "done_late": 0, "open": 2, "overdue": 1,
                         "outcomes": zero}
    assert {k: got["*"][k] for k in ("assigned", "done", "done_late", "open", "overdue")} == {
        "assigned": 4, "done": 2, "done_late": 1, "open": 2, "overdue": 1}
    body = api.get("/v1/staff/execution", token=merchant.token).json
    assert (body["day_from"], body["day_to"], body["due_hours"], body["as_of"]) == (
        "2026-11-15", "2026-11-21", 24, "2026-11-21T07:00:00Z")
    # a longer allowance: nothing is late or overdue yet
    loose = rows("?due_hours=48")
    assert (loose["*"]["done_late"], loose["*"]["overdue"]) == (0, 0)
    # the window is in local days of creation: the 21st holds only c4's task
    assert {k: (v["assigned"], v["open"]) for k, v in rows("?from=2026-11-21&to=2026-11-21").items()} == {
        "s2": (1, 1), "*": (1, 1)}
    assert rows("?to=2026-11-19") == {"*": {"staff_id": "*", "assigned": 0, "done": 0, "done_late": 0, "open": 0,
                                            "overdue": 0, "outcomes": zero}}
    assert set(rows("?staff_id=s2")) == {"s2", "*"}
    s1 = key(api, merchant, "staff", "s1")
    assert set(rows(token=s1)) == {"s1", "*"} and rows(token=s1)["*"]["assigned"] == 2
    assert api.get("/v1/staff/execution?staff_id=s2", token=s1).status == 403
    for bad, field in (("from=2026-11-21&to=2026-11-20", "query.from"), ("from=2026-01-01&to=2026-11-20", "query.to"),
                       ("due_hours=0", "query.due_hours"), ("due_hours=721", "query.due_hours"),
                       ("from=2026-13-01", "query.from")):
        r = api.get(f"/v1/staff/execution?{bad}", token=merchant.token)
        assert r.status == 400 and r.json["error"]["field"] == field, (bad, r.json)
