"""Every built-in audience end to end: hand-built customers ingested through the API, the stream drained, members read.

The clock is fixed at 2026-11-23 04:00 UTC = 12:00 in Shanghai (the merchant's zone); "yesterday" is 2026-11-22 local.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core.clock import to_iso

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SHANGHAI = timedelta(hours=8)


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """A Shanghai wall time as a UTC instant."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - SHANGHAI


class Data:
    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.orders: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def customer(self, cid: str, **profile: Any) -> Data:
        self.customers[cid] = {"customer_id": cid, **profile}
        return self

    def order(self, cid: str, at: datetime, amount: int = 5000, status: str = "paid") -> Data:
        self.customers.setdefault(cid, {"customer_id": cid})
        self.orders.append({"order_id": f"o{len(self.orders)}", "customer_id": cid, "paid_at": to_iso(at),
                            "amount_fen": amount, "status": status})
        return self

    def event(self, cid: str, kind: str, at: datetime, **extra: Any) -> Data:
        self.customers.setdefault(cid, {"customer_id": cid})
        self.events.append({"event_id": f"e{len(self.events)}", "customer_id": cid, "type": kind, "at": to_iso(at),
                            **extra})
        return self


def load(api: Any, runtime: Any, clock: Any, token: str, data: Data) -> None:
    clock.set(NOW)
    runtime.set_time(NOW)
    for path, items in (("/v1/customers/batch", list(data.customers.values())), ("/v1/orders/batch", data.orders),
                        ("/v1/events/batch", data.events)):
        if items:
            r = api.post(path, {"items": items}, token=token)
            assert r.status == 200 and r.json["rejected"] == 0, r
    runtime.drain()
    clock.set(NOW)


def members(api: Any, token: str, audience_id: str) -> set[str]:
    r = api.get(f"/v1/audiences/{audience_id}/members?limit=1000", token=token)
    assert r.status == 200 and r.json["next_cursor"] is None, r
    return set(r.json["items"])


def check(api: Any, token: str, expected: dict[str, set[str]]) -> None:
    counts = {a["audience_id"]: a["count"] for a in api.get("/v1/audiences?kind=builtin", token=token).json["items"]}
    got = {aid: members(api, token, aid) for aid in expected}
    assert got == expected
    assert {aid: counts[aid] for aid in expected} == {aid: len(ids) for aid, ids in expected.items()}


def test_rfm_audiences_split_at_the_median_of_180_day_buyers(api: Any, merchant: Any, runtime: Any,
                                                             clock: Any) -> None:
    d = Data()
    d.order("hv1", NOW - 3 * DAY, 10000).order("hv1", NOW - 10 * DAY, 10000)
    d.order("hv2", NOW - 1 * DAY, 3400).order("hv2", NOW - 2 * DAY, 3400)
    d.order("mid", NOW - 6 * DAY, 3000).order("mid", NOW - 7 * DAY, 3000)  # the lower middle value: M low
    d.order("rb1", NOW - 4 * DAY, 1000).order("rb1", NOW - 20 * DAY, 1000)
    d.order("pot1", NOW - 5 * DAY, 20000)
    d.order("rep1", NOW - 2 * DAY, 500).order("rep1", NOW - 1 * DAY, 50000, "refunded")
    d.order("chv1", NOW - 60 * DAY, 15000).order("chv1", NOW - 100 * DAY, 15000)
    d.order("edge30", NOW - 30 * DAY, 20000).order("edge30", NOW - 100 * DAY, 20000)  # exactly 30 d: lapsed
    d.order("crb1", NOW - 100 * DAY, 800).order("crb1", NOW - 120 * DAY, 800)
    d.order("one_low", NOW - 50 * DAY, 100)  # lapsed with one purchase: in the median, in no RFM audience
    d.order("old181", NOW - 181 * DAY, 99999)  # outside 180 d: not even in the median
    d.order("cancelled", NOW - 3 * DAY, 40000, "cancelled")
    # 180-day AOVs: 100 500 800 1000 3000 | 3400 10000 15000 20000 20000 -> median (3000 + 3400) / 2 = 3200
    load(api, runtime, clock, merchant.token, d)
    check(api, merchant.token, {
        "rfm_high_value": {"hv1", "hv2"},
        "rfm_potential_high_value": {"pot1"},
        "rfm_raise_basket": {"mid", "rb1"},
        "rfm_repurchase": {"rep1"},
        "rfm_churned_high_value": {"chv1", "edge30"},
        "rfm_churned_raise_basket": {"crb1"},
    })


def test_rfm_uses_the_merchants_fixed_threshold_when_settings_carry_one(api: Any, merchant: Any, runtime: Any,
                                                                        clock: Any) -> None:
    settings = api.get("/v1/settings", token=merchant.token)
    body = {k: v for k, v in settings.json.items() if k not in ("merchant_id", "version", "webhook_secret_set")}
    body["rfm"] = {"recent_days": 30, "frequency_threshold": 2, "monetary_threshold_fen": 500}
    assert api.put("/v1/settings", body, token=merchant.token).status == 200, body
    d = Data().order("a", NOW - 3 * DAY, 600).order("a", NOW - 4 * DAY, 600).order("b", NOW - 3 * DAY, 20000)
    load(api, runtime, clock, merchant.token, d)
    check(api, merchant.token, {"rfm_high_value": {"a"}, "rfm_potential_high_value": {"b"}, "rfm_raise_basket": set()})


def test_key_audiences_new_old_and_potential(api: Any, merchant: Any, runtime: Any, clock: Any) -> None:
    d = Data()
    d.order("new1", NOW - 5 * DAY)
    d.order("newref", NOW - 5 * DAY).order("newref", NOW - 60 * DAY, status="refunded")  # a refund is no first buy
    d.order("first179", NOW - 179 * DAY).order("first179", NOW - 3 * DAY)
    d.order("first181", NOW - 181 * DAY).order("first181", NOW - 3 * DAY)  # first purchase 181 d ago: old
    d.order("two30", NOW - 3 * DAY).order("two30", NOW - 4 * DAY)
    d.order("old60", NOW - 60 * DAY)
    d.event("viewer_buyer", "product_view", NOW - 2 * DAY).order("viewer_buyer", NOW - 10 * DAY)
    d.event("watch15", "live_watch", NOW - 2 * DAY, value=15)  # exactly 15 s is not longer than 15 s
    d.event("watch16", "live_watch", NOW - 2 * DAY, value=16)
    d.event("watch_sum", "live_watch", NOW - 2 * DAY, value=10).event("watch_sum", "live_watch", NOW - DAY, value=10)
    d.event("viewer", "product_view", NOW - 3 * DAY)
    d.event("viewer_14", "product_view", local(2026, 11, 9, 0, 5))  # 14 local days before today: within 15 d
    d.event("viewer_15", "product_view", local(2026, 11, 8, 23, 55))  # 15 local days before: outside
    load(api, runtime, clock, merchant.token, d)
    check(api, merchant.token, {
        "key_new": {"new1", "newref", "first179", "viewer_buyer"},
        "key_old": {"first181", "two30", "old60"},
        "key_potential": {"watch16", "viewer", "viewer_14"},
    })


def test_scene_audiences_followers_yesterday_visitors_and_reviews(api: Any, merchant: Any, runtime: Any,
                                                                  clock: Any) -> None:
    d = Data()
    d.customer("fol1", is_follower=True).customer("fol2").customer("unf", is_follower=True)
    d.event("fol2", "follow", NOW - 3 * DAY).event("unf", "unfollow", NOW - 2 * DAY)
    d.event("visy", "visit", local(2026, 11, 22, 0, 10))  # yesterday locally, the day before in UTC
    d.event("visbuy", "visit", local(2026, 11, 22, 10)).order("visbuy", local(2026, 11, 22, 11))
    d.event("vis_dby", "visit", local(2026, 11, 21, 23, 50))
    d.event("vis_today", "visit", local(2026, 11, 23, 9))
    d.event("visbuy_today", "visit", local(2026, 11, 22, 20)).order("visbuy_today", local(2026, 11, 23, 9))
    d.event("rev_good", "review", NOW - 3 * DAY, rating="good", content="很好吃")
    d.event("rev_empty", "review", NOW - 3 * DAY, rating="good", content="  ")
    d.event("rev_old", "review", NOW - 31 * DAY, rating="good", content="好")
    d.order("rev_buyer", NOW - 5 * DAY).event("rev_buyer", "review", NOW - 3 * DAY, rating="bad", content="慢")
    load(api, runtime, clock, merchant.token, d)
    check(api, merchant.token, {
        "scene_followers": {"fol1", "fol2"},
        "scene_visited_no_order_yesterday": {"visy", "visbuy_today"},
        "scene_good_reviewers": {"rev_good"},
        "scene_non_reviewers": {"visbuy", "visbuy_today"},
    })


def test_recommended_and_scenario_audiences(api: Any, merchant: Any, runtime: Any, clock: Any) -> None:
    d = Data()
    d.order("sl15", NOW - 15 * DAY)  # exactly 15 d ago: not within 15 d -> sleeping
    d.order("sl14", NOW - 14 * DAY)
    d.order("sl89", NOW - 89 * DAY)
    d.order("sl90", NOW - 90 * DAY)  # exactly 90 d ago: not within 90 d
    d.order("slref", NOW - 40 * DAY, status="refunded")
    d.order("loyal", NOW - 3 * DAY).order("loyal", NOW - 100 * DAY)
    d.customer("grow10", registered_at=to_iso(NOW - 10 * DAY))
    d.customer("grow7", registered_at=to_iso(NOW - 7 * DAY))  # exactly 7 d: not within 7 d -> grows
    d.customer("grow3", registered_at=to_iso(NOW - 3 * DAY))
    d.customer("grow31", registered_at=to_iso(NOW - 31 * DAY))
    d.customer("grow_buyer", registered_at=to_iso(NOW - 10 * DAY))
    for k in range(3):
        d.order("grow_buyer", NOW - (200 + k) * DAY)
    d.customer("fan", is_follower=True, fan_level=2).customer("fan0", is_follower=True)
    d.event("live", "live_interaction", NOW - 2 * DAY).event("live_buyer", "live_interaction", NOW - 2 * DAY)
    d.order("live_buyer", NOW - 300 * DAY)
    load(api, runtime, clock, merchant.token, d)
    check(api, merchant.token, {
        "scenario_sleeping": {"sl15", "sl89"},
        "scenario_grow_new_members": {"grow10", "grow7"},
        "rec_silent": {"sl89", "sl90"},
        "rec_recent_buyers": {"sl15", "sl14", "loyal"},
        "rec_loyal": {"loyal"},
        "rec_returning": {"loyal"},
        "rec_fan_level": {"fan"},
        "rec_live_active_non_buyers": {"live"},
    })
