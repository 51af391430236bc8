"""The root's lowest layer: the clock, AWS clients, definition repos and merchant settings (fresh and cached a minute).

Every factory module of the wiring imports this one; it imports no factory. `part` marks a cached factory that
`wiring.reset()` forgets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Literal, ParamSpec, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from chalicelib.core import apikeys
from chalicelib.core.cache import TtlCache
from chalicelib.core.clock import Clock, system_clock
from chalicelib.core.config import get_config
from chalicelib.core.dynamo import DefinitionRepo, KeyItem, reset_connection
from chalicelib.core.egress import PUBLIC, EgressPolicy
from chalicelib.core.records import Record
from chalicelib.tenancy.model import MerchantSettings
from chalicelib.tenancy.senders import SenderRegistry
from chalicelib.tenancy.service import TenancyService

P = ParamSpec("P")
R = TypeVar("R")
Service = Literal["dynamodb", "dynamodbstreams", "sqs", "sns", "ses", "s3"]
# Hot paths (workers per chunk, the stream consumer per batch) read settings and coupon templates through these
# caches; a change still takes effect within the minute. API requests read them fresh.
SETTINGS_TTL_SECONDS = 60.0
TEMPLATES_TTL_SECONDS = 60.0

_forget: list[Callable[[], None]] = []
_clock: Clock = system_clock
_egress: EgressPolicy = PUBLIC


def part(build: Callable[P, R]) -> Callable[P, R]:
    """A cached factory: one object per process (and per arguments) until `forget_all()`."""
    cached = functools.cache(build)
    _forget.append(cached.cache_clear)
    functools.update_wrapper(cached, build)
    return cached  # type: ignore[return-value]  # functools.cache keeps the call, typeshed loses the parameters


def forget_all() -> None:
    """Every cached part and PynamoDB's connection built again on next use (the clock stays as set)."""
    for forget in _forget:
        forget()
    reset_connection()
    apikeys.reset()


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


def egress_policy() -> EgressPolicy:
    """Where outbound calls (webhooks) may go: public addresses only, unless a test wired an allow-list."""
    return _egress


def set_egress_policy(policy: EgressPolicy) -> None:
    """Test-only escape (tests and the local demo post to a loopback receiver); nothing an API call reaches.

    Every part is built again, so the channels built with the old policy go.
    """
    global _egress
    _egress = policy
    forget_all()


@part
def client(service: Service) -> BaseClient:
    """One boto3 client per service for this process (boto3 is untyped: the client's calls are not checked)."""
    cfg = get_config()
    # S3 presigned URLs: botocore's default for this client is SigV2 (query `Signature=`, refused by buckets
    # created since 2020 and in every newer region); SigV4 is the one S3 accepts everywhere.
    config = Config(signature_version="s3v4") if service == "s3" else None
    if service in ("ses", "sns"):
        # No botocore retries for the message providers: a send retried after its answer was lost reaches the
        # customer twice. channels.provider retries only what provably did not send.
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    made: BaseClient = boto3.client(service, region_name=cfg.region, endpoint_url=cfg.endpoint_url, config=config)
    return made


@part
def repo(kind: str) -> DefinitionRepo:
    """The definitions repository of one kind (KEY, COUPON, CAMPAIGN, ...)."""
    return DefinitionRepo(kind)


@part
def tenancy_service() -> TenancyService:
    return TenancyService(repo("MERCHANT"), DefinitionRepo("KEY", KeyItem), repo("SETTINGS"), clock())


@part
def sender_registry() -> SenderRegistry:
    """E-mail and SMS senders an operator registered per merchant (checked on PUT /v1/settings and every send)."""
    return SenderRegistry(repo("SENDER"), repo("SENDER_OWNER"), clock())


def merchant_settings(merchant_id: str) -> MerchantSettings:
    """The merchant's current settings, read now (channels read sender, webhook and limits from it)."""
    return tenancy_service().settings(merchant_id)[0]


def timezone_of(merchant_id: str) -> str:
    """The merchant's IANA time zone, read now."""
    return merchant_settings(merchant_id).timezone


@part
def settings_cache() -> TtlCache[str, MerchantSettings]:
    """The one cache of merchant settings (monotonic time: a simulated clock must not pin it)."""
    return TtlCache(SETTINGS_TTL_SECONDS)


def cached_settings(merchant_id: str) -> MerchantSettings:
    """Merchant settings read at most once a minute per process (workers per chunk, the stream per batch)."""
    return settings_cache().get(merchant_id, merchant_settings)


def cached_timezone_of(merchant_id: str) -> str:
    return cached_settings(merchant_id).timezone


@part
def template_cache() -> TtlCache[tuple[str, str], Record | None]:
    """Coupon templates by (merchant, coupon), as dispatch and the guardrails read them per chunk."""
    return TtlCache(TEMPLATES_TTL_SECONDS)


def cached_coupon(merchant_id: str, coupon_id: str, *, fresh: bool = False) -> Record | None:
    """A coupon template's record, at most a minute old (`fresh`: read now, and cached from now on)."""
    return template_cache().get((merchant_id, coupon_id), lambda key: repo("COUPON").get(*key), fresh=fresh)
