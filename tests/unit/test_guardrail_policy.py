"""Guardrails.decide / explain with a fake store: deferral, static verdicts, the writes, explained failures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.dispatch.model import Recipient
from chalicelib.dispatch.screening import SHARED, PolicyContext
from chalicelib.dispatch.snapshot import view
from chalicelib.guardrails.policy import COUPONS_TAG, Guardrails
from chalicelib.guardrails.rules import GUARD_TTL_DAYS
from chalicelib.guardrails.store import coupons_key, guard_key
from chalicelib.tenancy.model import MerchantSettings

DAY = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
NIGHT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai


class FakeStore:
    def __init__(self, items: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.items = items
        self.reads: list[list[tuple[str, str]]] = []

    def read(self, keys: Any) -> dict[tuple[str, str], dict[str, Any]]:
        keys = list(keys)
        self.reads.append(keys)
        return {k: self.items[k] for k in keys if k in self.items}


def _policy(store: FakeStore, settings: MerchantSettings | None = None) -> Guardrails:
    return Guardrails(store, lambda m: settings or MerchantSettings(), lambda m, c: "store_threshold")  # type: ignore[arg-type]


def _ctx(now: datetime, channel: str = "wallet", **data: Any) -> PolicyContext:
    body = {"action": {"channel": channel, "coupons": [{"coupon_id": "cp", "quantity": 1}]},
            "target": {"kind": "customers", "customer_ids": ["a"]}, "schedule": {"kind": "once", "at": None}, **data}
    return PolicyContext("m1", "run1", view("c1", "running", body), "Asia/Shanghai", now, now)


def test_decide_defers_everyone_to_nine_when_it_is_quiet_hours():
    decision = _policy(FakeStore({})).decide(_ctx(NIGHT, "inbox"), [Recipient("a"), Recipient("b")])
    assert decision.deferred == {"a": datetime(2026, 11, 25, 1, 0, tzinfo=UTC), "b": datetime(2026, 11, 25, 1, 0,
                                                                                                tzinfo=UTC)}
    assert not decision.writes and not decision.suppressed


def test_decide_sends_at_night_when_the_campaign_ignores_quiet_hours():
    decision = _policy(FakeStore({})).decide(_ctx(NIGHT, "inbox", guardrails={"respect_quiet_hours": False}),
                                             [Recipient("a")])
    assert not decision.deferred and [k for k, _ in decision.writes] == ["a", SHARED, SHARED, SHARED]


def test_decide_writes_one_guard_update_each_and_one_month_counter_without_reading_when_it_is_day():
    store = FakeStore({})
    decision = _policy(store).decide(_ctx(DAY), [Recipient("a"), Recipient("b", risk_flagged=True)])
    assert decision.suppressed == {"b": "risk"}
    # The guard item, the month's coupons, and the list's audience month and day (an explicit list is an audience).
    assert [k for k, _ in decision.writes] == ["a", SHARED, SHARED, SHARED]
    guard, month, sends, slot = (op for _, op in decision.writes)
    assert (guard.tag, month.tag, sends.tag, slot.tag) == ("policy:a", f"policy:{COUPONS_TAG}", "policy:*sends",
                                                          "policy:*slot")
    assert store.reads == []


def test_decide_suppresses_a_grant_above_the_weekly_cap_on_its_own_when_quantity_is_two():
    ctx = _ctx(DAY, action={"channel": "wallet", "coupons": [{"coupon_id": "cp", "quantity": 2}]})
    assert _policy(FakeStore({})).decide(ctx, [Recipient("a")]).suppressed == {"a": "cap_weekly_store_coupon"}


def test_explain_names_the_cap_and_remembers_a_used_up_quota_when_conditions_failed():
    settings = MerchantSettings.model_validate({"guardrails": {"monthly_store_coupons": 3}})
    week = "2026W48"
    store = FakeStore({guard_key("m1", "a"): {f"ws_{week}": 1, "expires_at": GUARD_TTL_DAYS},
                       coupons_key("m1", "2026-11"): {"st": 2}})
    policy = _policy(store, settings)
    verdicts = policy.explain(_ctx(DAY), ["a", COUPONS_TAG], [Recipient("a"), Recipient("b"), Recipient("c")])
    assert verdicts == {"a": "cap_weekly_store_coupon", "c": "quota_monthly_store_coupon"}
    later = policy.decide(_ctx(DAY), [Recipient("d"), Recipient("e")])  # one unit left: no doomed transaction
    assert later.suppressed == {"e": "quota_monthly_store_coupon"}
    assert [k for k, _ in later.writes] == ["d", SHARED, SHARED, SHARED]
