"""Per-treatment tallies of the report: an order goes to the treatment of the delivery it is attributed to."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.reports.experiment import experiment, tally
from chalicelib.reports.model import Arm, Attribution, CouponFact, Delivery, DeliveryStatus, Via
from chalicelib.reports.service import fold

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
REACHED, HELD = DeliveryStatus.REACHED, DeliveryStatus.HELD_OUT


def attr(oid: str, cid: str, run: str, amount: int, discount: int = 0, counted: bool = True,
         arm: Arm = Arm.TREATED) -> Attribution:
    return Attribution(oid, cid, "cmp", run, arm, Via.COUPON, "2026-11-23", AT, amount, discount, counted)


def body(winner: str | None = None) -> dict[str, object]:
    arms = [{"name": n, "share_percent": 50, "action": {"channel": "wallet", "coupons": [n]}} for n in ("A", "B")]
    data: dict[str, object] = {"treatments": arms, "experiment": {"metric": "revenue_per_recipient",
                                                                  "switch_to_winner": True}}
    if winner:
        data["winner"] = {"treatment": winner, "at": "2026-11-30T02:00:00Z", "metric": "revenue_per_recipient",
                          "reason": "B beats every other arm at 95% confidence"}
    return data


def test_an_order_is_credited_to_the_treatment_of_the_run_whose_coupon_it_redeemed() -> None:
    # c1 was in A in run 1; after the switch run 2 sent it the winner B: its order redeeming run 1's coupon is A's
    deliveries = [Delivery("r1", "c1", REACHED, coupon_instance_ids=("i1",), at=AT, arm="A"),
                  Delivery("r2", "c1", REACHED, coupon_instance_ids=("i2",), at=AT.replace(day=30), arm="B"),
                  Delivery("r1", "c2", REACHED, coupon_instance_ids=("i3",), at=AT, arm="B"),
                  Delivery("r1", "c3", HELD, at=AT, arm="A")]
    folded = fold(deliveries)
    facts = {i: CouponFact(i, "cp", "cp", c, "redeemed" if i == "i1" else "claimed", AT)
             for i, c in (("i1", "c1"), ("i2", "c1"), ("i3", "c2"))}
    attrs = [attr("o1", "c1", "r1", 10_000, 1_000), attr("o2", "c2", "r1", 7_000, counted=False),
             attr("o3", "c3", "r1", 3_000, arm=Arm.CONTROL)]
    got = tally(["A", "B"], deliveries, folded, attrs, facts)
    assert (got["A"].orders, got["A"].gmv, got["A"].discount, got["A"].paid) == (1, 10_000, 1_000, {"c1"})
    assert (got["B"].orders, got["B"].ordered, got["B"].paid) == (0, {"c2"}, set())  # refunded: ordered, not paid
    assert (got[None].recipients, got[None].gmv) == ({"c3"}, 3_000)
    assert sorted(f.instance_id for f in got["A"].coupons) == ["i1"]
    assert sorted(f.instance_id for f in got["B"].coupons) == ["i2", "i3"]
    out = experiment(body(), deliveries, attrs, facts, fold)
    assert out is not None and out.switched is None
    assert [r.name for r in out.arms] == ["A", "B", "holdout"] and out.metric == "revenue_per_recipient"
    assert [r.recipients for r in out.arms] == [0, 2, 1]  # c1's best delivery is run 2's (B)
    assert out.verdict.status == "not_yet_decided"
    # switched on 30 Nov: run 2 (everyone the winner) is no part of the experiment any more
    frozen = experiment(body("B"), deliveries, attrs, facts, fold)
    assert frozen is not None and frozen.switched is not None and frozen.switched.treatment == "B"
    assert [r.recipients for r in frozen.arms] == [1, 1, 1]
    assert [r.coupons.issued for r in frozen.arms] == [1, 1, 0]


def test_a_treatment_named_holdout_does_not_merge_with_the_holdout_row() -> None:
    deliveries = [Delivery("r1", "c1", REACHED, at=AT, arm="holdout"), Delivery("r1", "c2", HELD, at=AT, arm="x")]
    got = tally(["holdout", "x"], deliveries, fold(deliveries), [], {})
    assert got["holdout"].recipients == {"c1"} and got[None].recipients == {"c2"}


def test_a_campaign_without_treatments_has_no_experiment_section() -> None:
    assert experiment({"action": {"channel": "wallet"}}, [], [], {}, fold) is None
