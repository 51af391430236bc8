"""Attribution at its edges: ties, a coupon in several touches, defaults of an ingested order, replays of the same
stream record, the exact fields of what is written and counted, churn deltas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.core.clock import to_iso
from chalicelib.dispatch.reaches import Reach
from chalicelib.reports.attribution import (
    Stored,
    attribute,
    churn_delta,
    churn_fact,
    contribution,
    coupon_owner,
    decide,
    last_reach,
    order_facts,
    replayed,
)
from chalicelib.reports.model import Arm, ChurnFact, Counts, CouponFact, Via

TZ = "Asia/Shanghai"
AT = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
PAID = AT + timedelta(days=1)


def reach(campaign: str = "cA", at: datetime = AT, *, held_out: bool = False, coupons: tuple[str, ...] = (),
          run: str = "r1") -> Reach:
    return Reach("c1", campaign, run, at, held_out, coupons, 7)


def doc(**kw: object) -> dict[str, object]:
    return {"order_id": "o1", "customer_id": "c1", "paid_at": to_iso(PAID), "amount_fen": 5000, **kw}


def test_an_ingested_order_without_discount_or_status_is_a_paid_order_with_no_discount():
    got = order_facts(doc())
    assert (got.order_id, got.customer_id, got.paid_at, got.amount_fen) == ("o1", "c1", PAID, 5000)
    assert (got.discount_fen, got.status, got.paid, got.coupon_instance_id) == (0, "paid", True, None)


def test_an_attribution_carries_the_orders_own_facts():
    order = order_facts(doc(discount_fen=300, status="completed"))
    got = attribute(order, [reach()], {}, TZ)
    assert got is not None
    assert (got.order_id, got.customer_id, got.campaign_id, got.run_id, got.arm, got.via) == (
        "o1", "c1", "cA", "r1", Arm.TREATED, Via.LAST_REACH)
    assert (got.day, got.paid_at, got.amount_fen, got.discount_fen, got.counted) == ("2026-11-02", PAID, 5000, 300,
                                                                                      True)
    assert got.order_signature == order.signature and got.order_signature


def test_a_treated_touch_wins_a_tie_with_a_held_out_one_at_the_same_instant():
    touches = [reach("cB", held_out=True), reach("cA")]
    got = last_reach(touches, PAID)
    assert got is not None and got.campaign_id == "cA" and not got.held_out
    assert last_reach(list(reversed(touches)), PAID) == got


def test_a_coupon_listed_by_several_touches_belongs_to_the_latest_one():
    touches = [reach("cOld", AT - timedelta(days=2), coupons=("ci1",)), reach("cNew", AT, coupons=("ci1",), run="r2"),
               reach("cMid", AT - timedelta(days=1), coupons=("ci1",))]
    order = order_facts(doc(coupon_instance_id="ci1"))
    assert coupon_owner(order, touches, {}) == ("cNew", "r2")


def test_a_coupon_known_only_from_its_fact_without_a_run_belongs_to_its_campaign_with_no_run():
    fact = CouponFact("ci1", "cp", "name", "c1", "redeemed", AT, campaign_id="cX", run_id=None)
    order = order_facts(doc(coupon_instance_id="ci1"))
    assert coupon_owner(order, [], {"ci1": fact}) == ("cX", "")


def test_a_coupon_order_counts_one_coupon_order_and_a_touch_order_none():
    coupon = attribute(order_facts(doc(coupon_instance_id="ci1", discount_fen=300)), [reach(coupons=("ci1",))], {},
                       TZ)
    touch = attribute(order_facts(doc()), [reach()], {}, TZ)
    assert contribution(coupon) == {("cA", "2026-11-02"): Counts(orders=1, gmv=5000, discount=300, coupon_orders=1)}
    assert contribution(touch) == {("cA", "2026-11-02"): Counts(orders=1, gmv=5000)}


def test_the_same_stream_record_again_is_a_replay_and_non_numeric_sequences_never_are():
    assert replayed("100", "100") is True
    assert replayed("100", "99") is True
    assert replayed("100", "101") is False
    assert replayed("", "100") is False and replayed("100", "") is False and replayed("x", "y") is False


def test_a_decision_names_the_order_the_expected_item_and_both_signatures():
    order = order_facts(doc())
    after = attribute(order, [reach()], {}, TZ)
    got = decide(order, None, after, "7")
    assert got is not None
    assert (got.order_id, got.expected, got.after, got.order_signature, got.sequence) == (
        "o1", None, after, order.signature, "7")
    refunded = order_facts(doc(status="refunded"))
    stored = Stored(after, order.signature, "7")
    reversal = decide(refunded, stored, attribute(refunded, [reach()], {}, TZ), "8")
    assert reversal is not None and reversal.expected == after.signature  # type: ignore[union-attr]


def test_churn_is_blamed_on_the_last_treated_reach_with_every_fact_of_the_event():
    event = {"type": "unsubscribe", "at": to_iso(PAID), "customer_id": "c1", "event_id": "e9"}
    got = churn_fact(event, [reach("cA", run="r5"), reach("cB", AT + timedelta(hours=1), held_out=True)], TZ)
    assert got == ChurnFact("c1", "cA", "r5", "unsubscribe", "e9", PAID, "2026-11-02")


def test_churn_deltas_count_unsubscribes_and_unfollows_apart():
    base = ChurnFact("c1", "cA", "r1", "unsubscribe", "e1", PAID, "2026-11-02")
    assert churn_delta(base) == {("cA", "2026-11-02"): Counts(unsubscribes=1)}
    unfollow = ChurnFact("c1", "cA", "r1", "unfollow", "e2", PAID, "2026-11-02")
    assert churn_delta(unfollow) == {("cA", "2026-11-02"): Counts(unfollows=1)}
