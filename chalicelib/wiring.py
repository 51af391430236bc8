"""Composition of AWS clients, stores and services: cached factories tests can reset or swap."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import boto3

from chalicelib.core.clock import Clock, system_clock
from chalicelib.core.config import get_config
from chalicelib.core.dynamo import DefinitionRepo
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


def reset() -> None:
    """Forget every cached client and service (tests switching endpoints)."""
    for factory in (client, repo, tenancy_service):
        factory.cache_clear()
