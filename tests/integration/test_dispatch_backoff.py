"""A merchant whose webhook keeps failing: recipients wait (coupons kept), go once it recovers, fail after a day."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.channels.webhook import WEBHOOK_FAILED
from chalicelib.dispatch.model import Outcome
from tests.support.dispatch import (
    campaign_body,
    ledger_of,
    make_coupon,
    runs_of,
    seed_customers,
    start_campaign,
    tick_and_drain,
    wallet_counts,
)
from tests.support.receivers import SECRET, Hook

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
pytestmark = pytest.mark.usefixtures("loopback_webhooks")


@pytest.fixture
def hook() -> Iterator[Hook]:
    endpoint = Hook()
    yield endpoint
    endpoint.close()


def _start(api: Any, merchant: Any, clock: Any, runtime: Any, hook: Hook, ids: list[str]) -> tuple[str, str]:
    seed_customers(api, merchant, ids)
    assert api.put("/v1/settings", {"webhook_url": hook.url, "webhook_secret": SECRET},
                   token=merchant.token).status == 200
    coupon = make_coupon(api, merchant)
    clock.set(T0)
    runtime.set_time(T0)
    cid = start_campaign(api, merchant, campaign_body(coupon, {"kind": "customers", "customer_ids": ids},
                                                      channel="webhook"))
    tick_and_drain(runtime, T0)
    return cid, runs_of(api, merchant, cid)[0]["run_id"]


def _delivered(hook: Hook) -> Counter[str]:
    """Customers per accepted POST (status 200) the receiver answered."""
    seen: Counter[str] = Counter()
    for index, request in enumerate(hook.requests):
        if request["valid"] and hook.statuses[min(index, len(hook.statuses) - 1)] == 200:
            seen.update(d["customer"]["customer_id"] for d in request["body"]["deliveries"])
    return seen


def test_recipients_wait_while_the_webhook_is_backed_off_and_go_once_when_it_recovers(api: Any, merchant: Any,
                                                                                      clock: Any, runtime: Any,
                                                                                      hook: Hook) -> None:
    ids = ["w1", "w2", "w3"]
    hook.statuses = [500]
    cid, run_id = _start(api, merchant, clock, runtime, hook, ids)
    progress = runs_of(api, merchant, cid)[0]["progress"]
    assert (progress["pending"], progress["failed"], progress["succeeded"]) == (3, 0, 0)
    assert {e.outcome for e in ledger_of(merchant.id, run_id).values()} == {Outcome.RETRY}
    posts = len(hook.requests)
    tick_and_drain(runtime, T0 + timedelta(seconds=30))  # still backed off: no request at all
    assert len(hook.requests) == posts
    hook.statuses = [500] * posts + [200]
    tick_and_drain(runtime, T0 + timedelta(minutes=1, seconds=5))
    run = runs_of(api, merchant, cid)[0]
    assert (run["progress"]["succeeded"], run["progress"]["pending"], run["progress"]["failed"]) == (3, 0, 0)
    assert _delivered(hook) == Counter(ids)  # each customer accepted exactly once
    assert wallet_counts(merchant.id, ids) == dict.fromkeys(ids, 1)  # coupons issued once, kept while waiting


def test_recipients_fail_with_one_code_after_waiting_a_day(api: Any, merchant: Any, clock: Any, runtime: Any,
                                                          hook: Hook) -> None:
    ids = ["d1", "d2"]
    hook.statuses = [503]
    cid, run_id = _start(api, merchant, clock, runtime, hook, ids)
    from chalicelib import wiring
    from chalicelib.channels.breaker import Breaker
    from chalicelib.core.clock import to_iso

    # A long outage: the breaker stays open past a day (as doubling back-offs would make it).
    breaker = Breaker(wiring.repo("BREAKER"), "webhook")
    state = breaker.state(merchant.id)
    until = T0 + timedelta(hours=25)
    wiring.repo("BREAKER").update(merchant.id, "webhook", {"failures": 9, "open_until": to_iso(until)}, T0,
                                  expected_version=state.version)
    tick_and_drain(runtime, T0 + timedelta(minutes=1, seconds=5))
    assert runs_of(api, merchant, cid)[0]["progress"]["pending"] == 2
    assert {e.reason for e in ledger_of(merchant.id, run_id).values()} == {to_iso(until)}
    tick_and_drain(runtime, until + timedelta(seconds=5))
    progress = runs_of(api, merchant, cid)[0]["progress"]
    assert (progress["pending"], progress["failed"], progress["failed_reasons"]) == (0, 2, {WEBHOOK_FAILED: 2})
    assert _delivered(hook) == Counter()
