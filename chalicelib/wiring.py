"""Composition of AWS clients, stores and services: cached factories tests can reset or swap."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from time import monotonic
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.activity.consumer import ActivityConsumer, ActivityHook
from chalicelib.activity.store import ActivityStore
from chalicelib.audiences.evaluate import AudienceEngine, merchant_context
from chalicelib.audiences.service import AudienceService
from chalicelib.audiences.store import MedianCache, MemberStore, iter_segment_after
from chalicelib.campaigns.service import CampaignService
from chalicelib.channels.base import Channel
from chalicelib.channels.breaker import Breaker
from chalicelib.channels.inbox import InboxChannel
from chalicelib.channels.inbox_store import InboxStore
from chalicelib.channels.mail import EmailChannel
from chalicelib.channels.sms import SmsChannel
from chalicelib.channels.staff_task import StaffTaskChannel
from chalicelib.channels.wallet import WalletChannel
from chalicelib.channels.webhook import WebhookChannel
from chalicelib.contents.service import ContentService
from chalicelib.core.clock import Clock, system_clock
from chalicelib.core.config import get_config
from chalicelib.core.dynamo import DefinitionRepo, reset_connection
from chalicelib.core.egress import PUBLIC, EgressPolicy
from chalicelib.core.errors import Invalid
from chalicelib.coupons.hook import RedemptionHook
from chalicelib.coupons.service import WalletService
from chalicelib.coupons.store import WalletStore
from chalicelib.coupons.templates import CouponTemplates
from chalicelib.customers.reader import CustomerReader
from chalicelib.customers.service import IngestService
from chalicelib.customers.store import CustomerStore
from chalicelib.staff.service import StaffTaskService
from chalicelib.staff.store import TaskStore
from chalicelib.tenancy.model import MerchantSettings
from chalicelib.tenancy.service import TenancyService

_clock: Clock = system_clock
_egress: EgressPolicy = PUBLIC


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
    """Test-only escape (tests and the local demo post to a loopback receiver); nothing an API call reaches."""
    global _egress
    _egress = policy
    channel_for.cache_clear()


@cache
def client(service: str) -> Any:
    """One boto3 client per service for this process."""
    cfg = get_config()
    # S3 presigned URLs: botocore's default for this client is SigV2 (query `Signature=`, refused by buckets
    # created since 2020 and in every newer region); SigV4 is the one S3 accepts everywhere.
    config = Config(signature_version="s3v4") if service == "s3" else None
    return boto3.client(service, region_name=cfg.region, endpoint_url=cfg.endpoint_url, config=config)


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


ZONE_TTL_SECONDS = 60.0
_zones: dict[str, tuple[float, str]] = {}


def cached_timezone_of(merchant_id: str) -> str:
    """timezone_of, re-read at most once a minute per process: stream batches need it on every batch, and a
    settings change still takes effect within the minute (monotonic: a simulated clock must not pin it)."""
    hit = _zones.get(merchant_id)
    if hit is None or monotonic() - hit[0] > ZONE_TTL_SECONDS:
        hit = (monotonic(), timezone_of(merchant_id))
        _zones[merchant_id] = hit
    return hit[1]


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
    from chalicelib.dispatch import factory as dispatch
    from chalicelib.reports import factory as reports

    # Redemption before attribution: an order's coupon is redeemed before attribution looks at whose it is.
    # Redemption reports the redemptions it accepted to the guardrails' risk facts.
    return [dispatch.trigger_hook(), redemption_hook(), reports.attribution_hook()]


@cache
def activity_consumer() -> ActivityConsumer:
    return ActivityConsumer(customer_store(), cached_timezone_of, clock(), activity_hooks())


def merchant_settings(merchant_id: str) -> MerchantSettings:
    """The merchant's current settings (channels read sender, webhook and limits from it)."""
    return tenancy_service().settings(merchant_id)[0]


@cache
def wallet_store() -> WalletStore:
    return WalletStore()


@cache
def coupon_templates() -> CouponTemplates:
    return CouponTemplates(repo("COUPON"), repo("CAMPAIGN"), wallet_store(), clock())


@cache
def wallet_service() -> WalletService:
    from chalicelib.guardrails import factory as guardrails

    return WalletService(wallet_store(), repo("COUPON"), timezone_of, clock(),
                         claim_ops=lambda inst: guardrails.risk_facts().claim_ops(inst))


@cache
def redemption_hook() -> RedemptionHook:
    """The ActivityHook that redeems coupons named by orders (list it in activity_hooks, before attribution)."""
    from chalicelib.guardrails import factory as guardrails

    return RedemptionHook(wallet_service(),
                          on_redeemed=lambda m, held: guardrails.risk_facts().on_redeemed(m, held))


@cache
def content_service() -> ContentService:
    return ContentService(repo("CONTENT"), repo("CAMPAIGN"), clock())


@cache
def inbox_store() -> InboxStore:
    return InboxStore()


@cache
def staff_service() -> StaffTaskService:
    return StaffTaskService(TaskStore(), clock())


@cache
def channel_for(name: str) -> Channel:
    """The adapter of one channel: wallet, inbox, sms, email, webhook, staff_task."""
    builders: dict[str, Any] = {
        "wallet": WalletChannel,
        "inbox": lambda: InboxChannel(inbox_store(), timezone_of,
                                      lambda m: merchant_settings(m).guardrails.inbox_messages_per_day, clock()),
        "sms": lambda: SmsChannel(client("sns"), merchant_settings),
        "email": lambda: EmailChannel(client("ses"), merchant_settings),
        "webhook": lambda: WebhookChannel(merchant_settings, clock(), breaker=Breaker(repo("BREAKER"), "webhook"),
                                          policy=egress_policy()),
        "staff_task": lambda: StaffTaskChannel(staff_service()),
    }
    if name not in builders:
        raise Invalid(f"unknown channel {name!r}; one of {', '.join(builders)}", field="channel")
    channel: Channel = builders[name]()
    return channel


@cache
def campaign_service() -> CampaignService:
    from chalicelib.guardrails import factory as guardrails

    return CampaignService(repo("CAMPAIGN"), repo("COUPON"), repo("CONTENT"), repo("AUDIENCE"),
                           merchant_settings, clock(), hooks=dispatch_lifecycle, admission=guardrails.admission)


@cache
def audience_members() -> MemberStore:
    return MemberStore(customer_store().shards)


@cache
def audience_engine() -> AudienceEngine:
    """Audience evaluation; the plan worker calls resolve_target_segment / iter_members on it."""
    return AudienceEngine(customer_store(), audience_members(), MedianCache(), repo("AUDIENCE"),
                          lambda m: merchant_context(merchant_settings(m)), iter_segment_after)


@cache
def audience_service() -> AudienceService:
    return AudienceService(repo("AUDIENCE"), repo("CAMPAIGN"), audience_engine(), audience_members(),
                           customer_store(), clock())


def tick_service() -> Any:
    from chalicelib.dispatch import factory as dispatch

    return dispatch.tick_service()


def plan_service() -> Any:
    from chalicelib.dispatch import factory as dispatch

    return dispatch.plan_service()


def deliver_service() -> Any:
    from chalicelib.dispatch import factory as dispatch

    return dispatch.deliver_service()


def runs_service() -> Any:
    from chalicelib.dispatch import factory as dispatch

    return dispatch.runs_service()


def dispatch_lifecycle() -> Any:
    from chalicelib.dispatch import factory as dispatch

    return dispatch.lifecycle()


def touch_store() -> Any:
    """Reports' per-customer touches: dispatch calls `touch_store().record_reaches(merchant_id, reaches)`."""
    from chalicelib.reports import factory as reports

    return reports.touch_store()


def report_service() -> Any:
    from chalicelib.reports import factory as reports

    return reports.report_service()


def dashboard_service() -> Any:
    from chalicelib.reports import factory as reports

    return reports.dashboard_service()


def report_exporter() -> Any:
    from chalicelib.reports import factory as reports

    return reports.exporter()


def reset() -> None:
    """Forget every cached client and service (tests switching endpoints)."""
    from chalicelib.dispatch import factory as dispatch
    from chalicelib.reports import factory as reports

    dispatch.reset()
    reports.reset()
    for factory in (client, repo, tenancy_service, customer_store, activity_store, ingest_service, customer_reader,
                    activity_consumer, wallet_store, coupon_templates, wallet_service, redemption_hook, content_service,
                    inbox_store, staff_service, channel_for, campaign_service, audience_members, audience_engine,
                    audience_service):
        factory.cache_clear()
    _zones.clear()
    reset_connection()
