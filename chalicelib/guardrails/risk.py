"""Risk facts kept on the guard item: coupons the customer claimed, and the coupon redemptions that held."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.coupons.model import CouponInstance
from chalicelib.guardrails.rules import RiskRule
from chalicelib.guardrails.store import GuardStore
from chalicelib.tenancy.model import MerchantSettings


def rule_of(settings: MerchantSettings) -> RiskRule:
    risk = settings.guardrails.risk
    return RiskRule(risk.enabled, risk.min_claims, risk.window_days)


class RiskFacts:
    """The wallet's claim writes and the redemption hook's callback, recording the customer's risk facts.

    A claim recomputes the interval in which the claims satisfy the rule ("claimed ≥ K coupons and redeemed
    none within W days"); a redemption moves the last redemption `rd` forward. Dispatch checks both as a
    condition of its write: the rule costs dispatch no read. Redemptions come from the redemption hook only
    once it accepted them, so an order naming a coupon it could not redeem (another customer's, already used,
    below threshold) clears nothing.
    """

    def __init__(self, store: GuardStore, settings_of: Callable[[str], MerchantSettings]) -> None:
        self._store = store
        self._settings = settings_of

    def on_redeemed(self, merchant_id: str, redeemed: list[tuple[str, datetime]]) -> None:
        """Coupons redeemed by a stream batch's orders: (customer, paid_at); a replayed order changes nothing."""
        for customer_id, paid_at in redeemed:
            self._store.record_redemption(merchant_id, customer_id, paid_at)

    def claim_ops(self, instance: CouponInstance) -> list[Any]:
        """The writes that record a claim as a risk fact, for coupons.WalletService to commit with the claim."""
        if instance.claimed_at is None:
            return []
        rule = rule_of(self._settings(instance.merchant_id))
        return [self._store.claim_op(instance.merchant_id, instance.customer_id, instance.claimed_at, rule,
                                     f"risk:{instance.customer_id}")]
