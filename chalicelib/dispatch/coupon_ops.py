"""Coupons issued inside the chunk's transaction: one stock reservation per template, instances by delivery key."""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from chalicelib.core.ports import Repo
from chalicelib.core.records import Record
from chalicelib.coupons import policy
from chalicelib.coupons.model import CouponInstance, CouponTerms, InstanceStatus
from chalicelib.coupons.service import instance_id_for
from chalicelib.coupons.store import LIMIT, STOCK, WalletItem, instance_item, limit_pk, stock_pk
from chalicelib.dispatch.model import IssueFailed, delivery_key
from chalicelib.dispatch.snapshot import CampaignView
from chalicelib.dispatch.txn import TxOp

CACHE_SECONDS = 60.0


class WalletCoupons:
    """The CouponPort over the coupons package's wallet table (same ids, counters and item shapes)."""

    def __init__(self, coupons: Repo, timezone_of: Callable[[str], str]) -> None:
        self._coupons = coupons
        self._tz = timezone_of
        self._cache: dict[tuple[str, str], tuple[float, Record | None]] = {}

    def _record(self, merchant_id: str, coupon_id: str, fresh: bool = False) -> Record | None:
        key = (merchant_id, coupon_id)
        hit = self._cache.get(key)
        if fresh or hit is None or _time.monotonic() - hit[0] > CACHE_SECONDS:
            hit = (_time.monotonic(), self._coupons.get(merchant_id, coupon_id))
            self._cache[key] = hit
        return hit[1]

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
                  direct: bool, now: datetime) -> tuple[list[Any], dict[str, tuple[str, ...]]]:
        tz = self._tz(merchant_id)
        ops: list[Any] = []
        instances: dict[str, list[str]] = {c: [] for c in customer_ids}
        for grant in campaign.coupons:
            record = self._record(merchant_id, grant.coupon_id)
            if record is None:
                raise IssueFailed("coupon_not_found")
            terms = CouponTerms.from_data(record.data)
            if not policy.issuable(terms, now, tz):
                raise IssueFailed("coupon_expired")
            n = grant.quantity * len(customer_ids)
            ceiling = int(record.data["stock"]) - n
            ops.append(TxOp("update", WalletItem(stock_pk(merchant_id, grant.coupon_id), STOCK),
                            f"stock:{grant.coupon_id}",
                            WalletItem.issued.does_not_exist() | (WalletItem.issued <= ceiling),
                            [WalletItem.issued.add(n), WalletItem.kind.set(STOCK)]))
            limit = record.data.get("per_customer_limit")
            times = policy.issue_times(terms, now, tz, direct=direct)
            status = InstanceStatus.CLAIMED if direct else InstanceStatus.ISSUED
            for cid in customer_ids:
                key = delivery_key(run_id, cid)
                if limit is not None:
                    ops.append(TxOp("update", WalletItem(limit_pk(merchant_id, grant.coupon_id, cid), LIMIT),
                                    f"limit:{cid}",
                                    WalletItem.issued.does_not_exist()
                                    | (WalletItem.issued <= int(limit) - grant.quantity),
                                    [WalletItem.issued.add(grant.quantity), WalletItem.kind.set(LIMIT)]))
                for i in range(grant.quantity):
                    inst = CouponInstance(
                        merchant_id=merchant_id, instance_id=instance_id_for(merchant_id, grant.coupon_id, key, i),
                        coupon_id=grant.coupon_id, terms=terms, customer_id=cid, status=status, issued_at=now,
                        campaign_id=campaign.campaign_id, run_id=run_id, delivery_key=key,
                        claim_deadline=times.claim_deadline, claimed_at=times.claimed_at,
                        valid_from=times.valid_from, valid_until=times.valid_until)
                    instances[cid].append(inst.instance_id)
                    ops.append(TxOp("save", instance_item(inst), f"coupon:{cid}", WalletItem.pk.does_not_exist()))
        return ops, {c: tuple(ids) for c, ids in instances.items()}

    def remaining_stock(self, merchant_id: str, campaign: CampaignView) -> int:
        """Recipients the scarcest template can still serve (fresh reads: the cached stock may be stale)."""
        left: int | None = None
        for grant in campaign.coupons:
            record = self._record(merchant_id, grant.coupon_id, fresh=True)
            if record is None:
                return 0
            try:
                counter = WalletItem.get(stock_pk(merchant_id, grant.coupon_id), STOCK, consistent_read=True)
                issued = int(counter.issued or 0)
            except WalletItem.DoesNotExist:
                issued = 0
            serve = max(0, int(record.data["stock"]) - issued) // grant.quantity
            left = serve if left is None else min(left, serve)
        return left or 0
