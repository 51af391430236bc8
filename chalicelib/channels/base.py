"""The one channel interface: addressees, messages, per-addressee outcomes, and the Channel protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from chalicelib.coupons.model import CouponInstance
from chalicelib.coupons.terms import value_text
from chalicelib.tenancy.model import MerchantSettings

CHANNEL_NAMES: tuple[str, ...] = ("wallet", "inbox", "sms", "email", "webhook", "staff_task")
# What a profile without an explicit consent entry means (customers.schemas.Consent): SMS and e-mail opt in.
DEFAULT_CONSENT: dict[str, bool] = {"wallet": True, "inbox": True, "sms": False, "email": False, "webhook": True,
                                    "staff_task": True}
DIRECT_CHANNELS = frozenset({"wallet"})
NO_CONSENT = "no_consent"


def issues_direct(channel: str) -> bool:
    """Coupons sent on this channel go straight into the wallet claimed; on every other they wait for a claim."""
    return channel in DIRECT_CHANNELS


@dataclass(frozen=True)
class Addressee:
    """Who a message goes to, with the contact points and per-channel consent the adapters need."""

    merchant_id: str
    customer_id: str
    nickname: str | None = None
    phone: str | None = None
    email: str | None = None
    staff_owner: str | None = None
    consent: Mapping[str, bool] = field(default_factory=dict)

    def consents_to(self, channel: str) -> bool:
        return bool(self.consent.get(channel, False))

    @staticmethod
    def from_profile(merchant_id: str, customer_id: str, doc: Mapping[str, Any] | None) -> Addressee:
        """A recipient from a stored customer profile document (missing consent keys take the defaults)."""
        doc = doc or {}
        consent = {**DEFAULT_CONSENT, **{k: bool(v) for k, v in (doc.get("consent") or {}).items()}}
        return Addressee(merchant_id, customer_id, doc.get("nickname") or None, doc.get("phone") or None,
                         doc.get("email") or None, doc.get("staff_owner") or None, consent)


@dataclass(frozen=True)
class IssuedCoupon:
    """A coupon a message carries (already issued by the dispatcher before the channel is called)."""

    instance_id: str
    coupon_id: str
    name: str
    value_text: str
    claim_link: str | None = None

    @staticmethod
    def of(instance: CouponInstance, claim_link: str | None = None) -> IssuedCoupon:
        return IssuedCoupon(instance.instance_id, instance.coupon_id, instance.terms.name,
                            value_text(instance.terms), claim_link)

    def to_doc(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "coupon_id": self.coupon_id, "name": self.name,
                "value_text": self.value_text, "claim_link": self.claim_link}


@dataclass(frozen=True)
class Message:
    """What is sent to one recipient; delivery_key is unique per (run, customer) and makes sends idempotent."""

    campaign_id: str | None
    run_id: str | None
    delivery_key: str
    text: str
    subject: str | None = None
    coupons: tuple[IssuedCoupon, ...] = ()
    links: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Outcome:
    """One recipient's result: ok, or a failure with a reason code (no_consent, opted_out, webhook_failed, ...).

    `retry_at` set: nothing was sent and the provider asks us to wait (a breaker, a throttle): the recipient
    stays pending and is handed over again then; `reason` is what it fails with if it never goes.
    """

    customer_id: str
    ok: bool
    reason: str | None = None
    provider_id: str | None = None
    retry_at: datetime | None = None


class Channel(Protocol):
    """Every adapter: one outcome per (recipient, message), in the batch's order."""

    name: str

    def send(self, batch: list[tuple[Addressee, Message]]) -> list[Outcome]: ...


@runtime_checkable
class Prechecked(Protocol):
    """An adapter that can tell, before anything is committed, that a message cannot be sent (no phone, no
    sender, no endpoint...): dispatch then records the failure without issuing coupons or using up a limit."""

    def check(self, recipient: Addressee, message: Message, settings: MerchantSettings | None) -> str | None: ...


def send_each(name: str, batch: Iterable[tuple[Addressee, Message]],
              one: Callable[[Addressee, Message], Outcome]) -> list[Outcome]:
    """Per-recipient sending with the consent check every adapter makes (the dispatcher checks too)."""
    return [one(r, m) if r.consents_to(name) else Outcome(r.customer_id, False, NO_CONSENT) for r, m in batch]


def render_values(recipient: Addressee, store_name: str, coupons: Iterable[IssuedCoupon],
                  links: Mapping[str, str]) -> dict[str, str | None]:
    """Values for contents.render: several coupons are listed together, the first one's claim link leads."""
    carried = list(coupons)
    claim = links.get("claim_link") or next((c.claim_link for c in carried if c.claim_link), None)
    return {
        "nickname": recipient.nickname, "store_name": store_name or None,
        "coupon_name": "、".join(c.name for c in carried) or None,
        "coupon_value": "、".join(c.value_text for c in carried) or None,
        "claim_link": claim, "unsubscribe_link": links.get("unsubscribe_link"),
    }

