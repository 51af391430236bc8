"""Merchant settings (a validated value object) and the API-key domain objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, available_timezones

from pydantic import ConfigDict, Field, field_validator, model_validator

from chalicelib.core.auth import Role
from chalicelib.core.basemodel import Model

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# available_timezones() also lists files of the machine's zone directory that are not IANA zones (localtime is the
# host's own setting, posix/ and right/ are copies): a merchant's zone must mean the same on every machine.
# Listed on first use: the listing walks the zone database's files, which a function that checks no zone (all but
# the API) should not pay for at its cold start.
@cache
def _zones() -> frozenset[str]:
    return frozenset(z for z in available_timezones()
                     if z not in {"localtime", "posixrules", "Factory"} and not z.startswith(("posix/", "right/")))


def check_timezone(value: str) -> str:
    """An IANA zone name zoneinfo knows."""
    if value not in _zones():
        raise ValueError(f"unknown IANA time zone {value!r}")
    ZoneInfo(value)
    return value


class Strict(Model):
    """Base for settings sections: unknown keys are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


ChannelName = Literal["wallet", "inbox", "sms", "email", "webhook", "staff_task"]


def _quiet_default() -> list[ChannelName]:
    return ["email", "inbox", "sms"]


class QuietHours(Strict):
    enabled: bool = True
    start: str = Field(default="21:00", description="local HH:MM when quiet hours begin")
    end: str = Field(default="09:00", description="local HH:MM when quiet hours end (sends deferred to it)")
    channels: list[ChannelName] = Field(
        default_factory=_quiet_default, max_length=6,
        description="the channels quiet hours defer: those that reach a person at once. Add webhook when the "
                    "merchant's endpoint notifies customers; a wallet issue (it notifies nobody) and a staff task "
                    "(it waits in the staff member's list) are sent at once unless listed")

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[ChannelName]) -> list[ChannelName]:
        return sorted(set(value))

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not HHMM.match(value):
            raise ValueError("must be HH:MM, 00:00-23:59")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.enabled and self.start == self.end:
            raise ValueError("start and end must differ when quiet hours are enabled")
        return self


class RiskRule(Strict):
    enabled: bool = True
    min_claims: int = Field(default=5, ge=1, le=1000, description="claimed at least this many coupons ...")
    window_days: int = Field(default=30, ge=1, le=365, description="... and redeemed none within this window")


# The per-customer caps a campaign may override: True when a larger value is looser (a cap), False when a smaller
# one is (a cooldown).
CAPS_LARGER_IS_LOOSER: dict[str, bool] = {
    "daily_messages_per_customer": True,
    "coupon_message_cooldown_days": False,
    "weekly_store_coupons_per_customer": True,
    "weekly_item_coupons_per_customer": True,
}


class CampaignCeiling(Strict):
    """How far a campaign's guardrails override may LOOSEN a per-customer cap (issue 18: 004's daily coupons).

    A campaign may set a cap up to the larger of the shop-wide setting and this ceiling (a cooldown down to the
    smaller of the two). The defaults are SPEC §8's: no campaign loosens anything until the merchant raises them.
    """

    daily_messages_per_customer: int = Field(default=1, ge=0, le=100)
    coupon_message_cooldown_days: int = Field(default=5, ge=0, le=60, description="the shortest cooldown a "
                                              "campaign may set")
    weekly_store_coupons_per_customer: int = Field(default=1, ge=0, le=100)
    weekly_item_coupons_per_customer: int = Field(default=1, ge=0, le=100)


class Guardrails(Strict):
    """SPEC §8 defaults; each adjustable per merchant."""

    daily_messages_per_customer: int = Field(default=1, ge=0, le=100)
    coupon_message_cooldown_days: int = Field(default=5, ge=0, le=60)
    weekly_store_coupons_per_customer: int = Field(default=1, ge=0, le=100)
    weekly_item_coupons_per_customer: int = Field(default=1, ge=0, le=100)
    inbox_messages_per_day: int = Field(default=1, ge=0, le=100)
    monthly_store_coupons: int = Field(default=5000, ge=0, le=10_000_000)
    monthly_item_coupons: int = Field(default=5000, ge=0, le=10_000_000)
    audience_sends_per_day: int = Field(default=1, ge=0, le=1000)
    audience_sends_per_month: int = Field(default=60, ge=0, le=10_000)
    max_recipients_per_send: int = Field(default=100_000, ge=1, le=300_000)
    risk: RiskRule = Field(default_factory=RiskRule)
    campaign_ceiling: CampaignCeiling = Field(default_factory=CampaignCeiling, description="the loosest value a "
                                              "campaign's guardrails may give each per-customer cap")

    def loosest(self, name: str) -> int:
        """The loosest value a campaign may give the per-customer cap `name` (a cooldown: the shortest)."""
        setting, ceiling = int(getattr(self, name)), int(getattr(self.campaign_ceiling, name))
        return max(setting, ceiling) if CAPS_LARGER_IS_LOOSER[name] else min(setting, ceiling)

    def effective(self, name: str, override: int | None) -> int:
        """A campaign's value of the cap `name`: its override (stricter, or looser within the ceiling; one past
        the ceiling, say after the merchant lowered it, is held to it), else the shop-wide setting."""
        if override is None:
            return int(getattr(self, name))
        loosest = self.loosest(name)
        return min(override, loosest) if CAPS_LARGER_IS_LOOSER[name] else max(override, loosest)


class RfmThresholds(Strict):
    recent_days: int = Field(default=30, ge=1, le=180)
    frequency_threshold: int = Field(default=2, ge=1, le=1000)
    monetary_threshold_fen: int | None = Field(default=None, ge=0, description="null: the median AOV")


class MerchantSettings(Strict):
    """Everything a merchant can tune; stored whole, versioned for If-Match."""

    store_name: str = Field(default="", max_length=64)
    timezone: str = "Asia/Shanghai"
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    guardrails: Guardrails = Field(default_factory=Guardrails)
    rfm: RfmThresholds = Field(default_factory=RfmThresholds)
    webhook_url: str | None = Field(default=None, max_length=2048)
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=256)
    email_sender: str | None = Field(default=None, max_length=254)
    sms_sender_id: str | None = Field(default=None, max_length=11)
    claim_url: str | None = Field(default=None, max_length=2048,
                                  description="the store's claim page; {instance_id} and {customer_id} are filled in")
    unsubscribe_url: str | None = Field(default=None, max_length=2048,
                                        description="the store's unsubscribe page; {customer_id} and {channel} are "
                                                    "filled in")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        """Shape only: the address policy (public HTTPS) is checked by PUT /v1/settings and again at every send,
        against the wired egress policy (core.egress), so stored settings always load."""
        if value is not None and (not value.startswith(("https://", "http://")) or any(c.isspace() for c in value)):
            raise ValueError("must be an https:// URL")
        return value

    @field_validator("claim_url", "unsubscribe_url")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")) or " " in value:
            raise ValueError("must be an https:// URL (http only on loopback for local testing)")
        unknown = set(re.findall(r"{([^{}]*)}", value)) - {"instance_id", "customer_id", "channel"}
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; allowed: {{instance_id}}, "
                             "{customer_id}, {channel}")
        return value

    def link(self, kind: str, **values: str) -> str | None:
        """The claim or unsubscribe link for one recipient (None when the store has not set the page)."""
        template = self.claim_url if kind == "claim" else self.unsubscribe_url
        if template is None:
            return None
        for name, value in values.items():
            template = template.replace("{" + name + "}", quote(value, safe=""))
        return template

    @field_validator("email_sender")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError("must be an e-mail address")
        return value


@dataclass(frozen=True)
class ApiKey:
    """A stored key: only the hash of its secret is kept."""

    merchant_id: str
    key_id: str
    role: Role
    staff_id: str | None
    secret_hash: str
    label: str
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    name: str
    created_at: str
