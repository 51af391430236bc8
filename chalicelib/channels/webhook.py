"""Merchant webhook channel: signed HTTPS POST of a batch of deliveries, retried with exponential back-off."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from chalicelib.channels.base import NO_CONSENT, Addressee, Message, Outcome
from chalicelib.channels.breaker import Breaker
from chalicelib.channels.pinned_http import Answer, post
from chalicelib.core.clock import Clock, to_iso
from chalicelib.core.egress import PUBLIC, EgressPolicy, Refused, Target, check_url
from chalicelib.tenancy.model import MerchantSettings

log = logging.getLogger(__name__)
BACKOFF_SECONDS: tuple[float, ...] = (0.2, 0.4, 0.8)
DEADLINE_SECONDS = 5.0  # one POST, resolution to status line
BUDGET_SECONDS = 10.0  # every attempt of one POST together: a dispatch batch of 5 chunks × 2 POSTs ≤ 120 s
MIN_ATTEMPT_SECONDS = 0.5
RECIPIENTS_PER_POST = 100
RETRYABLE = frozenset({408, 429})
WEBHOOK_FAILED = "webhook_failed"  # the only failure reason a tenant sees for a delivery that was attempted


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` over "<timestamp>.<body>"."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def payload(merchant_id: str, sent_at: str, batch: Sequence[tuple[Addressee, Message]]) -> bytes:
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
    """One signed POST per merchant per send of up to 100 recipients; bounded retries inside a total budget.

    Payload (JSON, UTF-8):

        {"type": "marketing.deliveries", "version": 1, "merchant_id": "m_…", "sent_at": "2026-11-23T04:00:00Z",
         "deliveries": [{"delivery_key": "…", "campaign_id": "…", "run_id": "…",
                         "customer": {"customer_id": "…", "nickname": "…"},
                         "text": "…", "subject": null, "links": {…}, "attachments": [{"type", "url", …}],
                         "coupons": [{"instance_id", "coupon_id", "name", "value_text", "claim_link"}]}]}

    Headers: `X-Timestamp` (unix seconds), `X-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed
    with the merchant's webhook_secret>`, `X-Delivery-Id` (stable across retries: deduplicate on it).

    Outbound safety (docs/channels.md): the URL must be public HTTPS without userinfo; the name is resolved at
    send time, every address it resolves to must be public, and the POST goes to exactly the checked address
    (SNI and Host keep the name: no DNS rebinding); redirects are failures. Each POST has a total deadline
    (`deadline`, connect to status line) and a send's retries share `budget` seconds, so one merchant's slow
    endpoint holds a dispatch batch for at most `budget` per POST. Any 2xx is success; 408, 429, 5xx, timeouts
    and network errors are retried (0.2 s, 0.4 s, 0.8 s) and then open the merchant's breaker: its recipients
    wait (pending) until the back-off ends instead of failing. Other answers fail at once. The tenant sees one
    reason, `webhook_failed`; status codes, addresses and errors go only to our logs.
    """

    name = "webhook"

    def __init__(self, settings_of: Callable[[str], MerchantSettings], clock: Clock, *,
                 breaker: Breaker | None = None, policy: EgressPolicy = PUBLIC,
                 sleep: Callable[[float], None] = time.sleep, backoff: Sequence[float] = BACKOFF_SECONDS,
                 deadline: float = DEADLINE_SECONDS, budget: float = BUDGET_SECONDS,
                 tls: ssl.SSLContext | None = None) -> None:
        self._settings = settings_of
        self._clock = clock
        self._breaker = breaker
        self._policy = policy
        self._sleep = sleep
        self._backoff = tuple(backoff)
        self._deadline = deadline
        self._budget = budget
        self._tls = tls
        self.attempts = 0  # requests made by the last send (observability and tests)

    def check(self, recipient: Addressee, message: Message, settings: MerchantSettings | None) -> str | None:
        """The merchant's endpoint and secret must be set (dispatch asks before anything is committed)."""
        if settings is not None and not settings.webhook_url:
            return "no_webhook_url"
        if settings is not None and not settings.webhook_secret:
            return "no_webhook_secret"
        return None

    def send(self, batch: list[tuple[Addressee, Message]]) -> list[Outcome]:
        self.attempts = 0
        results: dict[int, Outcome] = {}
        groups: dict[str, list[int]] = {}
        for index, (recipient, _) in enumerate(batch):
            if recipient.consents_to(self.name):
                groups.setdefault(recipient.merchant_id, []).append(index)
            else:
                results[index] = Outcome(recipient.customer_id, False, NO_CONSENT)
        for merchant_id, indexes in groups.items():
            for i, outcome in zip(indexes, self._send_merchant(merchant_id, [batch[i] for i in indexes]),
                                  strict=True):
                results[i] = outcome
        return [results[i] for i in range(len(batch))]

    def _send_merchant(self, merchant_id: str, items: list[tuple[Addressee, Message]]) -> list[Outcome]:
        settings = self._settings(merchant_id)

        def every(reason: str, retry_at: datetime | None = None) -> list[Outcome]:
            return [Outcome(r.customer_id, False, reason, retry_at=retry_at) for r, _ in items]

        if not settings.webhook_url:
            return every("no_webhook_url")
        if not settings.webhook_secret:
            return every("no_webhook_secret")
        try:
            target = check_url(settings.webhook_url, self._policy)
        except Refused as exc:
            log.warning("webhook url refused", extra={"merchant_id": merchant_id, "detail": str(exc)})
            return every(WEBHOOK_FAILED)
        now = self._clock()
        state = self._breaker.state(merchant_id) if self._breaker else None
        until = self._breaker.open_until(state, now) if self._breaker and state else None
        if until is not None:
            return every(WEBHOOK_FAILED, until)
        out: list[Outcome] = []
        for start in range(0, len(items), RECIPIENTS_PER_POST):
            part = items[start:start + RECIPIENTS_PER_POST]
            if until is not None:  # the endpoint failed earlier in this send: the rest waits with it
                out += [Outcome(r.customer_id, False, WEBHOOK_FAILED, retry_at=until) for r, _ in part]
                continue
            verdict, delivery_id = self._post(merchant_id, settings, target, part)
            if verdict == "ok":
                out += [Outcome(r.customer_id, True, None, delivery_id) for r, _ in part]
            elif verdict == "transient" and self._breaker is not None and state is not None:
                until = self._breaker.failed(merchant_id, state, self._clock())
                out += [Outcome(r.customer_id, False, WEBHOOK_FAILED, retry_at=until) for r, _ in part]
            else:
                out += [Outcome(r.customer_id, False, WEBHOOK_FAILED) for r, _ in part]
        if self._breaker is not None and state is not None and until is None:
            self._breaker.succeeded(merchant_id, state, self._clock())
        return out

    def _post(self, merchant_id: str, settings: MerchantSettings, target: Target,
              part: list[tuple[Addressee, Message]]) -> tuple[str, str]:
        """("ok" | "transient" | "permanent", delivery id) after the retries the budget allows."""
        started = time.monotonic()
        secret = settings.webhook_secret or ""
        body = payload(merchant_id, to_iso(self._clock()), part)
        delivery_id = hashlib.sha256("\n".join(m.delivery_key for _, m in part).encode()).hexdigest()[:32]
        verdict, answer = "transient", None
        for attempt in range(len(self._backoff) + 1):
            if attempt:
                pause = self._backoff[attempt - 1]
                if self._budget - (time.monotonic() - started) < pause + MIN_ATTEMPT_SECONDS:
                    break
                self._sleep(pause)
            left = self._budget - (time.monotonic() - started)
            if left < MIN_ATTEMPT_SECONDS:
                break
            self.attempts += 1
            timestamp = str(int(self._clock().timestamp()))
            headers = {"Content-Type": "application/json; charset=utf-8",
                       "User-Agent": "precision-marketing-webhook/1", "X-Timestamp": timestamp,
                       "X-Signature": sign(secret, timestamp, body), "X-Delivery-Id": delivery_id}
            answer = post(target, body, headers, min(self._deadline, left), policy=self._policy, context=self._tls)
            verdict = _verdict(answer)
            if verdict != "transient":
                break
        if verdict != "ok":
            log.warning("webhook delivery failed", extra={
                "merchant_id": merchant_id, "delivery_id": delivery_id, "verdict": verdict,
                "attempts": self.attempts, "status": answer.status if answer else None,
                "error": answer.error if answer else "no time left", "address": answer.address if answer else None})
        return verdict, delivery_id


def _verdict(answer: Answer) -> str:
    if answer.status is not None and 200 <= answer.status < 300:
        return "ok"
    if answer.error is not None and answer.error.startswith("refused"):
        return "permanent"  # the name resolved to a non-public address: no retry reaches it
    if answer.status is None or answer.status >= 500 or answer.status in RETRYABLE:
        return "transient"
    return "permanent"
