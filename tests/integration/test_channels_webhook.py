"""Merchant webhook adapter against real HTTP servers on loopback: signature, retries, deadline, breaker, one reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.channels.base import Addressee, IssuedCoupon, Message
from chalicelib.channels.breaker import Breaker
from chalicelib.channels.webhook import WEBHOOK_FAILED, WebhookChannel
from tests.support.receivers import SECRET, Drip, Hook

pytestmark = pytest.mark.usefixtures("loopback_webhooks")


@pytest.fixture
def hook() -> Iterator[Hook]:
    endpoint = Hook()
    yield endpoint
    endpoint.close()


def configure(api: Any, merchant: Any, url: str | None, secret: str | None = SECRET) -> None:
    body: dict[str, Any] = {"webhook_url": url}
    if secret is not None:
        body["webhook_secret"] = secret
    put = api.put("/v1/settings", body, token=merchant.token)
    assert put.status == 200, put.text


def channel(sleeps: list[float], **options: Any) -> WebhookChannel:
    from chalicelib import wiring
    return WebhookChannel(wiring.merchant_settings, wiring.clock(), breaker=Breaker(wiring.repo("BREAKER"), "webhook"),
                          policy=wiring.egress_policy(), sleep=sleeps.append, deadline=2.0, **options)


def batch(merchant: Any, *ids: str, consent: bool = True) -> list[tuple[Addressee, Message]]:
    coupon = IssuedCoupon("ci_1", "cp_1", "满30减5", "满30元减5元", "https://s.example/c/ci_1")
    return [(Addressee(merchant.id, cid, nickname="n" + cid, consent={"webhook": consent}),
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
    assert hook.requests[0]["host"] == f"127.0.0.1:{hook.port}" and hook.requests[0]["path"] == "/hook"
    doc = hook.requests[-1]["body"]
    assert (doc["type"], doc["version"], doc["merchant_id"], doc["sent_at"]) == (
        "marketing.deliveries", 1, merchant.id, "2026-11-23T04:00:00Z")
    first = doc["deliveries"][0]
    assert first["customer"] == {"customer_id": "c1", "nickname": "nc1"} and first["delivery_key"] == "run1:c1"
    assert first["coupons"][0]["instance_id"] == "ci_1" and first["text"] == "hello c1"


def test_failing_endpoint_defers_its_recipients_and_backs_the_merchant_off_until_a_probe_succeeds(
        api: Any, merchant: Any, clock: Any, hook: Hook) -> None:
    configure(api, merchant, hook.url)
    hook.statuses = [500]
    sleeps: list[float] = []
    adapter = channel(sleeps)
    outcomes = adapter.send(batch(merchant, "c1"))
    retry_at = clock.now + timedelta(seconds=60)
    assert [(o.ok, o.reason, o.provider_id, o.retry_at) for o in outcomes] == [(False, WEBHOOK_FAILED, None,
                                                                                 retry_at)]
    assert adapter.attempts == 4 and len(hook.requests) == 4 and sleeps == [0.2, 0.4, 0.8]
    # Open: nothing is sent while the back-off lasts, and the recipients keep waiting for the same instant.
    again = adapter.send(batch(merchant, "c2"))
    assert adapter.attempts == 0 and len(hook.requests) == 4 and again[0].retry_at == retry_at
    # The probe after the back-off fails too: twice as long.
    clock.set(retry_at + timedelta(seconds=1))
    assert adapter.send(batch(merchant, "c2"))[0].retry_at == clock.now + timedelta(seconds=120)
    clock.set(clock.now + timedelta(seconds=121))
    hook.statuses = [200]
    assert adapter.send(batch(merchant, "c2"))[0].ok is True
    from chalicelib import wiring
    stored = Breaker(wiring.repo("BREAKER"), "webhook").state(merchant.id)
    assert (stored.failures, stored.open_until) == (0, None)


def test_breaker_is_per_merchant_so_a_failing_endpoint_never_holds_another_merchants_sends(
        api: Any, merchant: Any, other_merchant: Any, clock: Any, hook: Hook) -> None:
    healthy = Hook()
    try:
        configure(api, merchant, hook.url)
        configure(api, other_merchant, healthy.url)
        hook.statuses = [503]
        adapter = channel([])
        adapter.send(batch(merchant, "a1"))
        mixed = adapter.send(batch(merchant, "a2") + batch(other_merchant, "b1"))
        assert [(o.customer_id, o.ok, o.retry_at is not None) for o in mixed] == [("a2", False, True),
                                                                                  ("b1", True, False)]
        assert adapter.attempts == 1 and len(healthy.requests) == 1
    finally:
        healthy.close()


def test_webhook_does_not_retry_a_client_error(api: Any, merchant: Any, clock: Any, hook: Hook) -> None:
    configure(api, merchant, hook.url)
    hook.statuses = [422]
    sleeps: list[float] = []
    outcomes = channel(sleeps).send(batch(merchant, "c1"))
    assert (outcomes[0].reason, outcomes[0].retry_at) == (WEBHOOK_FAILED, None)
    assert len(hook.requests) == 1 and sleeps == []


def test_wrong_secret_is_rejected_by_the_receiver(api: Any, merchant: Any, clock: Any, hook: Hook) -> None:
    configure(api, merchant, hook.url, secret="another-secret-of-16+")
    outcomes = channel([]).send(batch(merchant, "c1"))
    assert outcomes[0].reason == WEBHOOK_FAILED and hook.requests[0]["valid"] is False


def test_webhook_skips_recipients_without_consent_and_merchants_without_a_url(api: Any, merchant: Any, clock: Any,
                                                                              hook: Hook) -> None:
    configure(api, merchant, hook.url)
    outcomes = channel([]).send(batch(merchant, "c1", consent=False) + batch(merchant, "c2"))
    assert [(o.customer_id, o.ok, o.reason) for o in outcomes] == [("c1", False, "no_consent"), ("c2", True, None)]
    assert [d["customer"]["customer_id"] for d in hook.requests[0]["body"]["deliveries"]] == ["c2"]
    configure(api, merchant, None)
    assert channel([]).send(batch(merchant, "c3"))[0].reason == "no_webhook_url"


def test_unreachable_endpoint_waits_after_bounded_retries(api: Any, merchant: Any, clock: Any, hook: Hook) -> None:
    url = hook.url
    hook.close()
    configure(api, merchant, url)
    sleeps: list[float] = []
    outcomes = channel(sleeps).send(batch(merchant, "c1"))
    assert (outcomes[0].ok, outcomes[0].reason) == (False, WEBHOOK_FAILED) and outcomes[0].retry_at is not None
    assert len(sleeps) == 3


@pytest.mark.parametrize("answer", [404, 500, 302, 401, "closed"])
def test_tenant_sees_one_reason_whatever_the_endpoint_answers(api: Any, merchant: Any, clock: Any, hook: Hook,
                                                              answer: int | str) -> None:
    """No port oracle: `http_404` vs `unreachable` used to tell a tenant what listens where."""
    if answer == "closed":
        hook.close()
    else:
        hook.statuses = [int(answer)]
    configure(api, merchant, hook.url)
    outcome = channel([]).send(batch(merchant, "c1"))[0]
    assert (outcome.ok, outcome.reason) == (False, WEBHOOK_FAILED)


def test_redirects_are_failures_and_never_followed(api: Any, merchant: Any, clock: Any, hook: Hook) -> None:
    elsewhere = Hook()
    try:
        hook.statuses = [307]
        hook.location = elsewhere.url
        configure(api, merchant, hook.url)
        outcome = channel([]).send(batch(merchant, "c1"))[0]
        assert (outcome.ok, outcome.reason, outcome.retry_at) == (False, WEBHOOK_FAILED, None)
        assert len(hook.requests) == 1 and elsewhere.requests == []
    finally:
        elsewhere.close()


def test_a_receiver_dripping_bytes_is_cut_at_the_total_deadline(api: Any, merchant: Any, clock: Any) -> None:
    """Each byte comes well inside any per-read timeout; only a deadline over the whole request stops it."""
    drip = Drip(interval=0.3, total=6.0)
    try:
        configure(api, merchant, drip.url)
        from chalicelib import wiring
        adapter = WebhookChannel(wiring.merchant_settings, wiring.clock(), policy=wiring.egress_policy(),
                                 sleep=lambda _: None, deadline=1.0, budget=2.5)
        started = time.monotonic()
        outcome = adapter.send(batch(merchant, "c1"))[0]
        elapsed = time.monotonic() - started
        assert (outcome.ok, outcome.reason) == (False, WEBHOOK_FAILED)
        assert elapsed < 3.5, f"the send took {elapsed:.1f}s against a 2.5 s budget"
        assert 1 <= adapter.attempts <= 3
    finally:
        drip.close()


def test_webhook_budget_per_chunk_stays_well_inside_the_dispatch_lambda() -> None:
    """A dispatch batch of chunks to failing endpoints must end long before the worker's timeout and lease."""
    import json
    from pathlib import Path

    from chalicelib.channels import webhook
    from chalicelib.core.resources import QUEUES
    from chalicelib.dispatch.model import CHUNK_MAX, LEASE_SECONDS

    config = json.loads(Path(__file__).parents[2].joinpath(".chalice", "config.json").read_text())
    timeout = config["stages"]["dev"]["lambda_functions"]["dispatch_worker"]["lambda_timeout"]
    batch_size = next(q.batch_size for q in QUEUES if q.name == "dispatch")
    posts_per_chunk = -(-CHUNK_MAX // webhook.RECIPIENTS_PER_POST)
    worst = batch_size * posts_per_chunk * (webhook.BUDGET_SECONDS + 2.0)  # + name resolution
    assert worst <= timeout / 2 and posts_per_chunk * (webhook.BUDGET_SECONDS + 2.0) <= LEASE_SECONDS / 4
