"""The reports' parts: the reach log, the stats store, its sources (the dispatch ledger, the wallet), services."""

from __future__ import annotations

from chalicelib.core.config import get_config
from chalicelib.dispatch.store import RunStore
from chalicelib.reports.dashboard import DashboardService
from chalicelib.reports.delivery_log import DeliveryLog
from chalicelib.reports.export import Exporter
from chalicelib.reports.hook import AttributionHook
from chalicelib.reports.ports import CouponSource, DeliverySource
from chalicelib.reports.reach_log import ReachLog
from chalicelib.reports.recipients import RecipientPages
from chalicelib.reports.service import ReportService
from chalicelib.reports.sources import DispatchDeliveries, WalletCouponFacts
from chalicelib.reports.store import StatsStore
from chalicelib.reports.tally_store import TallyReader
from chalicelib.wiring.services import wallet_store
from chalicelib.wiring.shared import cached_coupon, cached_timezone_of, client, clock, part, repo, timezone_of


@part
def reach_log() -> ReachLog:
    return ReachLog(client("dynamodb"))


@part
def delivery_log() -> DeliveryLog:
    """Reports' counters and recipient index, written by dispatch in its ledger transactions."""
    return DeliveryLog(cached_timezone_of, lambda merchant_id, coupon_id: cached_coupon(merchant_id, coupon_id))


@part
def stats_store() -> StatsStore:
    return StatsStore()


@part
def coupon_source() -> CouponSource:
    return WalletCouponFacts(wallet_store(), clock())


@part
def delivery_source() -> DeliverySource:
    """Dispatch's ledger as reports read it (a test seam: replace it, then wiring.reset())."""
    return DispatchDeliveries(RunStore())


@part
def attribution_hook() -> AttributionHook:
    """The stream's attribution: the merchant's zone read once a minute, not per batch."""
    return AttributionHook(reach_log(), stats_store(), coupon_source(), cached_timezone_of, clock())


@part
def report_service() -> ReportService:
    pages = RecipientPages(TallyReader(client("dynamodb")), RunStore(), stats_store(), reach_log(), coupon_source())
    return ReportService(repo("CAMPAIGN"), stats_store(), delivery_source(), coupon_source(), timezone_of, clock(),
                         pages)


@part
def dashboard_service() -> DashboardService:
    return DashboardService(repo("CAMPAIGN"), stats_store(), delivery_source(), coupon_source(), timezone_of,
                            clock())


@part
def report_exporter() -> Exporter:
    return Exporter(client("s3"), get_config().export_bucket, clock())
