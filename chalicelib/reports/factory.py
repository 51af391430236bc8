"""The reports package's cached factories (wiring delegates here; tests swap the dispatch or coupon sources)."""

from __future__ import annotations

from functools import cache

from chalicelib import wiring
from chalicelib.core.config import get_config
from chalicelib.reports.dashboard import DashboardService
from chalicelib.reports.export import Exporter
from chalicelib.reports.hook import AttributionHook
from chalicelib.reports.ports import CouponSource, DeliverySource
from chalicelib.reports.service import ReportService
from chalicelib.reports.sources import DispatchDeliveries, WalletCoupons
from chalicelib.reports.store import StatsStore
from chalicelib.reports.touches import TouchStore

deliveries_override: list[DeliverySource] = []  # tests put a fake dispatch ledger here


@cache
def touch_store() -> TouchStore:
    return TouchStore()


@cache
def stats_store() -> StatsStore:
    return StatsStore()


@cache
def coupon_source() -> CouponSource:
    return WalletCoupons(wiring.wallet_store(), wiring.clock())


def delivery_source() -> DeliverySource:
    return deliveries_override[-1] if deliveries_override else _dispatch_deliveries()


@cache
def _dispatch_deliveries() -> DispatchDeliveries:
    from chalicelib.dispatch.store import RunStore

    return DispatchDeliveries(RunStore())


@cache
def attribution_hook() -> AttributionHook:
    return AttributionHook(touch_store(), stats_store(), coupon_source(), wiring.cached_timezone_of,
                           wiring.clock())


def report_service() -> ReportService:
    return ReportService(wiring.repo("CAMPAIGN"), stats_store(), delivery_source(), coupon_source(),
                         wiring.timezone_of, wiring.clock())


def dashboard_service() -> DashboardService:
    return DashboardService(wiring.repo("CAMPAIGN"), stats_store(), delivery_source(), coupon_source(),
                            wiring.timezone_of, wiring.clock())


@cache
def exporter() -> Exporter:
    return Exporter(wiring.client("s3"), get_config().export_bucket, wiring.clock())


def reset() -> None:
    for factory in (touch_store, stats_store, coupon_source, _dispatch_deliveries, attribution_hook, exporter):
        factory.cache_clear()
