"""SMS channel through Amazon SNS publish: E.164 numbers only, opted-out numbers skipped."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chalicelib.channels.base import Addressee, Message, Outcome, send_each
from chalicelib.channels.provider import Refusal, attempt
from chalicelib.core.clock import Clock
from chalicelib.tenancy.model import MerchantSettings

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_SMS_CHARS = 1600  # SNS refuses longer SMS bodies


class SmsChannel:
    """`client` is a boto3 SNS client; settings supply the optional sender id, which must be registered to the
    merchant (tenancy.senders): otherwise the SMS fails with `sender_not_registered`."""

    name = "sms"

    def __init__(self, client: Any, settings_of: Callable[[str], MerchantSettings],
                 sender_allowed: Callable[[str, str], bool], clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self._settings = settings_of
        self._allowed = sender_allowed  # (merchant, sender id): registered to this merchant by an operator

    def check(self, recipient: Addressee, message: Message, settings: MerchantSettings | None) -> str | None:
        """Why this message cannot be sent, known before anything is committed (dispatch asks first)."""
        if not recipient.phone:
            return "no_phone"
        if not E164.match(recipient.phone):
            return "invalid_phone"
        if len(message.text) > MAX_SMS_CHARS:
            return "too_long"
        sender = settings.sms_sender_id if settings is not None else None
        if sender and not self._allowed(recipient.merchant_id, sender):
            return "sender_not_registered"  # unregistered by an operator since it was set
        return None

    def send(self, batch: list[tuple[Addressee, Message]]) -> list[Outcome]:
        senders: dict[str, str | None] = {}

        def one(recipient: Addressee, message: Message) -> Outcome:
            cid, phone = recipient.customer_id, recipient.phone or ""
            refused = self.check(recipient, message, None)
            if refused is not None:
                return Outcome(cid, False, refused)
            if recipient.merchant_id not in senders:
                senders[recipient.merchant_id] = self._settings(recipient.merchant_id).sms_sender_id
            attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Promotional"}}
            sender = senders[recipient.merchant_id]
            if sender and not self._allowed(recipient.merchant_id, sender):
                return Outcome(cid, False, "sender_not_registered")
            if sender:
                attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sender}
            merchant = recipient.merchant_id
            opted = attempt(self.name, merchant, lambda: self._client.check_if_phone_number_is_opted_out(
                phoneNumber=phone), self._clock, sends=False)
            if isinstance(opted, Refusal):
                return Outcome(cid, False, opted.reason, retry_at=opted.retry_at)
            if opted.get("isOptedOut"):
                return Outcome(cid, False, "opted_out")
            sent = attempt(self.name, merchant, lambda: self._client.publish(
                PhoneNumber=phone, Message=message.text, MessageAttributes=attributes), self._clock, sends=True)
            if isinstance(sent, Refusal):
                return Outcome(cid, False, sent.reason, retry_at=sent.retry_at)
            return Outcome(cid, True, None, sent.get("MessageId"))

        return send_each(self.name, batch, one)
