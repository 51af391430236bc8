"""The guardrails package's cached factories (dispatch.factory and wiring call these)."""

from __future__ import annotations

from functools import cache

from chalicelib import wiring
from chalicelib.guardrails.admission import QuotaAdmission
from chalicelib.guardrails.hooks import RiskFacts
from chalicelib.guardrails.policy import Guardrails
from chalicelib.guardrails.store import GuardStore
from chalicelib.tenancy.model import MerchantSettings


def settings_of(merchant_id: str) -> MerchantSettings:
    from chalicelib.dispatch import factory as dispatch

    return dispatch.settings_of(merchant_id)  # cached a minute per process


def coupon_kind(merchant_id: str, coupon_id: str) -> str | None:
    record = wiring.repo("COUPON").get(merchant_id, coupon_id)
    return str(record.data.get("kind")) if record is not None else None


@cache
def guard_store() -> GuardStore:
    return GuardStore(wiring.client("dynamodb"))


@cache
def policy() -> Guardrails:
    return Guardrails(guard_store(), settings_of, coupon_kind)


@cache
def admission() -> QuotaAdmission:
    return QuotaAdmission(guard_store(), wiring.merchant_settings, coupon_kind)


@cache
def risk_facts() -> RiskFacts:
    return RiskFacts(guard_store(), wiring.merchant_settings)


def reset() -> None:
    for factory in (guard_store, policy, admission, risk_facts):
        factory.cache_clear()
