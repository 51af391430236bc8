"""Merchant webhook channel: signed HTTPS POST of a batch of deliveries, retried with exponential back-off."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.channels.base import NO_CONSENT, Message, Outcome, Recipient
from chalicelib.core.clock import Clock, to_iso
from chalicelib.tenancy.model import MerchantSettings

log = logging.getLogger(__name__)
BACKOFF_SECONDS: tuple[float, ...] = (0.2, 0.4, 0.8)
CHUNK = 100
RETRYABLE = frozenset({408, 429})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` over "<timestamp>.<body>"."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET; treat it as the failure it is."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def payload(merchant_id: str, sent_at: str, batch: Sequence[tuple[Recipient, Message]]) -> bytes:
    deliveries = [{
        "delivery_key": m.delivery_key, "campaign_id": m.campaign_id, "run_id": m.run_id,
        "customer": {"customer_id": r.customer_id, "nickname": r.nickname},
        "text": m.text, "subject": m.subject, "links": dict(m.links),
        "attachments": [dict(a) for a in m.attachments], "coupons": [c.to_doc() for c in m.coupons],
    } for r, m in batch]
    doc = {"type": "marketing.deliveries", "version": 1, "merchant_id": merchant_id, "sent_at": sent_at,
           "deliveries": deliveries}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookChannel:
    """Bounded in-process retries; `sleep` is injectable so tests do not wait.

    Payload (JSON, UTF-8), one POST per merchant per send of up to 100 recipients:

        {"type": "marketing.deliveries", "version": 1, "merchant_id": "m_…", "sent_at": "2026-11-23T04:00:00Z",
         "deliveries": [{"delivery_key": "…", "campaign_id": "…", "run_id": "…",
                         "customer": {"customer_id": "…", "nickname": "…"},
                         "text": "…", "subject": null, "links": {…}, "attachments": [{"type", "url", …}],
                         "coupons": [{"instance_id", "coupon_id", "name", "value_text", "claim_link"}]}]}

    Headers: `X-Timestamp` (unix seconds), `X-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed
    with the merchant's webhook_secret>`, `X-Delivery-Id` (stable across retries: deduplicate on it). Any 2xx
    is success; 408, 429, 5xx and network errors are retried (0.2 s, 0.4 s, 0.8 s), other answers fail at once.
    """

    name = "webhook"

    def __init__(self, settings_of: Callable[[str], MerchantSettings], clock: Clock, *,
                 sleep: Callable[[float], None] = time.sleep, backoff: Sequence[float] = BACKOFF_SECONDS,
                 timeout: float = 5.0) -> None:
        self._settings = settings_of
        self._clock = clock
        self._sleep = sleep
        self._backoff = tuple(backoff)
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)
        self.attempts = 0  # requests made by the last send (observability and tests)

    def send(self, batch: list[tuple[Recipient, Message]]) -> list[Outcome]:
        self.attempts = 0
        results: dict[int, Outcome] = {}
        groups: dict[str, list[int]] = {}
        for index, (recipient, _) in enumerate(batch):
            if recipient.consents_to(self.name):
                groups.setdefault(recipient.merchant_id, []).append(index)
            else:
                results[index] = Outcome(recipient.customer_id, False, NO_CONSENT)
        for merchant_id, indexes in groups.items():
            settings = self._settings(merchant_id)
            for start in range(0, len(indexes), CHUNK):
                chunk = indexes[start:start + CHUNK]
                ok, reason, delivery_id = self._post(merchant_id, settings, [batch[i] for i in chunk])
                for i in chunk:
                    results[i] = Outcome(batch[i][0].customer_id, ok, reason, delivery_id if ok else None)
        return [results[i] for i in range(len(batch))]

    def _post(self, merchant_id: str, settings: MerchantSettings, chunk: list[tuple[Recipient, Message]]
              ) -> tuple[bool, str | None, str | None]:
        if not settings.webhook_url:
            return False, "no_webhook_url", None
        if not settings.webhook_secret:
            return False, "no_webhook_secret", None
        body = payload(merchant_id, to_iso(self._clock()), chunk)
        delivery_id = hashlib.sha256("\n".join(m.delivery_key for _, m in chunk).encode()).hexdigest()[:32]
        reason = "unreachable"
        for attempt in range(len(self._backoff) + 1):
            if attempt:
                self._sleep(self._backoff[attempt - 1])
            self.attempts += 1
            status = self._attempt(settings.webhook_url, settings.webhook_secret, body, delivery_id)
            if status is not None and 200 <= status < 300:
                return True, None, delivery_id
            reason = f"http_{status}" if status is not None else "unreachable"
            if status is not None and status < 500 and status not in RETRYABLE:
                break
        log.warning("webhook delivery failed", extra={"merchant_id": merchant_id, "reason": reason,
                                                      "attempts": attempt + 1, "delivery_id": delivery_id})
        return False, reason, None

    def _attempt(self, url: str, secret: str, body: bytes, delivery_id: str) -> int | None:
        """The HTTP status of one POST, or None when the endpoint could not be reached in time."""
        timestamp = str(int(self._clock().timestamp()))
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "precision-marketing-webhook/1",
            "X-Timestamp": timestamp, "X-Signature": sign(secret, timestamp, body), "X-Delivery-Id": delivery_id})
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, TimeoutError, OSError):
            return None
