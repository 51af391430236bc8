"""A campaign report's experiment: per-treatment figures from the deliveries and attributions already read.

Each reached customer belongs to the treatment of the chunk that reached it (recorded with the ledger); an
attributed order is credited to the treatment of the delivery it is attributed to — the run and customer of its
last reach, or of the coupon it redeemed (the coupon override) — and a held-out customer's order to the holdout.
One pass over what the report already holds: the cost grows with recipients, not with recipients × treatments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.clock import parse_iso
from chalicelib.dispatch.snapshot import treatments
from chalicelib.experiments import stats
from chalicelib.reports.experiment_schemas import (
    ArmCoupons,
    ArmOut,
    ExperimentOut,
    LiftFigure,
    Range,
    SwitchOut,
    VerdictOut,
)
from chalicelib.reports.model import Arm, Attribution, CouponFact, Delivery, DeliveryStatus

HOLDOUT = "holdout"  # the control row's name in the report (its key below is None: a merchant may name an arm so)
CLAIMED = ("claimed", "redeemed")


@dataclass
class Tally:
    """What one treatment (or the holdout) reached, sold and issued."""

    recipients: set[str] = field(default_factory=set)
    ordered: set[str] = field(default_factory=set)
    paid: set[str] = field(default_factory=set)
    orders: int = 0
    gmv: int = 0
    discount: int = 0
    spent: dict[str, int] = field(default_factory=dict)  # customer -> attributed GMV (paid orders)
    net: dict[str, int] = field(default_factory=dict)  # customer -> GMV − discount
    coupons: list[CouponFact] = field(default_factory=list)

    def sample(self) -> stats.Arm:
        """Per-recipient values of the reached (held-out) customers: converted 0/1, revenue, net revenue."""
        n = len(self.recipients)
        converted = len(self.paid & self.recipients)
        return stats.Arm("", stats.Sample.proportion(n, converted),
                         stats.Sample.of([v for c, v in self.spent.items() if c in self.recipients], n),
                         stats.Sample.of([v for c, v in self.net.items() if c in self.recipients], n))


def tally(names: list[str], deliveries: Iterable[Delivery], folded: Mapping[str, Delivery],
          attrs: Iterable[Attribution], facts: Mapping[str, CouponFact]) -> dict[str | None, Tally]:
    """Treatment tallies (the holdout's under None): reach by the folded delivery's treatment, orders by the
    treatment of the delivery each is attributed to, coupons by the delivery that issued them."""
    tallies: dict[str | None, Tally] = {name: Tally() for name in [*names, None]}
    arm_of_delivery: dict[tuple[str, str], str | None] = {}
    arm_of_coupon: dict[str, str | None] = {}
    for d in deliveries:
        arm_of_delivery[(d.run_id, d.customer_id)] = d.arm
        for instance in d.coupon_instance_ids:
            arm_of_coupon[instance] = d.arm
    for customer, d in folded.items():
        if d.status is DeliveryStatus.HELD_OUT:
            tallies[None].recipients.add(customer)
        elif d.status is DeliveryStatus.REACHED and d.arm is not None and d.arm in tallies:
            tallies[d.arm].recipients.add(customer)
    for a in attrs:
        key: str | None = None
        if a.arm is not Arm.CONTROL:
            key = arm_of_delivery.get((a.run_id, a.customer_id))
            if key is None and a.customer_id in folded:  # its run is outside the report's days
                key = folded[a.customer_id].arm
            if key is None:
                continue
        t = tallies.get(key)
        if t is None:
            continue
        t.ordered.add(a.customer_id)
        if a.counted:  # a refunded or cancelled order stays attributed, uncounted
            t.paid.add(a.customer_id)
            t.orders += 1
            t.gmv += a.amount_fen
            t.discount += a.discount_fen
            t.spent[a.customer_id] = t.spent.get(a.customer_id, 0) + a.amount_fen
            t.net[a.customer_id] = t.net.get(a.customer_id, 0) + a.amount_fen - a.discount_fen
    for instance, fact in facts.items():
        arm = arm_of_coupon.get(instance)
        if arm is not None and arm in tallies:
            tallies[arm].coupons.append(fact)
    return tallies


def _range(interval: stats.Interval | None) -> Range | None:
    return None if interval is None else Range(low=round(interval.low, 6), high=round(interval.high, 6))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def figure(lift: stats.Lift) -> LiftFigure:
    interval = lift.interval
    return LiftFigure(difference=_round(lift.difference), ci_low=_round(interval.low if interval else None),
                      ci_high=_round(interval.high if interval else None), relative=_round(lift.relative),
                      significant=lift.significant)


def _lifts(arm: stats.Arm, base: stats.Arm) -> dict[str, LiftFigure]:
    return {m: figure(stats.lift(arm.metric(m), base.metric(m))) for m in stats.METRICS}


def arm_row(name: str, share: int | None, t: Tally, sample: stats.Arm, holdout: stats.Arm | None,
            first: stats.Arm | None) -> ArmOut:
    claimed = [f for f in t.coupons if f.status in CLAIMED or f.claimed_at is not None]
    return ArmOut(
        name=name, holdout=share is None, share_percent=share, recipients=sample.n, ordered=len(t.ordered),
        paid=sample.converted, orders=t.orders, gmv_fen=t.gmv, discount_fen=t.discount, net_fen=t.gmv - t.discount,
        coupons=ArmCoupons(issued=len(t.coupons), claimed=len(claimed),
                           redeemed=sum(f.status == "redeemed" for f in t.coupons)),
        conversion_rate=_round(sample.conversion.mean), conversion_ci=_range(stats.mean_interval(sample.conversion)),
        revenue_per_recipient_fen=_round(sample.revenue.mean), revenue_ci=_range(stats.mean_interval(sample.revenue)),
        net_revenue_per_recipient_fen=_round(sample.net.mean), net_revenue_ci=_range(stats.mean_interval(sample.net)),
        vs_holdout=_lifts(sample, holdout) if holdout is not None and holdout.n else {},
        vs_first=_lifts(sample, first) if first is not None else {})


def verdict_out(v: stats.Verdict) -> VerdictOut:
    return VerdictOut(status="decided" if v.decided else "not_yet_decided", metric=v.metric, winner=v.winner,
                      leader=v.leader, runner_up=v.runner_up, lead=figure(v.lead) if v.lead else None,
                      reason=v.reason, more_recipients_needed=v.more_needed, confidence=v.confidence,
                      per_comparison_confidence=round(v.per_comparison, 6), min_per_arm=v.min_per_arm,
                      min_conversions_per_arm=v.min_conversions_per_arm)


def metric_of(data: Mapping[str, Any]) -> str:
    metric = (data.get("experiment") or {}).get("metric")
    return metric if metric in stats.METRICS else "conversion"


def experiment(data: dict[str, Any], deliveries: list[Delivery], attrs: Iterable[Attribution],
               facts: Mapping[str, CouponFact], fold: Callable[[Iterable[Delivery]], dict[str, Delivery]]
               ) -> ExperimentOut | None:
    """The report's experiment section; None for a campaign without treatments.

    After a switch to the winner the experiment is what it was when it was decided: the runs from the switch on
    (everyone sent the winner) and the orders attributed to them are left out, so the arms stay comparable.
    """
    arms = treatments(data)
    if len(arms) < 2:
        return None
    switch = data.get("winner") or None
    if switch:
        cutoff = parse_iso(str(switch["at"]))
        later = {d.run_id for d in deliveries if d.at is not None and d.at >= cutoff}
        deliveries = [d for d in deliveries if d.run_id not in later]
        attrs = [a for a in attrs if a.run_id not in later]
    names = [str(t["name"]) for t in arms]
    tallies = tally(names, deliveries, fold(deliveries), attrs, facts)
    samples = {name: t.sample() for name, t in tallies.items()}
    holdout, first = samples[None], samples[names[0]]
    rows = [arm_row(name, int(t.get("share_percent") or 0), tallies[name], samples[name], holdout,
                    first if i else None) for i, (name, t) in enumerate(zip(names, arms, strict=True))]
    rows.append(arm_row(HOLDOUT, None, tallies[None], holdout, None, None))
    metric = metric_of(data)
    judged = [stats.Arm(n, samples[n].conversion, samples[n].revenue, samples[n].net) for n in names]
    return ExperimentOut(metric=metric, switch_to_winner=bool((data.get("experiment") or {}).get("switch_to_winner")),
                         arms=rows, verdict=verdict_out(stats.verdict(judged, metric)),
                         switched=SwitchOut.model_validate(switch) if switch else None)
