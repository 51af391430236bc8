"""Ports of the reports package: its own stores, and what it reads from dispatch and coupons."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.dispatch.model import Run
from chalicelib.dispatch.reaches import Reach
from chalicelib.reports.attribution import Decision, Stored
from chalicelib.reports.model import Attribution, ChurnFact, Counts, CouponFact, Delivery


class ReachPort(Protocol):
    def record_reaches(self, merchant_id: str, reaches: Iterable[Reach], now: datetime | None = None) -> None: ...

    def get_many(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, list[Reach]]: ...


class RejectedWrites(Protocol):
    orders: set[str]
    churns: int


class StatsPort(Protocol):
    def get_attributions(self, merchant_id: str, order_ids: Iterable[str]) -> dict[str, Stored]: ...

    def apply(self, merchant_id: str, decisions: Sequence[Decision], churns: Sequence[ChurnFact], shard: int,
              stamp: str) -> RejectedWrites: ...

    def daily(self, merchant_id: str, campaign_id: str, day_from: str | None, day_to: str | None
              ) -> dict[str, Counts]: ...

    def by_campaign(self, merchant_id: str, day_from: str, day_to: str) -> dict[str, Counts]: ...

    def attributions(self, merchant_id: str, campaign_id: str, first_customer: str | None = None,
                     last_customer: str | None = None) -> list[Attribution]: ...

    def churns(self, merchant_id: str, campaign_id: str) -> list[ChurnFact]: ...

    def attributions_of(self, merchant_id: str, campaign_id: str, customer_ids: Iterable[str]
                        ) -> dict[str, list[Attribution]]: ...

    def churns_of(self, merchant_id: str, campaign_id: str, customer_ids: Iterable[str]) -> dict[str, list[str]]: ...


class CouponSource(Protocol):
    """What reports read from the coupons module (adapter: reports.sources.WalletCouponFacts)."""

    def instances(self, merchant_id: str, instance_ids: Iterable[str]) -> dict[str, CouponFact]:
        """Instances by id (BatchGetItem), effective status; unknown ids are absent."""

    def history(self, merchant_id: str, start: datetime, end: datetime, limit: int,
                start_key: dict[str, Any] | None) -> tuple[list[CouponFact], dict[str, Any] | None]:
        """Instances issued in [start, end), newest first, one page (the wallet's gsi2 `{merchant}` index)."""


class DeliverySource(Protocol):
    """What reports read from dispatch (adapter: reports.sources.DispatchDeliveries over the run store)."""

    def deliveries(self, merchant_id: str, campaign_id: str, start: datetime | None, end: datetime | None
                   ) -> list[Delivery]:
        """Every (run, customer) of the campaign's runs started in [start, end) with its ledger outcome."""


class RecipientIndex(Protocol):
    """The campaign's recipient index (adapter: reports.tally_store.TallyReader)."""

    def index_items(self, merchant_id: str, campaign_id: str, status: str | None, start: str | None
                    ) -> Iterable[dict[str, Any]]:
        """Index items from sort key `start` on, in order (read lazily: stop iterating, stop reading)."""


class RunSource(Protocol):
    """A dispatch run (its snapshot names the coupons each delivery received)."""

    def get_run(self, merchant_id: str, run_id: str) -> Run | None: ...
