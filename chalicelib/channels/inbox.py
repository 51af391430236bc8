"""Inbox channel: a customer-service message with claimable coupons, at most N (default 1) a day per person."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.channels.base import Addressee, Message, Outcome, send_each
from chalicelib.core.clock import Clock, to_iso
from chalicelib.coupons.terms import local_date


class InboxPort(Protocol):
    def put_in_slot(self, merchant_id: str, customer_id: str, local_day: str, slot: int,
                    doc: dict[str, Any], now_epoch: int) -> dict[str, Any] | None: ...


def message_id_for(merchant_id: str, delivery_key: str) -> str:
    digest = hashlib.sha256(f"{merchant_id}\x00inbox\x00{delivery_key}".encode()).digest()
    return "im_" + base64.b32encode(digest).decode().lower()[:20]


class InboxChannel:
    """The daily cap holds under concurrency: each day slot is one key, written only if absent."""

    name = "inbox"

    def __init__(self, store: InboxPort, timezone_of: Callable[[str], str], daily_limit_of: Callable[[str], int],
                 clock: Clock) -> None:
        self._store = store
        self._tz = timezone_of
        self._limit = daily_limit_of
        self._clock = clock

    def send(self, batch: list[tuple[Addressee, Message]]) -> list[Outcome]:
        zones: dict[str, str] = {}
        limits: dict[str, int] = {}

        def one(recipient: Addressee, message: Message) -> Outcome:
            m = recipient.merchant_id
            if m not in zones:
                zones[m], limits[m] = self._tz(m), self._limit(m)
            now = self._clock()
            day = local_date(now, zones[m]).isoformat()
            message_id = message_id_for(m, message.delivery_key)
            doc = {
                "message_id": message_id, "customer_id": recipient.customer_id, "local_date": day,
                "sent_at": to_iso(now), "campaign_id": message.campaign_id, "run_id": message.run_id,
                "delivery_key": message.delivery_key, "text": message.text, "subject": message.subject,
                "coupons": [c.to_doc() for c in message.coupons], "links": dict(message.links),
                "attachments": [dict(a) for a in message.attachments],
            }
            for slot in range(1, limits[m] + 1):
                taken = self._store.put_in_slot(m, recipient.customer_id, day, slot, doc, int(now.timestamp()))
                if taken is None or taken.get("delivery_key") == message.delivery_key:
                    return Outcome(recipient.customer_id, True, None, message_id)
            return Outcome(recipient.customer_id, False, "inbox_daily_limit")

        return send_each(self.name, batch, one)
