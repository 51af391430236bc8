"""Sender identities bound to one merchant: e-mail addresses or domains and SMS sender ids an operator registers."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.core.clock import Clock
from chalicelib.core.errors import Conflict, Invalid, NotFound
from chalicelib.core.ports import Repo
from chalicelib.core.records import AlreadyExists

SYSTEM = "_system"  # the owner claims' partition: an identity is claimed once across every merchant
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DOMAIN = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
SMS_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")  # AWS: 1-11 alphanumerics, at least one letter
CACHE_SECONDS = 60.0  # a send checks the registry at most once a minute per worker and sender


class SenderKind(StrEnum):
    EMAIL = "email"  # one address: noreply@shop.example
    EMAIL_DOMAIN = "email_domain"  # every address at a domain the merchant verified in SES
    SMS = "sms"  # an SNS SMS sender id


@dataclass(frozen=True)
class Sender:
    merchant_id: str
    kind: SenderKind
    value: str
    registered_at: str


def normalise(kind: SenderKind, value: str) -> str:
    """The stored form (e-mail addresses and domains lower-case); Invalid when the value cannot be one."""
    text = value.strip()
    if kind is SenderKind.SMS:
        if not SMS_ID.match(text):
            raise Invalid("an SMS sender id is 1-11 letters and digits with at least one letter", field="value")
        return text
    text = text.lower()
    if kind is SenderKind.EMAIL and not EMAIL.match(text):
        raise Invalid("must be an e-mail address", field="value")
    if kind is SenderKind.EMAIL_DOMAIN and not DOMAIN.match(text):
        raise Invalid("must be a domain name", field="value")
    return text


class SenderRegistry:
    """Registered senders per merchant (`SENDER#<kind>:<value>` under the merchant) and their owner claims.

    The claim item (`_system`, `SENDER_OWNER#<kind>:<value>`) makes an identity belong to one merchant: a second
    merchant's registration of it is refused. It holds the owner's id only (like the tick's minute buckets).
    """

    def __init__(self, senders: Repo, owners: Repo, clock: Clock,
                 ticks: Callable[[], float] = time.monotonic) -> None:
        self._senders = senders
        self._owners = owners
        self._clock = clock
        self._ticks = ticks  # monotonic, never the wired clock: a simulated clock must not pin an entry
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}

    def register(self, merchant_id: str, kind: SenderKind, value: str) -> Sender:
        value = normalise(kind, value)
        key = f"{kind.value}:{value}"
        now = self._clock()
        try:
            self._owners.create(SYSTEM, key, {"merchant_id": merchant_id}, now)
        except AlreadyExists as exc:
            if exc.existing.data.get("merchant_id") != merchant_id:
                raise Conflict(f"{kind.value} {value} is registered to another merchant", field="value") from exc
        try:
            record = self._senders.create(merchant_id, key, {"kind": kind.value, "value": value}, now)
        except AlreadyExists as exc:
            record = exc.existing
        self._cache[(merchant_id, key)] = (self._ticks(), True)
        return Sender(merchant_id, kind, value, record.created_at)

    def unregister(self, merchant_id: str, kind: SenderKind, value: str) -> bool:
        """Sends from it stop within CACHE_SECONDS (each worker's cache); True when it was registered."""
        value = normalise(kind, value)
        key = f"{kind.value}:{value}"
        found = self._senders.get(merchant_id, key) is not None
        if found:
            with contextlib.suppress(NotFound):  # a concurrent unregister removed it first
                self._senders.delete(merchant_id, key)
        owner = self._owners.get(SYSTEM, key)
        if owner is not None and owner.data.get("merchant_id") == merchant_id:
            self._owners.delete(SYSTEM, key)
        self._cache[(merchant_id, key)] = (self._ticks(), False)
        return found

    def list(self, merchant_id: str) -> list[Sender]:
        return [Sender(merchant_id, SenderKind(r.data["kind"]), r.data["value"], r.created_at)
                for r in self._senders.iter_all(merchant_id)]

    def email_allowed(self, merchant_id: str, address: str) -> bool:
        """The address itself or its domain is registered to this merchant."""
        address = address.strip().lower()
        domain = address.rpartition("@")[2]
        return self._has(merchant_id, f"{SenderKind.EMAIL.value}:{address}") or \
            self._has(merchant_id, f"{SenderKind.EMAIL_DOMAIN.value}:{domain}")

    def sms_allowed(self, merchant_id: str, sender_id: str) -> bool:
        return self._has(merchant_id, f"{SenderKind.SMS.value}:{sender_id.strip()}")

    def check_settings(self, merchant_id: str, email_sender: str | None, sms_sender_id: str | None) -> None:
        """PUT /v1/settings: a sender named in settings must be registered to this merchant."""
        if email_sender and not self.email_allowed(merchant_id, email_sender):
            raise Invalid(f"{email_sender} is not a sender registered to this merchant; an operator registers it "
                          "with `python -m chalicelib.admin register-sender`", field="body.email_sender")
        if sms_sender_id and not self.sms_allowed(merchant_id, sms_sender_id):
            raise Invalid(f"{sms_sender_id} is not an SMS sender id registered to this merchant; an operator "
                          "registers it with `python -m chalicelib.admin register-sender`",
                          field="body.sms_sender_id")

    def forget(self) -> None:
        """Drop the cached answers (an operator tool or a test that must see a change now, not in a minute)."""
        self._cache.clear()

    def _has(self, merchant_id: str, key: str) -> bool:
        hit = self._cache.get((merchant_id, key))
        if hit is None or self._ticks() - hit[0] > CACHE_SECONDS:
            if len(self._cache) > 10_000:
                self._cache.clear()
            hit = (self._ticks(), self._senders.get(merchant_id, key) is not None)
            self._cache[(merchant_id, key)] = hit
        return hit[1]
