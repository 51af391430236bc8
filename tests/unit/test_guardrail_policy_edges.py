"""Guardrails through the dispatch port: what decide() asks the store to count, what explain() reads and concludes.

The store's op builders are the policy's port: a recording double stands in for them, so each test states which
counter of which merchant, month, day and run a chunk's transaction would move.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.audiences.canonical import list_key, rule_key, staff_key
from chalicelib.dispatch.model import Recipient
from chalicelib.dispatch.screening import SHARED, PolicyContext
from chalicelib.dispatch.snapshot import view
from chalicelib.guardrails import policy as policy_module
from chalicelib.guardrails.policy import COUPONS_TAG, SENDS_TAG, SLOT_TAG, Guardrails, audience_of
from chalicelib.guardrails.rules import (
    QUOTA_AUDIENCE_DAILY,
    QUOTA_AUDIENCE_MONTHLY,
    QUOTA_MONTHLY_ITEM,
    Grant,
    limits_of,
    write_for,
)
from chalicelib.guardrails.store import coupons_key, guard_key, sends_key, slot_key, slot_runs
from chalicelib.tenancy.model import MerchantSettings

TZ = "Asia/Shanghai"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 11:00 on 24 November in Shanghai
OCCURRENCE = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)  # 23:00 on 31 October in Shanghai: another day and month
SETTINGS = MerchantSettings.model_validate({"guardrails": {
    "weekly_store_coupons_per_customer": 9, "weekly_item_coupons_per_customer": 9, "monthly_store_coupons": 700,
    "monthly_item_coupons": 800, "audience_sends_per_month": 9}})
KINDS = {("m1", "item"): "item_discount", ("m2", "item"): "store_threshold"}
COUPONS = [{"coupon_id": "store", "quantity": 1}, {"coupon_id": "store2", "quantity": 2},
           {"coupon_id": "item", "quantity": 4}]


class FakeStore:
    def __init__(self, items: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        self.items = items or {}
        self.reads: list[list[tuple[str, str]]] = []

    def read(self, keys: Any) -> dict[tuple[str, str], dict[str, Any]]:
        keys = list(keys)
        self.reads.append(keys)
        return {k: self.items[k] for k in keys if k in self.items}


class Kinds:
    """The coupon-kind lookup, counting its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, merchant_id: str, coupon_id: str) -> str:
        self.calls.append((merchant_id, coupon_id))
        return KINDS.get((merchant_id, coupon_id), "store_threshold")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def ops(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    for name in ("customer_op", "coupons_op", "sends_op", "slot_op"):
        def record(*args: Any, _name: str = name) -> tuple[Any, ...]:
            calls.append((_name, *args))
            return (_name, *args)
        monkeypatch.setattr(policy_module, name, record)
    return calls


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(policy_module, "_time", fake)
    return fake


def _settings(merchant_id: str) -> MerchantSettings:
    if merchant_id not in ("m1", "m2"):
        raise KeyError(merchant_id)
    return SETTINGS


def _policy(store: FakeStore | None = None, kinds: Kinds | None = None) -> Guardrails:
    return Guardrails(store or FakeStore(), _settings, kinds or Kinds())  # type: ignore[arg-type]


def _campaign(channel: str = "inbox", target: dict[str, Any] | None = None, coupons: Any = None,
              schedule: dict[str, Any] | None = None) -> Any:
    return view("c1", "running", {
        "action": {"channel": channel, "coupons": COUPONS if coupons is None else coupons},
        "target": target or {"kind": "audience", "audience_id": "aud1"},
        "schedule": schedule or {"kind": "once", "at": None}})


def _ctx(campaign: Any, merchant_id: str = "m1", run_kind: str = "occurrence") -> PolicyContext:
    return PolicyContext(merchant_id, "run1", campaign, TZ, NOW, OCCURRENCE, run_kind)


# -- who counts as an audience send --------------------------------------------------------------------
TRIGGERED = {"kind": "triggered", "event": "purchase", "delay_days": 1}


def test_only_a_calendar_occurrence_sent_to_an_audience_is_an_audience_send():
    assert audience_of(_campaign()) == "aud1"
    assert audience_of(_campaign(), "occurrence") == "aud1"
    assert audience_of(_campaign(), "birthday") is None
    assert audience_of(_campaign(), "touches") is None
    assert audience_of(_campaign(schedule=TRIGGERED)) is None
    assert audience_of(_campaign(target={"kind": "customers", "customer_ids": ["a"]})) == list_key(["a"])
    assert audience_of(_campaign(target={"kind": "staff_friends", "staff_ids": ["s1"]})) == staff_key(["s1"])
    rule = {"all": [{"field": "orders_30d", "op": "gte", "value": 1}]}
    assert audience_of(_campaign(target={"kind": "rule", "rule": rule})) == rule_key(rule)
    assert audience_of(_campaign(target={"kind": "audience", "audience_id": ""})) is None
    assert audience_of(_campaign(target={"audience_id": "aud1"})) is None


def test_a_transaction_reserves_the_quota_items_its_campaign_needs():
    policy = _policy()
    assert policy.fixed_items(_campaign()) == 4  # a deferral's due item, the month's coupons, audience month + day
    assert policy.fixed_items(_campaign(coupons=[])) == 3
    assert policy.fixed_items(_campaign(target={"kind": "customers", "customer_ids": ["a"]})) == 4
    assert policy.fixed_items(_campaign(coupons=[], schedule=TRIGGERED)) == 1


# -- the grant ------------------------------------------------------------------------------------------
def test_a_grant_adds_up_the_coupons_of_each_kind_as_the_merchant_defined_them():
    policy = _policy()
    assert policy.grant("m1", _campaign()) == Grant("c1", True, 3, 4, "aud1")
    assert policy.grant("m2", _campaign()) == Grant("c1", True, 7, 0, "aud1")  # m2's "item" is a store coupon
    assert policy.grant("m1", _campaign(channel="wallet"), "birthday") == Grant("c1", False, 3, 4, None)
    two_items = [{"coupon_id": "item", "quantity": 2}, {"coupon_id": "item", "quantity": 3}]
    assert policy.grant("m1", _campaign(coupons=two_items)) == Grant("c1", True, 0, 5, "aud1")


def test_coupon_kinds_are_looked_up_per_merchant_and_kept_for_a_minute(clock: Clock):
    kinds = Kinds()
    policy = _policy(kinds=kinds)
    one = [{"coupon_id": "item", "quantity": 1}]
    policy.grant("m1", _campaign(coupons=one))
    policy.grant("m2", _campaign(coupons=one))
    clock.now += 60
    policy.grant("m1", _campaign(coupons=one))
    assert kinds.calls == [("m1", "item"), ("m2", "item")]
    clock.now += 0.5
    assert policy.grant("m1", _campaign(coupons=one)).item_units == 1
    assert kinds.calls == [("m1", "item"), ("m2", "item"), ("m1", "item")]


# -- decide: the writes of one chunk ------------------------------------------------------------------------
def test_decide_counts_the_chunks_coupons_in_the_month_of_issue_and_the_send_on_its_occurrence_day(ops):
    ctx = _ctx(_campaign())
    decision = _policy().decide(ctx, [Recipient("a"), Recipient("b")])
    write = write_for(Grant("c1", True, 3, 4, "aud1"), limits_of(SETTINGS, None), NOW, TZ)
    assert decision.writes == [
        ("a", ("customer_op", "m1", "a", write, "policy:a")),
        ("b", ("customer_op", "m1", "b", write, "policy:b")),
        (SHARED, ("coupons_op", "m1", "2026-11", 6, 8, 700, 800, NOW, f"policy:{COUPONS_TAG}")),
        (SHARED, ("sends_op", "m1", "2026-10", "run1", 9, NOW, f"policy:{SENDS_TAG}")),
        (SHARED, ("slot_op", "m1", "aud1", "20261031", "run1", 1, NOW, f"policy:{SLOT_TAG}")),
    ]
    assert not decision.suppressed and not decision.deferred


def test_a_send_without_an_occurrence_counts_on_the_day_it_is_sent(ops):
    ctx = PolicyContext("m1", "run1", _campaign(coupons=[]), TZ, NOW, None)
    shared = [op for key, op in _policy().decide(ctx, [Recipient("a")]).writes if key == SHARED]
    assert shared == [("sends_op", "m1", "2026-11", "run1", 9, NOW, f"policy:{SENDS_TAG}"),
                      ("slot_op", "m1", "aud1", "20261124", "run1", 1, NOW, f"policy:{SLOT_TAG}")]


def test_decide_writes_no_shared_counter_when_every_candidate_is_suppressed(ops):
    decision = _policy().decide(_ctx(_campaign()), [Recipient("a", risk_flagged=True)])
    assert decision.suppressed == {"a": "risk"} and decision.writes == []


def test_decide_uses_the_campaigns_merchant_settings(ops):
    with pytest.raises(KeyError):
        _policy().decide(_ctx(_campaign(), merchant_id="m3"), [Recipient("a")])


def test_decide_starts_from_a_used_up_quota_read_within_the_last_minute(ops, clock: Clock):
    full = {coupons_key("m1", "2026-11"): {"st": 0, "it": 800}}
    policy = _policy(FakeStore(full))
    ctx = _ctx(_campaign(target={"kind": "customers", "customer_ids": ["a"]}))
    assert policy.explain(ctx, [COUPONS_TAG], [Recipient("a")]) == {"a": QUOTA_MONTHLY_ITEM}
    clock.now += 60
    assert policy.decide(ctx, [Recipient("b")]).suppressed == {"b": QUOTA_MONTHLY_ITEM}
    clock.now += 0.5  # older than a minute: the transaction finds out again
    assert [k for k, _ in policy.decide(ctx, [Recipient("b")]).writes] == ["b", SHARED, SHARED, SHARED]


# -- explain: verdicts after a failed transaction -----------------------------------------------------------
def test_explain_reads_the_failed_customers_and_every_quota_item_of_the_send():
    store = FakeStore()
    _policy(store).explain(_ctx(_campaign()), ["a", COUPONS_TAG, "b"], [Recipient("a"), Recipient("b")])
    assert store.reads == [[guard_key("m1", "a"), guard_key("m1", "b"), coupons_key("m1", "2026-11"),
                            sends_key("m1", "2026-10"), slot_key("m1", "aud1", "20261031")]]


def test_explain_reads_only_the_customers_when_no_shared_counter_failed():
    store = FakeStore()
    assert _policy(store).explain(_ctx(_campaign()), ["a"], [Recipient("a")]) == {}  # nothing wrong: retried
    assert store.reads == [[guard_key("m1", "a")]]


def test_explain_names_the_daily_audience_quota_when_another_run_holds_the_days_slot():
    store = FakeStore({slot_key("m1", "aud1", "20261031"): {"run": "run0"}})
    verdicts = _policy(store).explain(_ctx(_campaign()), [SLOT_TAG], [Recipient("a"), Recipient("b")])
    assert verdicts == {"a": QUOTA_AUDIENCE_DAILY, "b": QUOTA_AUDIENCE_DAILY}


def test_explain_lets_the_run_holding_the_slot_or_an_empty_slot_through():
    for slot in ({"run": "run1"}, {"kind": "quota"}):
        store = FakeStore({slot_key("m1", "aud1", "20261031"): slot})
        assert _policy(store).explain(_ctx(_campaign()), [SLOT_TAG], [Recipient("a")]) == {}


def test_explain_lets_a_run_through_while_the_day_has_a_place_left_for_the_audience(ops):
    two = SETTINGS.model_copy(update={"guardrails": SETTINGS.guardrails.model_copy(
        update={"audience_sends_per_day": 2})})
    store = FakeStore({slot_key("m1", "aud1", "20261031"): {"runs": {"run0"}}})
    policy = Guardrails(store, lambda m: two, Kinds())  # type: ignore[arg-type]
    assert policy.explain(_ctx(_campaign()), [SLOT_TAG], [Recipient("a")]) == {}
    store.items[slot_key("m1", "aud1", "20261031")] = {"runs": {"run0", "run9"}}
    assert policy.explain(_ctx(_campaign()), [SLOT_TAG], [Recipient("a")]) == {"a": QUOTA_AUDIENCE_DAILY}
    slot = [op for key, op in policy.decide(_ctx(_campaign()), [Recipient("a")]).writes if op[0] == "slot_op"]
    assert slot == [("slot_op", "m1", "aud1", "20261031", "run1", 2, NOW, f"policy:{SLOT_TAG}")]


def test_explain_names_the_monthly_audience_quota_when_the_occurrences_month_is_full():
    runs = {f"r{i}" for i in range(9)}
    store = FakeStore({sends_key("m1", "2026-10"): {"runs": runs}, sends_key("m1", "2026-11"): {"runs": set()}})
    verdicts = _policy(store).explain(_ctx(_campaign()), [SENDS_TAG], [Recipient("a")])
    assert verdicts == {"a": QUOTA_AUDIENCE_MONTHLY}


def test_explain_uses_the_campaigns_merchant_for_the_grant_and_the_limits():
    kinds = Kinds()
    _policy(kinds=kinds).explain(_ctx(_campaign(), merchant_id="m2"), ["a"], [Recipient("a")])
    assert kinds.calls and all(m == "m2" for m, _ in kinds.calls)
    with pytest.raises(KeyError):
        _policy().explain(_ctx(_campaign(), merchant_id="m3"), ["a"], [Recipient("a")])


def test_a_birthday_run_of_an_audience_campaign_counts_no_audience_send(ops):
    ctx = _ctx(_campaign(), run_kind="birthday")
    shared = [op[0] for key, op in _policy().decide(ctx, [Recipient("a")]).writes if key == SHARED]
    assert shared == ["coupons_op"]
    store = FakeStore({slot_key("m1", "aud1", "20261031"): {"run": "run0"}})
    assert _policy(store).explain(ctx, [COUPONS_TAG], [Recipient("a")]) == {}
    assert store.reads == [[coupons_key("m1", "2026-11")]]


def test_a_days_slot_item_names_its_runs_and_one_written_before_the_set_counts_its_run():
    assert slot_runs(None) == frozenset() and slot_runs({"kind": "quota"}) == frozenset()
    assert slot_runs({"runs": {"r1", "r2"}}) == {"r1", "r2"}
    assert slot_runs({"run": "r0"}) == {"r0"} and slot_runs({"run": "r0", "runs": {"r1"}}) == {"r0", "r1"}
