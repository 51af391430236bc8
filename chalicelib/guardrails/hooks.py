"""Risk facts kept on the guard item: coupons the customer claimed, and coupon redemptions from the order stream."""

from __future__ import annotations

import logging
from collections.abc import Callable

from chalicelib.activity.consumer import Change
from chalicelib.core.clock import parse_iso
from chalicelib.coupons.model import CouponInstance
from chalicelib.guardrails.rules import RiskRule
from chalicelib.guardrails.store import GuardStore
from chalicelib.tenancy.model import MerchantSettings

log = logging.getLogger(__name__)
PURCHASE = frozenset({"paid", "completed"})


def rule_of(settings: MerchantSettings) -> RiskRule:
    risk = settings.guardrails.risk
    return RiskRule(risk.enabled, risk.min_claims, risk.window_days)


class RiskFacts:
    """The ActivityHook recording redemptions, and the wallet's claim callback recording claims.

    Both recompute the customer's risk interval ("claimed ≥ K coupons and redeemed none within W days"), which
    the dispatch write then checks as a condition: the rule costs dispatch no read.
    """

    def __init__(self, store: GuardStore, settings_of: Callable[[str], MerchantSettings]) -> None:
        self._store = store
        self._settings = settings_of

    def after_batch(self, merchant_id: str, changes: list[Change]) -> None:
        """An order redeeming a coupon (paid or completed) clears the rule; a replayed order changes nothing."""
        redeemed = [c.new for c in changes if c.kind == "ORDER" and c.new and c.new.get("coupon_instance_id")
                    and c.new.get("status") in PURCHASE and c.new.get("paid_at")]
        if not redeemed:
            return
        rule = rule_of(self._settings(merchant_id))
        for doc in redeemed:
            self._store.record_redemption(merchant_id, str(doc["customer_id"]), parse_iso(doc["paid_at"]), rule)

    def on_claimed(self, instance: CouponInstance) -> None:
        """A claimable coupon the customer claimed (coupons.WalletService calls this after the claim is stored)."""
        if instance.claimed_at is None:
            return
        rule = rule_of(self._settings(instance.merchant_id))
        self._store.record_claim(instance.merchant_id, instance.customer_id, instance.claimed_at, rule)
