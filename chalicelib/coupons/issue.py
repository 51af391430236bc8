"""Issuing coupons, pure: instance ids derived from the delivery, and the instances one issue creates."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from chalicelib.coupons import terms as coupon_terms
from chalicelib.coupons.model import CouponInstance, CouponTerms, InstanceStatus


def instance_id_for(merchant_id: str, coupon_id: str, delivery_key: str, index: int) -> str:
    """The same delivery always yields the same instance ids, so a retried issue creates nothing twice."""
    digest = hashlib.sha256(f"{merchant_id}\x00{coupon_id}\x00{delivery_key}\x00{index}".encode()).digest()
    return "ci_" + base64.b32encode(digest).decode().lower()[:20]


def new_instances(merchant_id: str, coupon_id: str, terms: CouponTerms, customer_id: str, quantity: int, *,
                  delivery_key: str, direct: bool, now: datetime, tz: str, campaign_id: str | None,
                  run_id: str | None) -> list[CouponInstance]:
    """The `quantity` instances one delivery issues of one template: claimed (direct to wallet) or claimable."""
    times = coupon_terms.issue_times(terms, now, tz, direct=direct)
    status = InstanceStatus.CLAIMED if direct else InstanceStatus.ISSUED
    return [CouponInstance(
        merchant_id=merchant_id, instance_id=instance_id_for(merchant_id, coupon_id, delivery_key, i),
        coupon_id=coupon_id, terms=terms, customer_id=customer_id, status=status, issued_at=now,
        campaign_id=campaign_id, run_id=run_id, delivery_key=delivery_key, claim_deadline=times.claim_deadline,
        claimed_at=times.claimed_at, valid_from=times.valid_from, valid_until=times.valid_until)
        for i in range(quantity)]
