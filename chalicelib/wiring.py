"""Composition of AWS clients, stores and services: cached factories tests can reset or swap."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import boto3

from chalicelib.activity.consumer import ActivityConsumer, ActivityHook
from chalicelib.activity.store import ActivityStore
from chalicelib.core.clock import Clock, system_clock
from chalicelib.core.config import get_config
from chalicelib.core.dynamo import DefinitionRepo, reset_connection
from chalicelib.customers.reader import CustomerReader
from chalicelib.customers.service import IngestService
from chalicelib.customers.store import CustomerStore
from chalicelib.tenancy.service import TenancyService

_clock: Clock = system_clock


def now() -> datetime:
    """The current instant from the wired clock."""
    return _clock()


def clock() -> Clock:
    """The wired clock itself (services keep a reference that follows swaps)."""
    return now


def set_clock(new_clock: Clock) -> None:
    """Swap the clock (tests and the local runtime's simulated time)."""
    global _clock
    _clock = new_clock


@cache
def client(service: str) -> Any:
    """One boto3 client per service for this process."""
    cfg = get_config()
    return boto3.client(service, region_name=cfg.region, endpoint_url=cfg.endpoint_url)


@cache
def repo(kind: str) -> DefinitionRepo:
    """The definitions repository of one kind (KEY, COUPON, CAMPAIGN, ...)."""
    return DefinitionRepo(kind)


@cache
def tenancy_service() -> TenancyService:
    return TenancyService(repo("MERCHANT"), repo("KEY"), repo("SETTINGS"), clock())


def timezone_of(merchant_id: str) -> str:
    """The merchant's IANA time zone, from settings."""
    return tenancy_service().settings(merchant_id)[0].timezone


@cache
def customer_store() -> CustomerStore:
    return CustomerStore(get_config().customer_shards)


@cache
def activity_store() -> ActivityStore:
    return ActivityStore()


@cache
def ingest_service() -> IngestService:
    return IngestService(customer_store(), activity_store(), clock())


@cache
def customer_reader() -> CustomerReader:
    return CustomerReader(customer_store(), timezone_of, clock())


def activity_hooks() -> list[ActivityHook]:
    """What runs after customer metrics are folded: behaviour triggers, redemption, attribution."""
    return []


@cache
def activity_consumer() -> ActivityConsumer:
    return ActivityConsumer(customer_store(), timezone_of, clock(), activity_hooks())


def reset() -> None:
    """Forget every cached client and service (tests switching endpoints)."""
    for factory in (client, repo, tenancy_service, customer_store, activity_store, ingest_service, customer_reader,
                    activity_consumer):
        factory.cache_clear()
    reset_connection()
