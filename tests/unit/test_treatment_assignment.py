"""Treatment assignment: deterministic, dealt by the shares, independent of the holdout; plans one arm a chunk."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.dispatch.model import Recipient, Run, holdout
from chalicelib.dispatch.plan import split_by_arm
from chalicelib.dispatch.snapshot import arm_of, view
from chalicelib.experiments.assign import SCALE, arm_index, bucket

shares_strategy = st.lists(st.integers(min_value=1, max_value=60), min_size=2, max_size=5).filter(
    lambda s: sum(s) <= 100).map(lambda s: [*s[:-1], s[-1] + 100 - sum(s)])


def data(shares: list[int], winner: str | None = None) -> dict[str, object]:
    arms = [{"name": f"T{i}", "share_percent": s, "action": {"channel": "wallet", "coupons": [f"cp{i}"]}}
            for i, s in enumerate(shares)]
    body: dict[str, object] = {"action": arms[0]["action"], "treatments": arms}
    if winner:
        body["winner"] = {"treatment": winner}
    return body


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20), shares_strategy)
def test_assignment_is_a_pure_function_of_campaign_and_customer(campaign: str, customer: str,
                                                                shares: list[int]) -> None:
    first = arm_index(campaign, customer, shares)
    assert first == arm_index(campaign, customer, shares) and 0 <= first < len(shares)
    assert 0 <= bucket(campaign, customer) < SCALE
    assert arm_of(data(shares), campaign, customer) == f"T{first}"


@settings(max_examples=8, deadline=None)
@given(shares_strategy)
def test_arms_get_their_shares_of_the_treated_and_of_the_held_out_alike(shares: list[int]) -> None:
    customers = [f"c{i}" for i in range(10_000)]
    held = [c for c in customers if holdout("cmp_x", c, 20)]
    treated = [c for c in customers if not holdout("cmp_x", c, 20)]
    for group in (held, treated):
        counts = [0] * len(shares)
        for c in group:
            counts[arm_index("cmp_x", c, shares)] += 1
        for count, share in zip(counts, shares, strict=True):
            expected = len(group) * share / 100
            assert abs(count - expected) < 5 * (expected * (1 - share / 100)) ** 0.5 + 2, (counts, shares)


def test_a_switched_plan_gives_everyone_the_winner_and_views_take_the_arms_action() -> None:
    body = data([50, 50], winner="T1")
    assert {arm_of(body, "cmp", f"c{i}") for i in range(50)} == {"T1"}
    assert arm_of({"action": {"channel": "wallet"}}, "cmp", "c1") is None
    assert [g.coupon_id for g in view("cmp", "running", data([50, 50]), "T1").coupons] == ["cp1"]
    assert [g.coupon_id for g in view("cmp", "running", data([50, 50])).coupons] == ["cp0"]
    assert view("cmp", "running", data([50, 50]), "T1").data["action"]["coupons"] == ["cp1"]


def test_a_plan_writes_each_chunk_for_one_treatment_and_keeps_positions_running() -> None:
    body = data([30, 70])
    run = Run("m", "run_1", "cmp", datetime(2026, 11, 23, tzinfo=UTC), body)
    recipients = [Recipient(f"c{i:03d}", held_out=holdout("cmp", f"c{i:03d}", 10)) for i in range(500)]
    parts = split_by_arm(recipients, run, 0, 40, 100)
    assert sorted(r.customer_id for members, _, _ in parts for r in members) == [r.customer_id for r in recipients]
    for members, _, arm in parts:
        assert {arm_of(body, "cmp", r.customer_id) for r in members} == {arm} and len(members) <= 40
    placed = sum(1 for r in recipients if not r.held_out)
    assert max(slice_no for _, slice_no, _ in parts) == (placed - 1) // 100
