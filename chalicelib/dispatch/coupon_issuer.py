"""Coupons issued inside the chunk's transaction: one stock reservation per template, instances by delivery key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from chalicelib.core.records import Record
from chalicelib.core.tx import TxOp
from chalicelib.coupons import terms as coupon_terms
from chalicelib.coupons.issue import new_instances
from chalicelib.coupons.model import CouponTerms
from chalicelib.coupons.store import WalletStore, instance_op, limit_op, stock_op
from chalicelib.dispatch.model import IssueFailed, delivery_key
from chalicelib.dispatch.snapshot import CampaignView


class TemplateReader(Protocol):
    def __call__(self, merchant_id: str, coupon_id: str, *, fresh: bool = False) -> Record | None:
        """A coupon template's record, cached a minute per process (`fresh`: read it now)."""


class CouponIssuer:
    """The CouponPort over the coupons package: its templates, its issuing writes and its stock counters."""

    def __init__(self, templates: TemplateReader, wallet: WalletStore, timezone_of: Callable[[str], str]) -> None:
        self._record = templates
        self._wallet = wallet
        self._tz = timezone_of

    def items_per_recipient(self, merchant_id: str, campaign: CampaignView) -> int:
        limited = 0
        for grant in campaign.coupons:
            record = self._record(merchant_id, grant.coupon_id)
            if record is not None and record.data.get("per_customer_limit") is not None:
                limited += 1
        return campaign.coupon_units + limited

    def fixed_items(self, campaign: CampaignView) -> int:
        return len(campaign.coupons)

    def issue_ops(self, merchant_id: str, campaign: CampaignView, run_id: str, customer_ids: Sequence[str],
                  direct: bool, now: datetime) -> tuple[list[TxOp], dict[str, tuple[str, ...]]]:
        """The coupons package's issuing writes for a group: one stock reservation per template, then per customer
        its per-customer-limit counter and its instances (ids derived from the delivery key)."""
        tz = self._tz(merchant_id)
        ops: list[TxOp] = []
        instances: dict[str, list[str]] = {c: [] for c in customer_ids}
        for grant in campaign.coupons:
            record = self._record(merchant_id, grant.coupon_id)
            if record is None:
                raise IssueFailed("coupon_not_found")
            terms = CouponTerms.from_data(record.data)
            if not coupon_terms.issuable(terms, now, tz):
                raise IssueFailed("coupon_expired")
            ops.append(stock_op(merchant_id, grant.coupon_id, grant.quantity * len(customer_ids),
                                int(record.data["stock"]), f"stock:{grant.coupon_id}"))
            limit = record.data.get("per_customer_limit")
            for cid in customer_ids:
                if limit is not None:
                    ops.append(limit_op(merchant_id, grant.coupon_id, cid, grant.quantity, int(limit), f"limit:{cid}"))
                for inst in new_instances(merchant_id, grant.coupon_id, terms, cid, grant.quantity,
                                          delivery_key=delivery_key(run_id, cid), direct=direct, now=now, tz=tz,
                                          campaign_id=campaign.campaign_id, run_id=run_id):
                    instances[cid].append(inst.instance_id)
                    ops.append(instance_op(inst, f"coupon:{cid}"))
        return ops, {c: tuple(ids) for c, ids in instances.items()}

    def remaining_stock(self, merchant_id: str, campaign: CampaignView) -> int:
        """Recipients the scarcest template can still serve (fresh reads: the cached stock may be stale)."""
        left: int | None = None
        for grant in campaign.coupons:
            record = self._record(merchant_id, grant.coupon_id, fresh=True)
            if record is None:
                return 0
            issued = self._wallet.issued_counts(merchant_id, [grant.coupon_id])[grant.coupon_id]
            serve = max(0, int(record.data["stock"]) - issued) // grant.quantity
            left = serve if left is None else min(left, serve)
        return left or 0
