"""The composition root: every client, store and service, built once per process and typed.

Layers (tests/unit/test_import_layers.py keeps them so): `shared` (clock, clients, repos, settings caches), then the
factory modules `guardrails`, `services`, `reports`, `dispatch`, each importing only the ones before it; this module
builds what needs them all (campaigns, the activity stream) and re-exports every accessor. Blueprints and Lambda
handlers call these accessors; nothing below them imports the wiring.

Tests replace a part with `monkeypatch.setattr(<factory module>, "<factory>", replacement)` and then `reset()`
(tests/conftest.py: the `allow_all` and `substitute` fixtures); `reset()` alone rebuilds everything (tests switching
endpoints).
"""

from __future__ import annotations

from chalicelib.activity.consumer import ActivityConsumer, ActivityHook
from chalicelib.campaigns.service import CampaignService
from chalicelib.wiring import dispatch, guardrails, reports, services, shared
from chalicelib.wiring.dispatch import (
    coupons,
    deliver_service,
    due_store,
    plan_service,
    queues,
    run_store,
    runs_service,
    skip_store,
    tick_service,
    trigger_hook,
)
from chalicelib.wiring.dispatch import lifecycle as dispatch_lifecycle
from chalicelib.wiring.guardrails import admission, guard_store, risk_facts
from chalicelib.wiring.reports import (
    attribution_hook,
    coupon_source,
    dashboard_service,
    delivery_log,
    delivery_source,
    reach_log,
    report_exporter,
    report_service,
    stats_store,
)
from chalicelib.wiring.services import (
    activity_store,
    audience_engine,
    audience_members,
    audience_service,
    channel_for,
    content_service,
    coupon_templates,
    customer_reader,
    customer_store,
    inbox_store,
    ingest_service,
    redemption_hook,
    staff_service,
    wallet_service,
    wallet_store,
)
from chalicelib.wiring.shared import (
    cached_coupon,
    cached_settings,
    cached_timezone_of,
    client,
    clock,
    egress_policy,
    merchant_settings,
    now,
    repo,
    sender_registry,
    set_clock,
    set_egress_policy,
    settings_cache,
    tenancy_service,
    timezone_of,
)

__all__ = [
    "activity_consumer",
    "activity_hooks",
    "activity_store",
    "admission",
    "attribution_hook",
    "audience_engine",
    "audience_members",
    "audience_service",
    "cached_coupon",
    "cached_settings",
    "cached_timezone_of",
    "campaign_service",
    "channel_for",
    "client",
    "clock",
    "content_service",
    "coupon_source",
    "coupon_templates",
    "coupons",
    "customer_reader",
    "customer_store",
    "dashboard_service",
    "deliver_service",
    "delivery_log",
    "delivery_source",
    "dispatch",
    "dispatch_lifecycle",
    "due_store",
    "egress_policy",
    "guard_store",
    "guardrails",
    "inbox_store",
    "ingest_service",
    "merchant_settings",
    "now",
    "plan_service",
    "queues",
    "reach_log",
    "redemption_hook",
    "repo",
    "report_exporter",
    "report_service",
    "reports",
    "reset",
    "risk_facts",
    "run_store",
    "runs_service",
    "sender_registry",
    "services",
    "set_clock",
    "set_egress_policy",
    "settings_cache",
    "shared",
    "skip_store",
    "staff_service",
    "stats_store",
    "tenancy_service",
    "tick_service",
    "timezone_of",
    "trigger_hook",
    "wallet_service",
    "wallet_store"
]


@shared.part
def campaign_service() -> CampaignService:
    """Definitions and the lifecycle; each status change calls dispatch's half, activation checks the quotas."""
    return CampaignService(shared.repo("CAMPAIGN"), shared.repo("COUPON"), shared.repo("CONTENT"),
                           shared.repo("AUDIENCE"), shared.merchant_settings, shared.clock(),
                           hooks=dispatch.lifecycle, admission=guardrails.admission)


def activity_hooks() -> list[ActivityHook]:
    """What runs after customer metrics are folded: behaviour triggers, redemption, attribution.

    Redemption before attribution: an order's coupon is redeemed before attribution looks at whose it is.
    """
    return [dispatch.trigger_hook(), services.redemption_hook(), reports.attribution_hook()]


@shared.part
def activity_consumer() -> ActivityConsumer:
    return ActivityConsumer(services.customer_store(), shared.cached_timezone_of, shared.clock(), activity_hooks())


def reset() -> None:
    """Forget every cached client, store, service and cache: each is built again on next use."""
    shared.forget_all()
