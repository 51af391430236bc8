"""Campaign targets resolved by the audience engine end to end: campaign → tick → drain → the run's ledger holds
exactly the customers the target (and POST /v1/audiences/estimate) selects; the per-send cap; the plan worker's
time-limit continuation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.core.clock import to_iso
from chalicelib.dispatch.messages import plan_messages
from chalicelib.dispatch.model import SEGMENTS, Entry, Outcome
from chalicelib.dispatch.store import RunStore
from tests.support.dispatch import (
    RecordingChannel,
    campaign_body,
    ledger_of,
    relax_guardrails,
    runs_of,
    seed_customers,
    set_watermark,
    start_campaign,
    tick_and_drain,
)
from tests.support.substitutes import Substitutes

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
IDS = [f"c{i:02d}" for i in range(30)]
def profile(i: int, level: int | None = None) -> dict[str, Any]:
    owner = "s1" if i % 5 == 0 else "s2" if i % 5 == 1 else None
    return {"customer_id": IDS[i], "nickname": f"n{i}", "member_level": i % 4 if level is None else level,
            **({"staff_owner": owner} if owner else {})}


def estimate(api: Any, token: str, body: dict[str, Any]) -> int:
    r = api.post("/v1/audiences/estimate", body, token=token)
    assert r.status == 200, r
    return int(r.json["count"])


def members(api: Any, token: str, audience_id: str) -> set[str]:
    r = api.get(f"/v1/audiences/{audience_id}/members?limit=1000", token=token)
    assert r.status == 200 and r.json["next_cursor"] is None, r
    return set(r.json["items"])


@pytest.fixture(scope="module")
def world(api: Any) -> Iterator[dict[str, Any]]:
    """One merchant, 30 customers (10 with an order), one campaign per target kind, all sent in one tick."""
    import app as handlers
    from infra.local.runtime import LocalRuntime

    channel = RecordingChannel()
    substitutes = Substitutes(pytest.MonkeyPatch())  # module-scoped: its own MonkeyPatch, undone below
    substitutes.channel("webhook", channel)
    m, issued = wiring.tenancy_service().create_merchant("Targets Store")
    token = issued.token
    runtime = LocalRuntime(handlers)
    runtime.purge()
    runtime.set_time(NOW)
    try:
        relax_guardrails(api, token)
        r = api.post("/v1/customers/batch", {"items": [profile(i) for i in range(30)]}, token=token)
        assert r.status == 200, r
        orders = [{"order_id": f"o{i}", "customer_id": IDS[i], "paid_at": to_iso(NOW - timedelta(days=5)),
                   "amount_fen": 1000 + 100 * i} for i in range(0, 30, 3)]
        assert api.post("/v1/orders/batch", {"items": orders}, token=token).status == 200
        runtime.drain()
        rule = {"all": [{"field": "member_level", "op": "gte", "value": 2}]}
        custom = api.post("/v1/audiences", {"name": "level 2+", "kind": "custom", "rule": rule}, token=token).json
        frozen = api.post("/v1/audiences", {"name": "level 2+ then", "kind": "frozen", "rule": rule},
                          token=token).json
        # After freezing: c01 rises to level 3, c02 drops to 0. Dynamic targets see it, the snapshot does not.
        r = api.post("/v1/customers/batch", {"items": [profile(1, 3), profile(2, 0)]}, token=token)
        assert r.status == 200, r
        runtime.drain()
        listed = api.post("/v1/audiences", {"name": "picked", "kind": "list",
                                            "customer_ids": ["c03", "c07", "c11", "ghost1"]}, token=token).json
        level_one = {"all": [{"field": "member_level", "op": "eq", "value": 1}]}
        targets = {
            "custom": {"kind": "audience", "audience_id": custom["audience_id"]},
            "frozen": {"kind": "audience", "audience_id": frozen["audience_id"]},
            "list": {"kind": "audience", "audience_id": listed["audience_id"]},
            "builtin": {"kind": "audience", "audience_id": "rec_recent_buyers"},
            "rfm": {"kind": "audience", "audience_id": "rfm_potential_high_value"},
            "staff_friends": {"kind": "staff_friends", "staff_ids": ["s1"]},
            "rule": {"kind": "rule", "rule": level_one},
            "customers": {"kind": "customers", "customer_ids": ["c05", "c06", "ghost2"]},
        }
        who = SimpleNamespace(id=m.merchant_id, token=token)
        campaigns = {kind: start_campaign(api, who, campaign_body(None, target, channel="webhook"))
                     for kind, target in targets.items()}
        tick_and_drain(runtime, NOW)
        runs = {kind: runs_of(api, who, cid) for kind, cid in campaigns.items()}
        yield {"merchant": m.merchant_id, "token": token, "targets": targets, "campaigns": campaigns,
               "runs": runs, "channel": channel, "rule": level_one,
               "audiences": {"custom": custom["audience_id"], "frozen": frozen["audience_id"],
                             "list": listed["audience_id"]}}
    finally:
        substitutes.undo()
        from chalicelib.core.clock import system_clock

        wiring.set_clock(system_clock)


def sent(world: dict[str, Any], kind: str) -> dict[str, Entry]:
    """The single run of the kind's campaign: its ledger, after checking the channel got each customer once."""
    runs = world["runs"][kind]
    assert len(runs) == 1
    run_id = runs[0]["run_id"]
    ledger = ledger_of(world["merchant"], run_id)
    handed = Counter(c for r, c in world["channel"].sent if r == run_id)
    assert handed == Counter(c for c, e in ledger.items() if e.outcome is Outcome.SUCCEEDED)
    return ledger


def reached(ledger: dict[str, Entry]) -> set[str]:
    assert {e.outcome for e in ledger.values()} <= {Outcome.SUCCEEDED}, ledger
    return set(ledger)


def test_a_dynamic_audience_target_is_re_evaluated_when_its_run_is_planned(world: dict[str, Any], api: Any):
    expected = ({IDS[i] for i in range(30) if i % 4 in (2, 3)} | {"c01"}) - {"c02"}
    got = reached(sent(world, "custom"))
    assert got == expected
    assert estimate(api, world["token"], {"audience_id": world["audiences"]["custom"]}) == len(got)


def test_a_frozen_audience_target_sends_to_its_snapshot_when_customers_changed_since(world: dict[str, Any],
                                                                                   api: Any):
    expected = {IDS[i] for i in range(30) if i % 4 in (2, 3)}
    assert "c02" in expected and "c01" not in expected
    got = reached(sent(world, "frozen"))
    assert got == expected
    assert estimate(api, world["token"], {"audience_id": world["audiences"]["frozen"]}) == len(got)


def test_a_list_audience_target_sends_to_its_members_when_one_id_is_unknown(world: dict[str, Any], api: Any):
    ledger = sent(world, "list")
    assert set(ledger) == {"c03", "c07", "c11", "ghost1"}
    assert {c for c, e in ledger.items() if e.outcome is Outcome.SUCCEEDED} == {"c03", "c07", "c11"}
    assert (ledger["ghost1"].outcome, ledger["ghost1"].reason) == (Outcome.SUPPRESSED, "unknown_customer")
    assert estimate(api, world["token"], {"audience_id": world["audiences"]["list"]}) == len(ledger)
    progress = world["runs"]["list"][0]["progress"]
    assert (progress["targeted"], progress["suppressed"]) == (4, {"unknown_customer": 1})


def test_a_builtin_audience_target_sends_to_recent_buyers_when_they_ordered_within_30_days(world: dict[str, Any],
                                                                                         api: Any):
    got = reached(sent(world, "builtin"))
    assert got == {IDS[i] for i in range(0, 30, 3)}
    assert estimate(api, world["token"], {"audience_id": "rec_recent_buyers"}) == len(got)


def test_an_rfm_audience_target_splits_at_the_median_when_planned_in_segments(world: dict[str, Any], api: Any):
    # One order each of 1000 + 100 i fen for i = 0, 3, ..., 27: the median AOV is (2200 + 2500) / 2 = 2350.
    got = reached(sent(world, "rfm"))
    assert got == {"c15", "c18", "c21", "c24", "c27"}
    assert got == members(api, world["token"], "rfm_potential_high_value")
    assert estimate(api, world["token"], {"audience_id": "rfm_potential_high_value"}) == len(got)


def test_a_staff_friends_target_sends_to_the_staffs_customers_when_planned(world: dict[str, Any]):
    got = reached(sent(world, "staff_friends"))
    assert got == {IDS[i] for i in range(0, 30, 5)}
    assert wiring.audience_engine().count_target(world["merchant"], world["targets"]["staff_friends"], NOW) == 6


def test_an_inline_rule_target_agrees_with_the_estimate_when_evaluated_now(world: dict[str, Any], api: Any):
    got = reached(sent(world, "rule"))
    assert got == {IDS[i] for i in range(30) if i % 4 == 1} - {"c01"}
    assert estimate(api, world["token"], {"rule": world["rule"]}) == len(got)


def test_an_inline_customers_target_sends_to_the_known_ones_when_one_id_is_unknown(world: dict[str, Any]):
    ledger = sent(world, "customers")
    assert {c for c, e in ledger.items() if e.outcome is Outcome.SUCCEEDED} == {"c05", "c06"}
    assert (ledger["ghost2"].outcome, ledger["ghost2"].reason) == (Outcome.SUPPRESSED, "unknown_customer")
    assert wiring.audience_engine().count_target(world["merchant"], world["targets"]["customers"], NOW) == 3


@pytest.fixture
def channel(substitute: Substitutes) -> RecordingChannel:
    recording = RecordingChannel()
    substitute.channel("webhook", recording)
    return recording


def test_recipients_past_the_per_send_cap_are_suppressed_when_the_target_is_larger(api, merchant, clock, runtime,
                                                                                   channel):
    relax_guardrails(api, merchant.token, max_recipients_per_send=25)
    ids = [f"q{i:03d}" for i in range(70)]
    seed_customers(api, merchant, ids)
    clock.set(NOW)
    runtime.set_time(NOW)
    everyone = {"kind": "rule", "rule": {"all": [{"field": "member_level", "op": "gte", "value": 0}]}}
    cid = start_campaign(api, merchant, campaign_body(None, everyone, channel="webhook", holdout_percent=20))
    tick_and_drain(runtime, NOW)
    run = runs_of(api, merchant, cid)[0]
    ledger = ledger_of(merchant.id, run["run_id"])
    outcomes = Counter((e.outcome, e.reason) for e in ledger.values())
    held = outcomes[(Outcome.HELD_OUT, None)]
    assert 3 <= held <= 30  # positions are counted without the held-out customers
    assert outcomes == Counter({(Outcome.SUCCEEDED, None): 25, (Outcome.HELD_OUT, None): held,
                                (Outcome.SUPPRESSED, "quota_max_recipients"): 70 - 25 - held})
    assert len(channel.sent) == 25
    p = run["progress"]
    assert (p["targeted"], p["succeeded"], p["suppressed"]) == (70, 25, {"quota_max_recipients": 70 - 25 - held})


def test_a_plan_segment_out_of_time_continues_itself_when_its_budget_runs_low(api, merchant, clock, runtime, channel,
                                                                            monkeypatch):
    relax_guardrails(api, merchant.token)
    ids = [f"t{i:03d}" for i in range(120)]
    seed_customers(api, merchant, ids)
    clock.set(NOW)
    runtime.set_time(NOW)
    service = wiring.plan_service()
    monkeypatch.setattr(service, "flush_recipients", 3)  # a commit every 3 recipients: many resumption points
    calls = {"n": 0}

    def budget(self: Any) -> int:
        calls["n"] += 1  # every other look at the clock finds the Lambda about to time out
        return 900_000 if calls["n"] % 2 else 1_000

    from infra.local.runtime import LambdaContext

    monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", budget)
    results: list[dict[str, Any]] = []
    original = service.plan_segment

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        results.append(original(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(service, "plan_segment", recording)
    cid = start_campaign(api, merchant, campaign_body(None, {"kind": "rule", "rule": {"all": [
        {"field": "member_level", "op": "gte", "value": 0}]}}, channel="webhook"))
    set_watermark(NOW)
    runtime.tick(NOW)
    run_id = runs_of(api, merchant, cid)[0]["run_id"]
    wiring.queues().send_plans(plan_messages(merchant.id, run_id, SEGMENTS))  # every segment delivered twice
    runtime.drain()
    continued = sum(1 for r in results if r.get("continued"))
    assert continued >= 10, results
    ledger = ledger_of(merchant.id, run_id)
    assert set(ledger) == set(ids) and {e.outcome for e in ledger.values()} == {Outcome.SUCCEEDED}
    assert Counter(c for _, c in channel.sent) == Counter(ids)
    runtime.tick(NOW + timedelta(minutes=1))
    run = runs_of(api, merchant, cid)[0]
    assert run["status"] == "complete" and run["progress"]["targeted"] == 120


def test_a_short_customer_list_is_planned_by_one_segment_into_whole_chunks(api, merchant, clock, runtime, channel):
    relax_guardrails(api, merchant.token)
    ids = [f"s{i:03d}" for i in range(40)]
    seed_customers(api, merchant, ids)
    clock.set(NOW)
    runtime.set_time(NOW)
    listed = start_campaign(api, merchant, campaign_body(None, {"kind": "customers", "customer_ids": ids},
                                                         channel="webhook"))
    tick_and_drain(runtime, NOW)
    run_id = runs_of(api, merchant, listed)[0]["run_id"]
    # Plan messages for segments the run does not have (a stray or replayed message) plan nothing.
    wiring.queues().send_plans(plan_messages(merchant.id, run_id, SEGMENTS))
    runtime.drain()
    chunks = RunStore().chunks_of(merchant.id, run_id)
    assert len(chunks) == 1 and len(chunks[0].recipients) == 40
    ledger = ledger_of(merchant.id, run_id)
    assert {e.outcome for e in ledger.values()} == {Outcome.SUCCEEDED} and set(ledger) == set(ids)
    assert Counter(c for _, c in channel.sent) == Counter(ids)
    # The same customers as a rule target are planned shard by shard: one chunk per shard holding any of them.
    ruled = start_campaign(api, merchant, campaign_body(None, {"kind": "rule", "rule": {"all": [
        {"field": "member_level", "op": "gte", "value": 0}]}}, channel="webhook"))
    tick_and_drain(runtime, NOW + timedelta(minutes=1))
    assert len(RunStore().chunks_of(merchant.id, runs_of(api, merchant, ruled)[0]["run_id"])) > 1
