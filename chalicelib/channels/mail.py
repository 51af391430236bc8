"""E-mail channel through Amazon SES send_email, from the merchant's verified sender in settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chalicelib.channels.base import Addressee, Message, Outcome, send_each
from chalicelib.channels.provider import Refusal, attempt
from chalicelib.core.clock import Clock
from chalicelib.tenancy.model import MerchantSettings

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _body(message: Message) -> str:
    """The rendered text, then the attachments as links (they are references, never inlined)."""
    lines = [message.text]
    refs = [f"{a.get('title') or a.get('type')}: {a.get('url')}" for a in message.attachments]
    if refs:
        lines += ["", *refs]
    return "\n".join(lines)


class EmailChannel:
    """`client` is a boto3 SES client; no sender configured means every e-mail fails with `no_sender`, a sender no
    longer registered to the merchant (tenancy.senders) with `sender_not_registered`: SES never sees it."""

    name = "email"

    def __init__(self, client: Any, settings_of: Callable[[str], MerchantSettings],
                 sender_allowed: Callable[[str, str], bool], clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self._settings = settings_of
        self._allowed = sender_allowed  # (merchant, address): registered to this merchant by an operator

    def check(self, recipient: Addressee, message: Message, settings: MerchantSettings | None) -> str | None:
        """Why this e-mail cannot be sent, known before anything is committed (dispatch asks first)."""
        if not recipient.email:
            return "no_address"
        if not EMAIL.match(recipient.email):
            return "invalid_address"
        if settings is not None and not settings.email_sender:
            return "no_sender"
        if settings is not None and not self._allowed(recipient.merchant_id, settings.email_sender or ""):
            return "sender_not_registered"  # unregistered by an operator since it was set
        return None

    def send(self, batch: list[tuple[Addressee, Message]]) -> list[Outcome]:
        settings: dict[str, MerchantSettings] = {}

        def one(recipient: Addressee, message: Message) -> Outcome:
            cid, address = recipient.customer_id, recipient.email or ""
            if recipient.merchant_id not in settings:
                settings[recipient.merchant_id] = self._settings(recipient.merchant_id)
            own = settings[recipient.merchant_id]
            refused = self.check(recipient, message, own)
            if refused is not None:
                return Outcome(cid, False, refused)
            subject = message.subject or own.store_name or "A message for you"
            source = own.email_sender
            sent = attempt(self.name, recipient.merchant_id, lambda: self._client.send_email(
                Source=source, Destination={"ToAddresses": [address]},
                Message={"Subject": {"Data": subject, "Charset": "UTF-8"},
                         "Body": {"Text": {"Data": _body(message), "Charset": "UTF-8"}}}), self._clock, sends=True)
            if isinstance(sent, Refusal):
                return Outcome(cid, False, sent.reason, retry_at=sent.retry_at)
            return Outcome(cid, True, None, sent.get("MessageId"))

        return send_each(self.name, batch, one)
