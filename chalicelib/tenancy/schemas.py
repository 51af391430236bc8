"""HTTP bodies of the tenancy routes."""

from __future__ import annotations

from pydantic import Field

from chalicelib.core.auth import Role
from chalicelib.core.basemodel import Model
from chalicelib.core.schemas import Body, partial_model
from chalicelib.tenancy.model import Guardrails, QuietHours, RfmThresholds


class Health(Model):
    status: str
    time: str


class SettingsIn(Body):
    """PUT /v1/settings: the whole document, replaced; a field left out takes its default (omit webhook_secret to
    keep the stored one). PATCH /v1/settings changes only the fields it names."""

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


SettingsPatch = partial_model(SettingsIn, "SettingsPatch")
SettingsPatch.__doc__ = ("PATCH /v1/settings, a JSON Merge Patch (RFC 7396): only the fields given change, nested "
                         "sections merge field by field, null resets a field to its default (clears an optional one)")


class SettingsOut(Model):
    merchant_id: str
    version: int
    store_name: str
    timezone: str
    quiet_hours: QuietHours
    guardrails: Guardrails
    rfm: RfmThresholds
    webhook_url: str | None
    webhook_secret_set: bool
    email_sender: str | None
    sms_sender_id: str | None
    claim_url: str | None
    unsubscribe_url: str | None


class KeyIn(Body):
    role: Role
    staff_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    label: str = Field(default="", max_length=64)


class KeyOut(Model):
    key_id: str
    role: Role
    staff_id: str | None
    label: str
    created_at: str
    revoked_at: str | None


class KeyCreated(KeyOut):
    api_key: str = Field(description="the secret, shown only in this response")


class KeyPage(Model):
    items: list[KeyOut]
    next_cursor: str | None = None
