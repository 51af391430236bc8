"""Merchant webhook adapter against a real HTTP server on loopback: signature, retries with back-off, failure."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.channels.base import IssuedCoupon, Message, Recipient
from chalicelib.channels.webhook import WebhookChannel

SECRET = "whsec_0123456789abcdef"


class Hook:
    """A loopback endpoint answering a scripted list of statuses (the last one repeats)."""

    def __init__(self) -> None:
        self.statuses = [200]
        self.requests: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-Timestamp"]
                expected = "sha256=" + hmac.new(SECRET.encode(), f"{stamp}.".encode() + body,
                                                hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(expected, self.headers["X-Signature"])
                hook.requests.append({"valid": valid, "body": json.loads(body), "path": self.path,
                                      "delivery_id": self.headers["X-Delivery-Id"]})
                index = min(len(hook.requests) - 1, len(hook.statuses) - 1)
                status = hook.statuses[index] if valid else 401
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    endpoint = Hook()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def configure(api: Any, merchant: Any, url: str | None, secret: str | None = SECRET) -> None:
    body: dict[str, Any] = {"webhook_url": url}
    if secret is not None:
        body["webhook_secret"] = secret
    assert api.put("/v1/settings", body, token=merchant.token).status == 200


def channel(sleeps: list[float]) -> WebhookChannel:
    from chalicelib import wiring
    return WebhookChannel(wiring.merchant_settings, wiring.clock(), sleep=sleeps.append, timeout=2.0)


def batch(merchant: Any, *ids: str, consent: bool = True) -> list[tuple[Recipient, Message]]:
    coupon = IssuedCoupon("ci_1", "cp_1", "满30减5", "满30元减5元", "https://s.example/c/ci_1")
    return [(Recipient(merchant.id, cid, nickname="n" + cid, consent={"webhook": consent}),
             Message("cmp1", "run1", f"run1:{cid}", f"hello {cid}", coupons=(coupon,),
                     links={"claim_link": coupon.claim_link or ""})) for cid in ids]


def test_webhook_retries_with_backoff_and_succeeds_on_the_third_attempt(api: Any, merchant: Any, clock: Any,
                                                                        hook: Hook) -> None:
    configure(api, merchant, hook.url)
    hook.statuses = [500, 500, 200]
    sleeps: list[float] = []
    adapter = channel(sleeps)
    outcomes = adapter.send(batch(merchant, "c1", "c2"))
    assert [(o.customer_id, o.ok, o.reason) for o in outcomes] == [("c1", True, None), ("c2", True, None)]
    assert adapter.attempts == 3 and len(hook.requests) == 3 and sleeps == [0.2, 0.4]
    assert all(r["valid"] for r in hook.requests) and len({r["delivery_id"] for r in hook.requests}) == 1
    assert outcomes[0].provider_id == hook.requests[0]["delivery_id"]
    doc = hook.requests[-1]["body"]
    assert (doc["type"], doc["version"], doc["merchant_id"], doc["sent_at"]) == (
        "marketing.deliveries", 1, merchant.id, "2026-11-23T04:00:00Z")
    first = doc["deliveries"][0]
    assert first["customer"] == {"customer_id": "c1", "nickname": "nc1"} and first["delivery_key"] == "run1:c1"
    assert first["coupons"][0]["instance_id"] == "ci_1" and first["text"] == "hello c1"


def test_webhook_records_the_final_failure_when_the_endpoint_keeps_failing(api: Any, merchant: Any, clock: Any,
                                                                           hook: Hook) -> None:
    configure(api, merchant, hook.url)
    hook.statuses = [500]
    sleeps: list[float] = []
    adapter = channel(sleeps)
    outcomes = adapter.send(batch(merchant, "c1"))
    assert [(o.ok, o.reason, o.provider_id) for o in outcomes] == [(False, "http_500", None)]
    assert adapter.attempts == 4 and len(hook.requests) == 4 and sleeps == [0.2, 0.4, 0.8]


def test_webhook_does_not_retry_a_client_error(api: Any, merchant: Any, clock: Any, hook: Hook) -> None:
    configure(api, merchant, hook.url)
    hook.statuses = [422]
    sleeps: list[float] = []
    outcomes = channel(sleeps).send(batch(merchant, "c1"))
    assert outcomes[0].reason == "http_422" and len(hook.requests) == 1 and sleeps == []


def test_wrong_secret_is_rejected_by_the_receiver(api: Any, merchant: Any, clock: Any, hook: Hook) -> None:
    configure(api, merchant, hook.url, secret="another-secret-of-16+")
    outcomes = channel([]).send(batch(merchant, "c1"))
    assert outcomes[0].reason == "http_401" and hook.requests[0]["valid"] is False


def test_webhook_skips_recipients_without_consent_and_merchants_without_a_url(api: Any, merchant: Any, clock: Any,
                                                                              hook: Hook) -> None:
    configure(api, merchant, hook.url)
    outcomes = channel([]).send(batch(merchant, "c1", consent=False) + batch(merchant, "c2"))
    assert [(o.customer_id, o.ok, o.reason) for o in outcomes] == [("c1", False, "no_consent"), ("c2", True, None)]
    assert [d["customer"]["customer_id"] for d in hook.requests[0]["body"]["deliveries"]] == ["c2"]
    configure(api, merchant, None)
    assert channel([]).send(batch(merchant, "c3"))[0].reason == "no_webhook_url"


def test_unreachable_endpoint_fails_after_bounded_retries(api: Any, merchant: Any, clock: Any, hook: Hook) -> None:
    url = hook.url
    hook.server.shutdown()
    hook.server.server_close()
    configure(api, merchant, url)
    sleeps: list[float] = []
    outcomes = channel(sleeps).send(batch(merchant, "c1"))
    assert (outcomes[0].ok, outcomes[0].reason) == (False, "unreachable") and len(sleeps) == 3
