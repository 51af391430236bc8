"""The campaign as dispatch reads it: a tolerant, pure view of a stored campaign body (the run snapshot)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.campaigns.model import to_schedule
from chalicelib.campaigns.schedule_triggered import Schedule, TriggeredSchedule
from chalicelib.core.clock import parse_iso
from chalicelib.experiments.assign import arm_index

SENDABLE = frozenset({"running", "scheduled", "active"})
PAUSED = "paused"
CANCELLED = "cancelled"
ENDED = "ended"


@dataclass(frozen=True)
class CouponGrant:
    coupon_id: str
    quantity: int = 1


@dataclass(frozen=True)
class CampaignView:
    """What the pipeline needs from a campaign body; `data` is the body itself (stored as the run snapshot)."""

    campaign_id: str
    status: str
    data: dict[str, Any]
    target: dict[str, Any]
    channel: str
    coupons: tuple[CouponGrant, ...]
    schedule: Schedule | None
    batch_size: int | None
    interval_minutes: int
    holdout_percent: float
    activated_at: datetime | None

    @property
    def triggered(self) -> bool:
        return isinstance(self.schedule, TriggeredSchedule)

    @property
    def coupon_units(self) -> int:
        """Coupon instances one recipient receives."""
        return sum(g.quantity for g in self.coupons)


def parse_schedule(block: dict[str, Any] | None) -> Schedule | None:
    """The schedule dataclass of a stored campaign body (campaigns.model.to_schedule); None when absent."""
    return to_schedule(block) if block else None


def _coupons(action: dict[str, Any]) -> tuple[CouponGrant, ...]:
    grants = []
    for raw in action.get("coupons") or ():
        if isinstance(raw, str):
            grants.append(CouponGrant(raw, 1))
        else:
            grants.append(CouponGrant(str(raw.get("coupon_id") or raw.get("id")), int(raw.get("quantity") or 1)))
    return tuple(grants)


def treatments(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The campaign's A/B treatments (name, share_percent, action); empty for a campaign with one action."""
    return [t for t in data.get("treatments") or () if isinstance(t, dict) and t.get("name")]


def winner(data: dict[str, Any]) -> str | None:
    """The treatment a recurring plan switched to (campaign data `winner`, set by the switch), if any."""
    name = (data.get("winner") or {}).get("treatment")
    return name if isinstance(name, str) and name in {t["name"] for t in treatments(data)} else None


def should_switch(data: dict[str, Any]) -> bool:
    """A recurring plan with treatments set to switch to its winner, not switched yet."""
    return bool(treatments(data)) and bool((data.get("experiment") or {}).get("switch_to_winner")) \
        and (data.get("schedule") or {}).get("kind") == "recurring" and winner(data) is None


def arm_of(data: dict[str, Any], campaign_id: str, customer_id: str) -> str | None:
    """The treatment this customer gets: the winner once switched, else by hash (None without treatments)."""
    arms = treatments(data)
    if not arms:
        return None
    switched = winner(data)
    if switched is not None:
        return switched
    return str(arms[arm_index(campaign_id, customer_id, [int(t.get("share_percent") or 0) for t in arms])]["name"])


def with_arm(data: dict[str, Any], arm: str | None) -> dict[str, Any]:
    """The body as the arm's recipients get it: its action in place of the campaign's (the first arm's)."""
    chosen = next((t for t in treatments(data) if t["name"] == arm), None) if arm is not None else None
    return data if chosen is None else {**data, "action": chosen.get("action") or {}}


def view(campaign_id: str, status: str | None, data: dict[str, Any], arm: str | None = None) -> CampaignView:
    """Read a stored campaign body (the campaigns package's create body plus lifecycle timestamps); `arm`: as
    that treatment's recipients get it (its channel, coupons and content)."""
    data = with_arm(data, arm)
    action = dict(data.get("action") or {})
    sending = dict(data.get("sending") or {})
    batched = sending.get("mode") == "batched"
    activated = data.get("activated_at") or data.get("started_at")
    return CampaignView(
        campaign_id=campaign_id, status=status or "", data=data, target=dict(data.get("target") or {}),
        channel=str(action.get("channel") or "wallet"), coupons=_coupons(action),
        schedule=parse_schedule(data.get("schedule")),
        batch_size=int(sending.get("batch_size") or 0) or None if batched else None,
        interval_minutes=int(sending.get("interval_minutes") or 0) if batched else 0,
        holdout_percent=float(data.get("holdout_percent") or 0),
        activated_at=parse_iso(activated) if isinstance(activated, str) else None)
