"""Reports domain: order attributions, churn facts, counter deltas, deliveries and coupons."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum


class Arm(StrEnum):
    """Which side of a campaign's holdout experiment an attributed order falls on."""

    TREATED = "treated"
    CONTROL = "control"


class Via(StrEnum):
    """Why an order is attributed: the last reach in its window (SPEC's "last touch"), or a redeemed campaign coupon.

    Values are stored with each attribution: `touch` stays the stored name of the last-reach rule.
    """

    LAST_REACH = "touch"
    COUPON = "coupon"


class DeliveryStatus(StrEnum):
    """A recipient's reach status as reports show it (dispatch ledger outcomes folded)."""

    REACHED = "reached"
    HELD_OUT = "held_out"
    SUPPRESSED = "suppressed"
    FAILED = "failed"
    DEFERRED = "deferred"  # waiting, with the instant it is sent (`until`): quiet hours, a channel's back-off
    NOT_SENT = "not_sent"


# When a customer appears in several runs of one campaign, the report shows the best status.
STATUS_RANK = {DeliveryStatus.REACHED: 6, DeliveryStatus.FAILED: 5, DeliveryStatus.DEFERRED: 4,
               DeliveryStatus.NOT_SENT: 3, DeliveryStatus.SUPPRESSED: 2, DeliveryStatus.HELD_OUT: 1}
# Why a deferred recipient waits (reports' reason for a ledger outcome that holds its release instant).
QUIET_HOURS = "quiet_hours"
CHANNEL_BACKOFF = "channel_backoff"


@dataclass(frozen=True)
class OrderFacts:
    """The fields of an ingested order that attribution reads."""

    order_id: str
    customer_id: str
    paid_at: datetime
    amount_fen: int
    discount_fen: int
    status: str
    coupon_instance_id: str | None = None

    @property
    def paid(self) -> bool:
        """Paid and completed orders count; refunded and cancelled ones are reversed."""
        return self.status in ("paid", "completed")

    @property
    def signature(self) -> str:
        """What, in the order, could change its attribution (a replay with the same signature changes nothing)."""
        return "|".join((self.customer_id, self.paid_at.isoformat(), str(self.amount_fen), str(self.discount_fen),
                         self.status, self.coupon_instance_id or ""))


@dataclass(frozen=True)
class Attribution:
    """One order's attribution to one campaign, as stored per order and counted per campaign-day."""

    order_id: str
    customer_id: str
    campaign_id: str
    run_id: str
    arm: Arm
    via: Via
    day: str
    paid_at: datetime
    amount_fen: int
    discount_fen: int
    counted: bool
    order_signature: str = ""

    @property
    def signature(self) -> str:
        """Everything the counters depend on; equal signatures mean nothing to write."""
        return "|".join((self.campaign_id, self.run_id, self.arm.value, self.via.value, self.day,
                         "1" if self.counted else "0", str(self.amount_fen), str(self.discount_fen),
                         self.customer_id))


NO_ATTRIBUTION = "-"  # the signature of a tombstone: an order that was attributed and no longer is


@dataclass(frozen=True)
class ChurnFact:
    """A reached customer unsubscribed or unfollowed within the window: counted once per campaign, customer, kind."""

    customer_id: str
    campaign_id: str
    run_id: str
    kind: str  # unsubscribe | unfollow
    event_id: str
    at: datetime
    day: str


@dataclass(frozen=True)
class Counts:
    """Additive figures of one campaign on one local day (also used as a delta)."""

    orders: int = 0
    gmv: int = 0
    discount: int = 0
    coupon_orders: int = 0
    ctl_orders: int = 0
    ctl_gmv: int = 0
    unsubscribes: int = 0
    unfollows: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __neg__(self) -> Counts:
        return Counts(**{f.name: -getattr(self, f.name) for f in fields(self)})

    def __sub__(self, other: Counts) -> Counts:
        return self + (-other)

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}

    @property
    def is_zero(self) -> bool:
        return not any(self.as_dict().values())


CounterKey = tuple[str, str]  # (campaign_id, local day)


@dataclass(frozen=True)
class Delivery:
    """One (run, customer) of a campaign as dispatch recorded it."""

    run_id: str
    customer_id: str
    status: DeliveryStatus
    reason: str | None = None
    coupon_instance_ids: tuple[str, ...] = ()
    at: datetime | None = None
    arm: str | None = None  # the A/B treatment of the chunk that holds it (None: no treatments)
    until: datetime | None = None  # deferred: when it is sent


@dataclass(frozen=True)
class CouponFact:
    """A coupon instance as reports show it; `status` is the effective one (expired computed)."""

    instance_id: str
    coupon_id: str
    coupon_name: str
    customer_id: str
    status: str
    issued_at: datetime
    campaign_id: str | None = None
    run_id: str | None = None
    claimed_at: datetime | None = None
    valid_until: datetime | None = None
    redeemed_at: datetime | None = None
    order_id: str | None = None
