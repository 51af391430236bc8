"""The parts of the request-side packages: customers, coupons, contents, staff tasks, channels and audiences."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.activity.store import ActivityStore
from chalicelib.audiences.evaluate import AudienceEngine, merchant_context
from chalicelib.audiences.service import AudienceService
from chalicelib.audiences.store import MedianCache, MemberStore
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
from chalicelib.core.config import get_config
from chalicelib.core.errors import Invalid
from chalicelib.coupons.hook import RedemptionHook
from chalicelib.coupons.service import WalletService
from chalicelib.coupons.store import WalletStore
from chalicelib.coupons.templates import CouponTemplates
from chalicelib.customers.reader import CustomerReader
from chalicelib.customers.service import IngestService
from chalicelib.customers.store import CustomerStore
from chalicelib.staff.model import StaffTask
from chalicelib.staff.service import StaffTaskService
from chalicelib.staff.store import TaskStore
from chalicelib.wiring import guardrails
from chalicelib.wiring.shared import (
    client,
    clock,
    egress_policy,
    merchant_settings,
    part,
    repo,
    sender_registry,
    timezone_of,
)


@part
def customer_store() -> CustomerStore:
    return CustomerStore(get_config().customer_shards)


@part
def activity_store() -> ActivityStore:
    return ActivityStore()


@part
def ingest_service() -> IngestService:
    return IngestService(customer_store(), activity_store(), clock())


@part
def customer_reader() -> CustomerReader:
    return CustomerReader(customer_store(), timezone_of, clock())


@part
def wallet_store() -> WalletStore:
    return WalletStore()


@part
def coupon_templates() -> CouponTemplates:
    return CouponTemplates(repo("COUPON"), repo("CAMPAIGN"), wallet_store(), clock())


@part
def wallet_service() -> WalletService:
    """Claims are recorded as risk facts in the claim's own transaction."""
    return WalletService(wallet_store(), repo("COUPON"), timezone_of, clock(),
                         claim_ops=guardrails.risk_facts().claim_ops)


@part
def redemption_hook() -> RedemptionHook:
    """The ActivityHook redeeming coupons named by orders; accepted redemptions become risk facts."""
    return RedemptionHook(wallet_service(), on_redeemed=guardrails.risk_facts().on_redeemed)


@part
def content_service() -> ContentService:
    return ContentService(repo("CONTENT"), repo("CAMPAIGN"), clock())


@part
def inbox_store() -> InboxStore:
    return InboxStore()


def _release_task(task: StaffTask) -> None:
    """A completed task frees its plan's staff-side limit for the customer (guardrails.rules.STAFF_TASK_OPEN)."""
    guardrails.guard_store().release_task(task.merchant_id, task.customer_id, task.campaign_id or "",
                                          task.delivery_key or "")


@part
def staff_service() -> StaffTaskService:
    return StaffTaskService(TaskStore(), clock(), on_completed=_release_task)


def _inbox_limit(merchant_id: str) -> int:
    return merchant_settings(merchant_id).guardrails.inbox_messages_per_day


CHANNELS: dict[str, Callable[[], Channel]] = {
    "wallet": WalletChannel,
    "inbox": lambda: InboxChannel(inbox_store(), timezone_of, _inbox_limit, clock()),
    "sms": lambda: SmsChannel(client("sns"), merchant_settings, sender_registry().sms_allowed, clock()),
    "email": lambda: EmailChannel(client("ses"), merchant_settings, sender_registry().email_allowed, clock()),
    "webhook": lambda: WebhookChannel(merchant_settings, clock(), breaker=Breaker(repo("BREAKER"), "webhook"),
                                      policy=egress_policy()),
    "staff_task": lambda: StaffTaskChannel(staff_service()),
}


@part
def channel_for(name: str) -> Channel:
    """The adapter of one channel: wallet, inbox, sms, email, webhook, staff_task."""
    if name not in CHANNELS:
        raise Invalid(f"unknown channel {name!r}; one of {', '.join(CHANNELS)}", field="channel")
    return CHANNELS[name]()


@part
def audience_members() -> MemberStore:
    return MemberStore(customer_store().shards)


@part
def audience_engine() -> AudienceEngine:
    """Audience evaluation; the plan worker resolves targets through it."""
    return AudienceEngine(customer_store(), audience_members(), MedianCache(), repo("AUDIENCE"),
                          lambda m: merchant_context(merchant_settings(m)), customer_store().iter_shard_after)


@part
def audience_service() -> AudienceService:
    return AudienceService(repo("AUDIENCE"), repo("CAMPAIGN"), audience_engine(), audience_members(),
                           customer_store(), clock())
