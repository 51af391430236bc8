"""The dispatch pipeline's parts: stores, queues, coupons, the guardrail policy and channels, and its services.

`guardrail_policy` and `channel_port` are the seams tests replace (docs/conventions.md, *Tests*).
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.audiences.evaluate import merchant_context
from chalicelib.contents.service import Rendered, render_record
from chalicelib.core.cache import TtlCache
from chalicelib.core.dynamo import commit
from chalicelib.core.records import Record
from chalicelib.dispatch.adapters import ChannelAdapter, CustomerPages, MerchantEnv, SqsQueues, campaign_gate
from chalicelib.dispatch.coupon_issuer import CouponIssuer
from chalicelib.dispatch.deliver import DeliverService
from chalicelib.dispatch.due_store import DueStore
from chalicelib.dispatch.lifecycle import DispatchLifecycle
from chalicelib.dispatch.plan import PlanService
from chalicelib.dispatch.ports import ChannelPort
from chalicelib.dispatch.runs import RunsService
from chalicelib.dispatch.screening import GuardrailPolicy
from chalicelib.dispatch.skips import SkipStore
from chalicelib.dispatch.store import RunStore
from chalicelib.dispatch.targets import TargetResolver
from chalicelib.dispatch.tick import TickService
from chalicelib.dispatch.triggers import TriggerHook
from chalicelib.reports.switch import WinnerCheck
from chalicelib.wiring import guardrails, reports, services
from chalicelib.wiring.shared import (
    TEMPLATES_TTL_SECONDS,
    cached_coupon,
    cached_settings,
    cached_timezone_of,
    client,
    clock,
    merchant_settings,
    part,
    repo,
    settings_cache,
)

# Channels whose adapters dedupe on the delivery key: a crash after handing over may safely resend.
IDEMPOTENT_CHANNELS = frozenset({"wallet", "inbox", "staff_task", "webhook"})


@part
def due_store() -> DueStore:
    return DueStore()


@part
def run_store() -> RunStore:
    return RunStore()


@part
def queues() -> SqsQueues:
    return SqsQueues(client("sqs"))


@part
def coupons() -> CouponIssuer:
    return CouponIssuer(cached_coupon, services.wallet_store(), cached_timezone_of)


def guardrail_policy() -> GuardrailPolicy:
    """The guardrails of SPEC §8 (a seam: tests put dispatch.screening.AllowAll or another policy here)."""
    return guardrails.policy()


@part
def content_cache() -> TtlCache[tuple[str, str], Record]:
    """Content templates as dispatch renders them: read once a minute per worker, not once per recipient."""
    return TtlCache(TEMPLATES_TTL_SECONDS)


def cached_render(merchant_id: str, content_id: str, values: Mapping[str, str | None]) -> Rendered:
    record = content_cache().get((merchant_id, content_id), lambda key: services.content_service().get(*key))
    return render_record(record, values)


def channel_port(name: str) -> ChannelPort:
    """Dispatch's port over one channel adapter, rendering the campaign's content (a seam: tests record here)."""
    return ChannelAdapter(services.channel_for(name), name in IDEMPOTENT_CHANNELS, repo("COUPON"),
                          render=cached_render, settings_of=cached_settings,
                          refresh=reload_settings)


def reload_settings(merchant_id: str) -> None:
    """Read a merchant's settings again now (a send about to fail on a setting the merchant may just have set)."""
    settings_cache().get(merchant_id, merchant_settings, fresh=True)


@part
def env() -> MerchantEnv:
    return MerchantEnv(cached_settings, TargetResolver(services.audience_engine(),
                                                       context_of=lambda m: merchant_context(cached_settings(m))))


@part
def tick_service() -> TickService:
    return TickService(due_store(), run_store(), commit, queues(), repo("CAMPAIGN"), cached_timezone_of,
                       WinnerCheck(reports.report_service), reports.delivery_log())


@part
def plan_service() -> PlanService:
    return PlanService(run_store(), commit, queues(), due_store(), coupons(), guardrail_policy(), env(),
                       log=reports.delivery_log())


@part
def deliver_service() -> DeliverService:
    return DeliverService(run_store(), commit, due_store(), queues(), repo("CAMPAIGN"), campaign_gate,
                          CustomerPages(services.customer_store()), coupons(), channel_port, guardrail_policy(),
                          cached_timezone_of, env(), reaches=reports.reach_log(), log=reports.delivery_log())


@part
def runs_service() -> RunsService:
    return RunsService(run_store())


@part
def lifecycle() -> DispatchLifecycle:
    return DispatchLifecycle(due_store(), run_store(), queues(), cached_timezone_of, clock())


@part
def trigger_hook() -> TriggerHook:
    return TriggerHook(due_store(), repo("CAMPAIGN"), cached_timezone_of, clock(), skips=skip_store())


@part
def skip_store() -> SkipStore:
    return SkipStore()
