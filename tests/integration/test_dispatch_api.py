"""Runs API: happy path, validation, roles and tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.dispatch import (
    campaign_body,
    make_coupon,
    runs_of,
    seed_customers,
    start_campaign,
    tick_and_drain,
)

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
def finished(api, merchant, clock, runtime):
    seed_customers(api, merchant, ["r1", "r2"])
    coupon = make_coupon(api, merchant)
    clock.set(T0)
    runtime.set_time(T0)
    cid = start_campaign(api, merchant, campaign_body(coupon, {"kind": "customers", "customer_ids": ["r1", "r2"]}))
    tick_and_drain(runtime, T0)
    return cid, runs_of(api, merchant, cid)[0]["run_id"]


def _key(api, merchant, role, **extra):
    r = api.post("/v1/keys", {"role": role, **extra}, token=merchant.token)
    assert r.status == 201, r
    return r.json["api_key"]


def test_get_run_returns_live_progress_when_the_run_exists(api, merchant, finished):
    cid, run_id = finished
    r = api.get(f"/v1/runs/{run_id}", token=merchant.token)
    assert r.status == 200
    assert r.json["campaign_id"] == cid and r.json["progress"]["succeeded"] == 2
    readonly = _key(api, merchant, "readonly")
    assert api.get(f"/v1/runs/{run_id}", token=readonly).status == 200


def test_runs_are_not_found_when_another_tenant_asks(api, merchant, other_merchant, finished):
    cid, run_id = finished
    assert api.get(f"/v1/runs/{run_id}", token=other_merchant.token).status == 404
    assert api.get(f"/v1/campaigns/{cid}/runs", token=other_merchant.token).status == 404
    assert api.get("/v1/runs/run_nope", token=merchant.token).status == 404


def test_runs_are_forbidden_when_the_key_is_a_staff_key(api, merchant, finished):
    cid, run_id = finished
    staff = _key(api, merchant, "staff", staff_id="s1")
    assert api.get(f"/v1/runs/{run_id}", token=staff).status == 403
    assert api.get(f"/v1/campaigns/{cid}/runs", token=staff).status == 403


def test_campaign_runs_reject_bad_paging_when_the_query_is_invalid(api, merchant, finished):
    cid, _ = finished
    r = api.get(f"/v1/campaigns/{cid}/runs?limit=0", token=merchant.token)
    assert r.status == 400 and r.json["error"]["field"] == "query.limit"
    r = api.get(f"/v1/campaigns/{cid}/runs?sort=x", token=merchant.token)
    assert r.status == 400 and r.json["error"]["field"] == "query.sort"
    r = api.get(f"/v1/campaigns/{cid}/runs?cursor=garbage", token=merchant.token)
    assert r.status == 400 and r.json["error"]["field"] == "query.cursor"
