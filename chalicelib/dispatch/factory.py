"""The dispatch pipeline's cached factories (wiring delegates here; tests swap the channel or policy)."""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from functools import cache
from typing import Any

from chalicelib import wiring
from chalicelib.audiences.evaluate import merchant_context
from chalicelib.core.dynamo import commit
from chalicelib.dispatch.adapters import ChannelAdapter, CustomerPages, MerchantEnv, SqsQueues, campaign_gate
from chalicelib.dispatch.coupon_ops import WalletCoupons
from chalicelib.dispatch.deliver import DeliverService
from chalicelib.dispatch.due_store import DueStore
from chalicelib.dispatch.lifecycle import DispatchLifecycle
from chalicelib.dispatch.plan import PlanService
from chalicelib.dispatch.policy import GuardrailPolicy
from chalicelib.dispatch.ports import ChannelPort
from chalicelib.dispatch.runs import RunsService
from chalicelib.dispatch.store import RunStore
from chalicelib.dispatch.targets import TargetResolver
from chalicelib.dispatch.tick import TickService
from chalicelib.dispatch.triggers import TriggerHook
from chalicelib.tenancy.model import MerchantSettings

SETTINGS_TTL = 60.0
# Channels whose adapters dedupe on the delivery key: a crash after handing over may safely resend.
IDEMPOTENT_CHANNELS = frozenset({"wallet", "inbox", "staff_task", "webhook"})

_settings: dict[str, tuple[float, MerchantSettings]] = {}
channel_overrides: dict[str, ChannelPort] = {}  # tests put recording channels here
policy_override: list[GuardrailPolicy] = []


def settings_of(merchant_id: str) -> MerchantSettings:
    """Merchant settings cached a minute per process: workers read them per chunk, not per request."""
    hit = _settings.get(merchant_id)
    if hit is None or _time.monotonic() - hit[0] > SETTINGS_TTL:
        hit = (_time.monotonic(), wiring.merchant_settings(merchant_id))
        _settings[merchant_id] = hit
    return hit[1]


def timezone_of(merchant_id: str) -> str:
    return settings_of(merchant_id).timezone


@cache
def due_store() -> DueStore:
    return DueStore()


@cache
def run_store() -> RunStore:
    return RunStore()


@cache
def queues() -> SqsQueues:
    return SqsQueues(wiring.client("sqs"))


@cache
def coupons() -> WalletCoupons:
    return WalletCoupons(wiring.repo("COUPON"), wiring.wallet_store(), timezone_of)


def policy() -> GuardrailPolicy:
    """The guardrails of SPEC §8 (tests may put AllowAll or another policy into `policy_override`)."""
    if policy_override:
        return policy_override[0]
    from chalicelib.guardrails import factory as guardrails

    return guardrails.policy()


def channel_for(name: str) -> ChannelPort:
    if name in channel_overrides:
        return channel_overrides[name]
    return ChannelAdapter(wiring.channel_for(name), name in IDEMPOTENT_CHANNELS, wiring.repo("COUPON"),
                          render=wiring.content_service().render, settings_of=settings_of)


@cache
def tick_service() -> TickService:
    return TickService(due_store(), run_store(), commit, queues(), wiring.repo("CAMPAIGN"), timezone_of)


@cache
def env() -> MerchantEnv:
    return MerchantEnv(settings_of, TargetResolver(wiring.audience_engine(),
                                                   context_of=lambda m: merchant_context(settings_of(m))))


@cache
def plan_service() -> PlanService:
    return PlanService(run_store(), commit, queues(), due_store(), coupons(), policy(), env())


@cache
def deliver_service() -> DeliverService:
    return DeliverService(run_store(), commit, due_store(), queues(), wiring.repo("CAMPAIGN"), campaign_gate,
                          CustomerPages(wiring.customer_store()), coupons(), channel_for, policy(), timezone_of,
                          env(), reaches=wiring.touch_store())


@cache
def runs_service() -> RunsService:
    return RunsService(run_store())


@cache
def lifecycle() -> DispatchLifecycle:
    return DispatchLifecycle(due_store(), run_store(), queues(), timezone_of, wiring.clock())


@cache
def trigger_hook() -> TriggerHook:
    return TriggerHook(due_store(), wiring.repo("CAMPAIGN"), timezone_of, wiring.clock())


def reset() -> None:
    factories: tuple[Callable[..., Any], ...] = (due_store, run_store, queues, coupons, env, tick_service, plan_service,
                                                 deliver_service, runs_service, lifecycle, trigger_hook)
    for factory in factories:
        factory.cache_clear()  # type: ignore[attr-defined]
    _settings.clear()
    from chalicelib.guardrails import factory as guardrails

    guardrails.reset()
