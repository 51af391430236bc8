"""The GuardrailPolicy dispatch calls: quiet-hour deferrals, caps and quotas as writes in the chunk transaction."""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from chalicelib.audiences.builtin import BUILTIN_IDS
from chalicelib.audiences.canonical import list_key, rule_key, staff_key
from chalicelib.core.cache import TtlCache
from chalicelib.dispatch.model import Recipient, delivery_key
from chalicelib.dispatch.screening import SHARED, PolicyContext, PolicyDecision
from chalicelib.dispatch.snapshot import CampaignView
from chalicelib.guardrails.rules import (
    ITEM_KIND,
    MESSAGE_CHANNELS,
    RISK,
    STAFF_TASK,
    Grant,
    Limits,
    MonthState,
    allot,
    day_key,
    limits_of,
    local_day,
    month_key,
    quiet_until,
    static_reason,
    violations,
    write_for,
)
from chalicelib.guardrails.store import (
    GuardStore,
    coupons_key,
    coupons_op,
    customer_op,
    guard_key,
    month_state,
    sends_key,
    sends_op,
    slot_key,
    slot_op,
    slot_runs,
)
from chalicelib.tenancy.model import MerchantSettings

CACHE_SECONDS = 60.0  # coupon kinds, and a month's used quota as explain() last read it
COUPONS_TAG, SENDS_TAG, SLOT_TAG = "*coupons", "*sends", "*slot"


SavedRule = Callable[[str, str], dict[str, Any] | None]  # (merchant, audience) -> a saved custom audience's rule


def no_saved_rules(merchant_id: str, audience_id: str) -> dict[str, Any] | None:
    return None


def audience_of(campaign: CampaignView, run_kind: str = "occurrence", saved_rule: SavedRule = no_saved_rules,
                merchant_id: str = "") -> str | None:
    """The audience a calendar send goes to, as the key the audience quotas count it under; None for triggered
    campaigns and birthday runs, whose touches are not audience sends.

    Every target resolves to the population it names (audiences.canonical): a built-in, frozen or list audience
    is its id, a saved custom audience and an inline rule the key of the rule (so pasting the saved rule inline is
    the same audience), an explicit customer list and a staff-friends target the key of their id sets."""
    target = campaign.target
    if campaign.triggered or run_kind != "occurrence":
        return None
    kind = str(target.get("kind") or "")
    if kind == "audience":
        audience_id = str(target.get("audience_id") or "")
        rule = None if not audience_id or audience_id in BUILTIN_IDS else saved_rule(merchant_id, audience_id)
        return rule_key(rule) if rule is not None else (audience_id or None)
    if kind == "rule":
        return rule_key(target.get("rule"))
    if kind == "customers":
        return list_key(str(c) for c in target.get("customer_ids") or ())
    if kind == "staff_friends":
        return staff_key(str(s) for s in target.get("staff_ids") or ())
    return None


def grant_for(campaign: CampaignView, kind_of: Callable[[str], str | None], audience_id: str | None) -> Grant:
    """What one recipient of `campaign` gets: a message or not, coupon units by kind (`kind_of` a template id)."""
    store = item = 0
    for g in campaign.coupons:
        if kind_of(g.coupon_id) == ITEM_KIND:
            item += g.quantity
        else:
            store += g.quantity
    return Grant(campaign.campaign_id, campaign.channel in MESSAGE_CHANNELS, store, item, audience_id,
                 campaign.channel == STAFF_TASK)


def _ticks() -> float:
    """Monotonic time for the caches, looked up at each call."""
    return _time.monotonic()


class Guardrails:
    """SPEC §8 through the dispatch port: decide() never reads; explain() reads only after a condition failed."""

    items_per_recipient = 1  # the customer's guard item

    def __init__(self, store: GuardStore, settings_of: Callable[[str], MerchantSettings],
                 coupon_kind: Callable[[str, str], str | None], saved_rule: SavedRule = no_saved_rules) -> None:
        """`settings_of` is read per chunk: give a cached one (wiring.cached_settings); kinds and saved audiences'
        rules are cached here."""
        self._store = store
        self._settings = settings_of
        self._coupon_kind = coupon_kind
        self._saved_rule = saved_rule
        self._kinds: TtlCache[tuple[str, str], str | None] = TtlCache(CACHE_SECONDS, _ticks)
        self._rules: TtlCache[tuple[str, str], dict[str, Any] | None] = TtlCache(CACHE_SECONDS, _ticks)
        # Month states read by explain() when a quota was used up: later groups of this process start from them
        # instead of trying the transaction again (a quota only grows used within its month).
        self._used: TtlCache[tuple[str, str], MonthState] = TtlCache(CACHE_SECONDS, _ticks)

    def fixed_items(self, campaign: CampaignView) -> int:
        """Per transaction: the month's coupon counter, the audience's month and day items, a deferral's due item."""
        return 1 + (1 if campaign.coupons else 0) + (2 if audience_of(campaign) else 0)

    def _rule(self, merchant_id: str, audience_id: str) -> dict[str, Any] | None:
        return self._rules.get((merchant_id, audience_id), lambda key: self._saved_rule(*key))

    def grant(self, merchant_id: str, campaign: CampaignView, run_kind: str = "occurrence") -> Grant:
        return grant_for(campaign, lambda c: self._kinds.get((merchant_id, c), lambda key: self._coupon_kind(*key)),
                         audience_of(campaign, run_kind, self._rule, merchant_id))

    def limits(self, merchant_id: str, campaign: CampaignView) -> Limits:
        return limits_of(self._settings(merchant_id), campaign.data.get("guardrails"))

    def decide(self, ctx: PolicyContext, candidates: list[Recipient]) -> PolicyDecision:
        limits = self.limits(ctx.merchant_id, ctx.campaign)
        decision = PolicyDecision()
        until = quiet_until(ctx.now, ctx.timezone, limits.quiet, ctx.campaign.channel)
        if until is not None:  # nobody is reached in quiet hours: the whole group waits for their end
            decision.deferred = {r.customer_id: until for r in candidates}
            return decision
        grant = self.grant(ctx.merchant_id, ctx.campaign, ctx.run_kind)
        write = write_for(grant, limits, ctx.now, ctx.timezone)
        static = static_reason(write)
        sending: list[str] = []
        for r in candidates:
            reason = RISK if r.risk_flagged else static
            if reason is not None:
                decision.suppressed[r.customer_id] = reason
            else:
                sending.append(r.customer_id)
        # Quotas no state can allow (more units than the month's quota has left as last read, a zero audience
        # quota): refused here rather than by a transaction bound to fail.
        month = month_key(local_day(ctx.now, ctx.timezone))
        known = self._used.peek((ctx.merchant_id, month))
        used = known[0] if known is not None else MonthState()
        first = allot(sending, grant, limits, used, MonthState(), ctx.run_id)
        decision.suppressed.update(first.refused)
        for cid in first.admitted:
            mine = replace(write, task_key=delivery_key(ctx.run_id, cid)) if write.task else write
            decision.writes.append((cid, customer_op(ctx.merchant_id, cid, mine, f"policy:{cid}")))
        if first.admitted:
            decision.writes += [(SHARED, op) for op in self._shared_ops(ctx, grant, limits, len(first.admitted))]
        return decision

    def _shared_ops(self, ctx: PolicyContext, grant: Grant, limits: Limits, sending: int) -> list[Any]:
        ops: list[Any] = []
        if grant.store_units or grant.item_units:
            month = month_key(local_day(ctx.now, ctx.timezone))  # coupons count in the month they are issued
            ops.append(coupons_op(ctx.merchant_id, month, grant.store_units * sending, grant.item_units * sending,
                                  limits.monthly_store, limits.monthly_item, ctx.now, f"policy:{COUPONS_TAG}"))
        if grant.audience_id is not None:
            day = local_day(ctx.occurrence or ctx.now, ctx.timezone)  # a send counts on its occurrence's day
            ops.append(sends_op(ctx.merchant_id, month_key(day), ctx.run_id, limits.audience_per_month, ctx.now,
                                f"policy:{SENDS_TAG}"))
            ops.append(slot_op(ctx.merchant_id, grant.audience_id, day_key(day), ctx.run_id, limits.audience_per_day,
                               ctx.now, f"policy:{SLOT_TAG}"))
        return ops

    def explain(self, ctx: PolicyContext, failed: list[str], sending: list[Recipient]) -> dict[str, str]:
        """Verdicts for the customers whose conditions failed (read back now); those not named are retried."""
        limits = self.limits(ctx.merchant_id, ctx.campaign)
        grant = self.grant(ctx.merchant_id, ctx.campaign, ctx.run_kind)
        write = write_for(grant, limits, ctx.now, ctx.timezone)
        customers = [k for k in failed if not k.startswith("*")]
        shared = any(k.startswith("*") for k in failed)
        keys = [guard_key(ctx.merchant_id, c) for c in customers]
        issue_month = month_key(local_day(ctx.now, ctx.timezone))
        send_day = local_day(ctx.occurrence or ctx.now, ctx.timezone)
        if shared:
            keys.append(coupons_key(ctx.merchant_id, issue_month))
            if grant.audience_id is not None:
                keys += [sends_key(ctx.merchant_id, month_key(send_day)),
                         slot_key(ctx.merchant_id, grant.audience_id, day_key(send_day))]
        items = self._store.read(keys)
        verdicts: dict[str, str] = {}
        for cid in customers:
            found = violations(items.get(guard_key(ctx.merchant_id, cid)) or {}, write)
            if found:
                verdicts[cid] = found[0]
        if shared:
            slot = items.get(slot_key(ctx.merchant_id, grant.audience_id, day_key(send_day))) if grant.audience_id \
                else None
            rest = [r.customer_id for r in sending if r.customer_id not in verdicts]
            used = month_state(items.get(coupons_key(ctx.merchant_id, issue_month)))
            self._used.put((ctx.merchant_id, issue_month), used)
            result = allot(rest, grant, limits, used,
                           month_state(items.get(sends_key(ctx.merchant_id, month_key(send_day)))), ctx.run_id,
                           slot_runs(slot))
            verdicts.update(result.refused)
        return verdicts

