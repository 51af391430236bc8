"""Coupon template use cases: create (idempotent), read, list, update (If-Match), delete unless in use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from chalicelib.core.clock import Clock
from chalicelib.core.errors import Conflict, Invalid, NotFound
from chalicelib.core.ports import Repo
from chalicelib.core.records import AlreadyExists, Record

ACTIVE = "active"
FINISHED_CAMPAIGN = frozenset({"ended", "cancelled"})


class IssuedCounts(Protocol):
    def issued_counts(self, merchant_id: str, coupon_ids: Iterable[str]) -> dict[str, int]: ...


def campaigns_using(campaigns: Repo, merchant_id: str, *, coupon_id: str | None = None,
                    content_id: str | None = None) -> list[str]:
    """Ids of the merchant's campaigns, not ended or cancelled, whose action references the coupon / content."""
    using = []
    for record in campaigns.iter_all(merchant_id):
        if record.status in FINISHED_CAMPAIGN:
            continue
        action = record.data.get("action") or {}
        coupons = {c.get("coupon_id") for c in action.get("coupons") or () if isinstance(c, dict)}
        if (coupon_id is not None and coupon_id in coupons) or (
                content_id is not None and action.get("content_id") == content_id):
            using.append(record.id)
    return using


class CouponTemplates:
    """Templates live in the definitions table as kind COUPON; issued counts come from the wallet."""

    def __init__(self, coupons: Repo, campaigns: Repo, counts: IssuedCounts, clock: Clock) -> None:
        self._coupons = coupons
        self._campaigns = campaigns
        self._counts = counts
        self._clock = clock

    def create(self, merchant_id: str, coupon_id: str, data: dict[str, Any], idem_fp: str) -> tuple[Record, bool]:
        """(record, created); a retry with the same Idempotency-Key and body returns the first record."""
        try:
            return self._coupons.create(merchant_id, coupon_id, data, self._clock(), status=ACTIVE,
                                        name=data["name"], idem_fp=idem_fp), True
        except AlreadyExists as exc:
            if exc.existing.idem_fp != idem_fp:
                raise Conflict("this Idempotency-Key was used with a different body",
                               field="header.Idempotency-Key") from exc
            return exc.existing, False

    def get(self, merchant_id: str, coupon_id: str) -> Record:
        record = self._coupons.get(merchant_id, coupon_id)
        if record is None:
            raise NotFound(f"no coupon {coupon_id}", field="path.coupon_id")
        return record

    def list(self, merchant_id: str, limit: int, start_key: dict[str, Any] | None
             ) -> tuple[list[Record], dict[str, Any] | None]:
        return self._coupons.list(merchant_id, limit=limit, start_key=start_key)

    def issued(self, merchant_id: str, coupon_ids: Iterable[str]) -> dict[str, int]:
        return self._counts.issued_counts(merchant_id, coupon_ids)

    def update(self, merchant_id: str, coupon_id: str, data: dict[str, Any], expected_version: int) -> Record:
        """Replace the terms; instances already issued keep the terms they copied."""
        issued = self.issued(merchant_id, [coupon_id])[coupon_id]
        if data["stock"] < issued:
            raise Invalid(f"{issued} units are already issued; stock cannot go below that", field="body.stock")
        return self._coupons.update(merchant_id, coupon_id, data, self._clock(), expected_version=expected_version,
                                    status=ACTIVE, name=data["name"])

    def delete(self, merchant_id: str, coupon_id: str, expected_version: int | None) -> None:
        """Permanent; refused (409) while a campaign that has not ended uses the template."""
        self.get(merchant_id, coupon_id)
        using = campaigns_using(self._campaigns, merchant_id, coupon_id=coupon_id)
        if using:
            raise Conflict(f"campaigns {', '.join(sorted(using))} use this coupon; end or cancel them first",
                           field="path.coupon_id")
        self._coupons.delete(merchant_id, coupon_id, expected_version=expected_version)
