"""End to end through LocalRuntime: a once-now wallet campaign reaches every target exactly once."""

from __future__ import annotations

from datetime import timedelta

from tests.support.dispatch import (
    campaign_body,
    make_coupon,
    runs_of,
    seed_customers,
    start_campaign,
    wallet_counts,
)


def test_once_now_campaign_issues_one_coupon_each_when_run_end_to_end(api, merchant, clock, runtime):
    ids = [f"c{i:03d}" for i in range(250)]
    seed_customers(api, merchant, ids)
    coupon = make_coupon(api, merchant)
    runtime.set_time(clock.now)
    cid = start_campaign(api, merchant, campaign_body(coupon, {"kind": "customers", "customer_ids": ids}))
    runtime.tick(clock.now)
    runtime.drain()
    counts = wallet_counts(merchant.id, ids)
    assert set(counts.values()) == {1}
    runs = runs_of(api, merchant, cid)
    assert len(runs) == 1
    p = runs[0]["progress"]
    assert (p["targeted"], p["succeeded"], p["pending"]) == (250, 250, 0)
    runtime.tick(clock.now + timedelta(minutes=1))
    r = api.get(f"/v1/runs/{runs[0]['run_id']}", token=merchant.token)
    assert r.json["status"] == "complete"
    assert api.get(f"/v1/campaigns/{cid}", token=merchant.token).json["status"] == "ended"
