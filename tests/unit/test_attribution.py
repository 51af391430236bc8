"""Pure attribution rules: windows, last touch, coupons, holdout arm, reversal, replay decisions, churn."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core.clock import to_iso
from chalicelib.dispatch.reaches import Reach
from chalicelib.reports.attribution import (
    Stored,
    attribute,
    churn_fact,
    coupon_ids_to_look_up,
    decide,
    order_facts,
    transition,
)
from chalicelib.reports.model import Arm, Counts, CouponFact, Via
from chalicelib.reports.reach_log import decode, encode

REACH_AT = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
TZ = "Asia/Shanghai"


def reach(campaign: str = "cA", at: datetime = REACH_AT, *, held_out: bool = False, window: int = 7,
          coupons: tuple[str, ...] = (), run: str = "r1") -> Reach:
    return Reach("c1", campaign, run, at, held_out, coupons, window)


def order(paid_at: datetime, status: str = "paid", amount: int = 5000, coupon: str | None = None,
          customer: str = "c1", oid: str = "o1") -> Any:
    doc = {"order_id": oid, "customer_id": customer, "paid_at": to_iso(paid_at), "amount_fen": amount,
           "discount_fen": 300, "status": status, "coupon_instance_id": coupon}
    return order_facts(doc)


def test_order_at_exactly_window_end_is_attributed_when_window_is_7_days() -> None:
    end = REACH_AT + timedelta(days=7)
    got = attribute(order(end), [reach()], {}, TZ)
    assert got is not None and got.campaign_id == "cA" and got.arm is Arm.TREATED and got.via is Via.LAST_REACH


def test_order_one_second_after_window_end_is_not_attributed() -> None:
    late = REACH_AT + timedelta(days=7, seconds=1)
    assert attribute(order(late), [reach()], {}, TZ) is None


def test_order_before_the_reach_is_not_attributed_and_one_at_the_reach_instant_is() -> None:
    assert attribute(order(REACH_AT - timedelta(seconds=1)), [reach()], {}, TZ) is None
    assert attribute(order(REACH_AT), [reach()], {}, TZ) is not None


def test_window_of_90_days_holds_an_order_on_day_90_when_campaign_says_so() -> None:
    paid = REACH_AT + timedelta(days=90)
    assert attribute(order(paid), [reach(window=90)], {}, TZ) is not None
    assert attribute(order(paid), [reach(window=89)], {}, TZ) is None


def test_last_touch_wins_when_two_campaigns_reached_the_customer() -> None:
    touches = [reach("cA"), reach("cB", REACH_AT + timedelta(days=2), run="r2")]
    got = attribute(order(REACH_AT + timedelta(days=3)), touches, {}, TZ)
    assert got is not None and (got.campaign_id, got.run_id) == ("cB", "r2")
    # Before cB's reach, cA is still the last touch.
    got = attribute(order(REACH_AT + timedelta(days=1)), touches, {}, TZ)
    assert got is not None and got.campaign_id == "cA"


def test_earlier_touch_wins_when_the_later_ones_window_is_over() -> None:
    touches = [reach("cA", window=30), reach("cB", REACH_AT + timedelta(days=1), window=1, run="r2")]
    got = attribute(order(REACH_AT + timedelta(days=5)), touches, {}, TZ)
    assert got is not None and got.campaign_id == "cA"


def test_coupon_redeemed_far_beyond_the_window_is_attributed_to_its_campaign() -> None:
    touches = [reach("cA", coupons=("ci_1",)), reach("cB", REACH_AT + timedelta(days=60), window=30, run="r2")]
    got = attribute(order(REACH_AT + timedelta(days=65), coupon="ci_1"), touches, {}, TZ)
    assert got is not None and (got.campaign_id, got.via, got.arm) == ("cA", Via.COUPON, Arm.TREATED)


def test_coupon_is_looked_up_in_the_coupons_module_when_touches_do_not_know_it() -> None:
    o = order(REACH_AT + timedelta(days=200), coupon="ci_9")
    assert coupon_ids_to_look_up(o, []) == {"ci_9"}
    fact = CouponFact("ci_9", "cp1", "满30减5", "c1", "redeemed", REACH_AT, "cZ", "rZ")
    got = attribute(o, [], {"ci_9": fact}, TZ)
    assert got is not None and (got.campaign_id, got.run_id, got.via) == ("cZ", "rZ", Via.COUPON)
    other = CouponFact("ci_9", "cp1", "满30减5", "someone-else", "redeemed", REACH_AT, "cZ", "rZ")
    assert attribute(o, [], {"ci_9": other}, TZ) is None
    assert coupon_ids_to_look_up(order(REACH_AT, coupon="ci_1"), [reach(coupons=("ci_1",))]) == set()


def test_held_out_last_touch_makes_a_control_conversion() -> None:
    got = attribute(order(REACH_AT + timedelta(days=2)), [reach(held_out=True)], {}, TZ)
    assert got is not None and got.arm is Arm.CONTROL
    assert transition(None, got) == {("cA", got.day): Counts(ctl_orders=1, ctl_gmv=5000)}


def test_counters_use_the_merchant_local_day() -> None:
    paid = datetime(2026, 11, 2, 17, 30, tzinfo=UTC)  # 01:30 on the 3rd in Shanghai
    got = attribute(order(paid), [reach()], {}, TZ)
    assert got is not None and got.day == "2026-11-03"
    assert attribute(order(paid), [reach()], {}, "UTC").day == "2026-11-02"  # type: ignore[union-attr]


def test_refund_reverses_amounts_and_counts_on_the_day_first_counted() -> None:
    paid = attribute(order(REACH_AT + timedelta(days=1)), [reach()], {}, TZ)
    refunded = attribute(order(REACH_AT + timedelta(days=1), "refunded"), [reach()], {}, TZ)
    assert paid is not None and refunded is not None and not refunded.counted
    assert transition(None, paid) == {("cA", paid.day): Counts(orders=1, gmv=5000, discount=300)}
    assert transition(paid, refunded) == {("cA", paid.day): Counts(orders=-1, gmv=-5000, discount=-300)}
    assert transition(refunded, refunded) == {}


def test_amount_change_moves_only_the_difference() -> None:
    before = attribute(order(REACH_AT + timedelta(days=1)), [reach()], {}, TZ)
    after = attribute(order(REACH_AT + timedelta(days=1), amount=6500), [reach()], {}, TZ)
    assert transition(before, after) == {("cA", before.day): Counts(gmv=1500)}  # type: ignore[union-attr]


def test_decide_is_a_no_op_when_the_same_order_state_is_seen_again() -> None:
    o = order(REACH_AT + timedelta(days=1))
    first = attribute(o, [reach()], {}, TZ)
    decision = decide(o, None, first)
    assert decision is not None and decision.expected is None and decision.deltas
    stored = Stored(first, o.signature)
    assert decide(o, stored, first) is None
    # Even if the touches changed since (pruned, or a new campaign), the replay keeps what was counted.
    assert decide(o, stored, None) is None


def test_decide_reverses_when_status_flips_and_writes_a_tombstone_when_attribution_disappears() -> None:
    o = order(REACH_AT + timedelta(days=1))
    first = attribute(o, [reach()], {}, TZ)
    refunded = order(REACH_AT + timedelta(days=1), "refunded")
    flip = decide(refunded, Stored(first, o.signature), attribute(refunded, [reach()], {}, TZ))
    assert flip is not None and flip.expected == first.signature  # type: ignore[union-attr]
    assert sum(flip.deltas.values(), Counts()).orders == -1
    moved = order(REACH_AT + timedelta(days=1), customer="c2")
    gone = decide(moved, Stored(first, o.signature), None)
    assert gone is not None and gone.after is None and sum(gone.deltas.values(), Counts()).gmv == -5000
    assert decide(order(REACH_AT), None, None) is None


def test_completed_after_paid_changes_no_counter() -> None:
    o = order(REACH_AT + timedelta(days=1))
    first = attribute(o, [reach()], {}, TZ)
    done = order(REACH_AT + timedelta(days=1), "completed")
    assert decide(done, Stored(first, o.signature), attribute(done, [reach()], {}, TZ)) is None


def test_unsubscribe_within_the_window_after_a_reach_is_reach_churn() -> None:
    event = {"event_id": "e1", "customer_id": "c1", "type": "unsubscribe", "at": to_iso(REACH_AT + timedelta(days=2))}
    fact = churn_fact(event, [reach()], TZ)
    assert fact is not None and (fact.campaign_id, fact.kind) == ("cA", "unsubscribe")
    assert churn_fact({**event, "type": "visit"}, [reach()], TZ) is None
    assert churn_fact(event, [reach(held_out=True)], TZ) is None
    late = {**event, "at": to_iso(REACH_AT + timedelta(days=7, seconds=1))}
    assert churn_fact(late, [reach()], TZ) is None
    unfollow = churn_fact({**event, "type": "unfollow"}, [reach()], TZ)
    assert unfollow is not None and unfollow.kind == "unfollow"


def test_touch_encoding_round_trips_without_coupon_ids() -> None:
    r = Reach("c1", "cA", "run_1", REACH_AT, True, (), 30)
    assert decode("c1", encode(r)) == r
    assert decode("c1", encode(replace(r, coupon_instance_ids=("ci_1",)))) == r  # coupons name their campaign
    assert decode("c1", "garbage") is None
    assert decode("c1", encode(Reach("c1", "cA", "run_1", REACH_AT))) == Reach("c1", "cA", "run_1", REACH_AT)


def test_decide_ignores_an_older_stream_record_replayed_after_a_newer_one() -> None:
    paid = order(REACH_AT + timedelta(days=1))
    refunded = order(REACH_AT + timedelta(days=1), "refunded")
    stored = Stored(attribute(refunded, [reach()], {}, TZ), refunded.signature, "200")
    assert decide(paid, stored, attribute(paid, [reach()], {}, TZ), "100") is None
    again = decide(paid, stored, attribute(paid, [reach()], {}, TZ), "300")
    assert again is not None and again.sequence == "300"
