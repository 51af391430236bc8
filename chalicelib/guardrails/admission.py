"""Activation-time quota check: a send that would exceed a merchant quota knowably now is refused with 429."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.core.errors import QuotaExceeded
from chalicelib.dispatch.snapshot import view
from chalicelib.guardrails import feasibility
from chalicelib.guardrails.policy import SavedRule, audience_of, grant_for, no_saved_rules
from chalicelib.guardrails.rules import (
    QUOTA_AUDIENCE_DAILY,
    QUOTA_AUDIENCE_MONTHLY,
    QUOTA_MONTHLY_ITEM,
    QUOTA_MONTHLY_STORE,
    day_key,
    limits_of,
    local_day,
    month_key,
)
from chalicelib.guardrails.store import GuardStore, coupons_key, month_state, sends_key, slot_key, slot_runs
from chalicelib.tenancy.model import MerchantSettings


class QuotaAdmission:
    """What can be known before the first send: quotas already used up, explicit lists larger than what is left."""

    def __init__(self, store: GuardStore, settings_of: Callable[[str], MerchantSettings],
                 coupon_kind: Callable[[str, str], str | None], saved_rule: SavedRule = no_saved_rules) -> None:
        self._store = store
        self._settings = settings_of
        self._kind = coupon_kind
        self._saved_rule = saved_rule

    def check(self, merchant_id: str, campaign_id: str, data: dict[str, Any], first_run: datetime | None,
              now: datetime) -> None:
        """Raise QuotaExceeded (429, `field` naming the merchant setting) for the campaign's first send."""
        campaign = view(campaign_id, "scheduled", data)
        if campaign.triggered:
            return  # touches trickle in over time: their recipients past a quota are suppressed when sent
        settings = self._settings(merchant_id)
        g, tz = settings.guardrails, settings.timezone
        at = first_run or now
        # An explicit list bounds the send's size (unknown ids and holdouts only make it smaller); the per-send
        # recipient cap is left to planning, which suppresses the positions past it (quota_max_recipients).
        listed = campaign.target.get("customer_ids") if campaign.target.get("kind") == "customers" else None
        size = len(listed) if isinstance(listed, list) else None
        grant = grant_for(campaign, lambda c: self._kind(merchant_id, c), None)
        store, item = grant.store_units, grant.item_units
        audience = audience_of(campaign, "occurrence", self._saved_rule, merchant_id)
        issue_month = month_key(local_day(at, tz))
        day = local_day(at, tz)
        keys = [coupons_key(merchant_id, issue_month)]
        if audience is not None:
            keys += [sends_key(merchant_id, month_key(day)), slot_key(merchant_id, audience, day_key(day))]
        items = self._store.read(keys) if store or item or audience else {}
        used = month_state(items.get(coupons_key(merchant_id, issue_month)))
        for units, left, reason, name in ((store, g.monthly_store_coupons - used.store, QUOTA_MONTHLY_STORE,
                                           "monthly_store_coupons"),
                                          (item, g.monthly_item_coupons - used.item, QUOTA_MONTHLY_ITEM,
                                           "monthly_item_coupons")):
            needed = units * (size or 1)
            if units and needed > left:
                raise QuotaExceeded(f"{reason}: {issue_month} has {max(0, left)} of {getattr(g, name)} left, the "
                                    f"send needs {needed}", field=f"settings.guardrails.{name}")
        if audience is None:
            return
        held = slot_runs(items.get(slot_key(merchant_id, audience, day_key(day))))
        if len(held) >= g.audience_sends_per_day:
            raise QuotaExceeded(f"{QUOTA_AUDIENCE_DAILY}: audience {audience} was already sent to {len(held)} "
                                f"time(s) on {day.isoformat()}, at most {g.audience_sends_per_day}",
                                field="settings.guardrails.audience_sends_per_day")
        sends = month_state(items.get(sends_key(merchant_id, month_key(day))))
        if len(sends.audience_runs) >= g.audience_sends_per_month:
            raise QuotaExceeded(f"{QUOTA_AUDIENCE_MONTHLY}: {len(sends.audience_runs)} audience sends in "
                                f"{month_key(day)}, at most {g.audience_sends_per_month}",
                                field="settings.guardrails.audience_sends_per_month")

    def feasibility(self, merchant_id: str, campaign_id: str, data: dict[str, Any], now: datetime
                    ) -> list[dict[str, Any]]:
        """Warnings (not refusals) for the caps under which the plan's schedule cannot deliver every send to a
        customer it targets each time (guardrails.feasibility)."""
        campaign = view(campaign_id, "scheduled", data)
        settings = self._settings(merchant_id)
        grant = grant_for(campaign, lambda c: self._kind(merchant_id, c), None)
        limits = limits_of(settings, data.get("guardrails"))
        ceiling = settings.guardrails.campaign_ceiling.model_dump()
        found = feasibility.check(campaign.schedule, campaign.channel, grant, limits, ceiling, settings.timezone,
                                  now)
        return [w.to_doc() for w in found]
