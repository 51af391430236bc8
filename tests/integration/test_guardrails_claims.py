"""A claim and its risk fact are one write: a failure between them can neither lose the fact nor count it twice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import wiring
from chalicelib.guardrails.store import GuardStore, guard_key
from tests.support.dispatch import make_coupon, seed_customers

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


def _claimable(merchant: Any, coupon: str, customer: str, key: str) -> str:
    issued = wiring.wallet_service().issue_coupons(merchant.id, customer, coupon, 1, campaign_id=None, run_id=None,
                                                   delivery_key=key, direct=False, now=NOW)
    return issued[0].instance_id


def _claims(merchant: Any, customer: str) -> list[int]:
    item = wiring.guard_store().read([guard_key(merchant.id, customer)]).get(guard_key(merchant.id, customer))
    return [int(c) for c in (item or {}).get("cl") or ()]


def test_a_claim_whose_risk_fact_failed_is_not_stored_and_its_retry_records_the_fact_once(
        api, merchant, clock, monkeypatch):
    seed_customers(api, merchant, ["k1"])
    assert api.put("/v1/settings", {"guardrails": {"risk": {"enabled": True, "min_claims": 2, "window_days": 30}}},
                   token=merchant.token).status == 200
    clock.set(NOW)
    coupon = make_coupon(api, merchant)
    first, second = _claimable(merchant, coupon, "k1", "d1"), _claimable(merchant, coupon, "k1", "d2")

    original = GuardStore.claim_op
    failures = {"left": 1}

    def throttled(self: GuardStore, *args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                              "BatchGetItem")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GuardStore, "claim_op", throttled)
    claim = f"/v1/coupon-instances/{first}/claim"
    failed = api.post(claim, {"customer_id": "k1"}, token=merchant.token)
    assert failed.status == 503, failed
    assert wiring.wallet_service().get(merchant.id, first).status.value == "issued"  # nothing half-stored
    assert _claims(merchant, "k1") == []
    assert api.post(claim, {"customer_id": "k1"}, token=merchant.token).status == 200  # the client's retry
    assert api.post(claim, {"customer_id": "k1"}, token=merchant.token).status == 409  # claimed once
    assert _claims(merchant, "k1") == [int(NOW.timestamp())]
    assert api.post(f"/v1/coupon-instances/{second}/claim", {"customer_id": "k1"}, token=merchant.token).status == 200
    assert _claims(merchant, "k1") == [int(NOW.timestamp())] * 2
    item = wiring.guard_store().read([guard_key(merchant.id, "k1")])[guard_key(merchant.id, "k1")]
    assert int(item["rk_until"]) > int(NOW.timestamp())  # two claims, no redemption: inside the risk interval
