"""The guardrails' parts: the guard store, the policy dispatch screens with, quota admission and the risk facts."""

from __future__ import annotations

from typing import Any

from chalicelib.guardrails.admission import QuotaAdmission
from chalicelib.guardrails.policy import Guardrails
from chalicelib.guardrails.risk import RiskFacts
from chalicelib.guardrails.store import GuardStore
from chalicelib.wiring.shared import cached_settings, client, merchant_settings, part, repo


def coupon_kind(merchant_id: str, coupon_id: str) -> str | None:
    """The template's kind (store_threshold / item_discount), read now; None when it is gone."""
    record = repo("COUPON").get(merchant_id, coupon_id)
    return str(record.data.get("kind")) if record is not None else None


def saved_rule(merchant_id: str, audience_id: str) -> dict[str, Any] | None:
    """A saved custom audience's rule (the audience quotas count it under the rule's key), read now; None for
    frozen and list audiences, whose members are fixed (they count under their id)."""
    record = repo("AUDIENCE").get(merchant_id, audience_id)
    rule = record.data.get("rule") if record is not None and record.status == "custom" else None
    return rule if isinstance(rule, dict) else None


@part
def guard_store() -> GuardStore:
    return GuardStore(client("dynamodb"))


@part
def policy() -> Guardrails:
    """SPEC §8 as dispatch applies it per chunk (settings cached a minute; it caches coupon kinds itself)."""
    return Guardrails(guard_store(), cached_settings, coupon_kind, saved_rule)


@part
def admission() -> QuotaAdmission:
    """Quotas checked when a campaign is activated (an API request: everything read now)."""
    return QuotaAdmission(guard_store(), merchant_settings, coupon_kind, saved_rule)


@part
def risk_facts() -> RiskFacts:
    return RiskFacts(guard_store(), merchant_settings)
