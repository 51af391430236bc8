"""A deterministic, realistic sample merchant: customers with a year of orders and behaviour."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.core.clock import to_iso

NICK = ["小王", "阿May", "Leo", "婷婷", "老张", "Coco", "阿杰", "Vivian", "豆豆", "Max", "晓晓", "Kiki"]
REGIONS = ["上海", "北京", "杭州", "成都", "广州", "深圳", "南京", "武汉"]
BRANDS = [("Apple", "iOS"), ("Huawei", "HarmonyOS"), ("Xiaomi", "Android"), ("OPPO", "Android")]
ITEMS = [f"sku_{i:03d}" for i in range(40)]
STAFF = ["staff_li", "staff_wang", "staff_zhao"]


@dataclass
class Sample:
    """Everything to load, already in the API's JSON shapes."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _phone(rng: random.Random) -> str:
    return "+86" + rng.choice(["138", "139", "186", "155", "177"]) + f"{rng.randrange(10**8):08d}"


def generate(n_customers: int, now: datetime, seed: int = 7) -> Sample:
    """`n_customers` customers; orders and events over the 365 days before `now` (UTC)."""
    rng = random.Random(seed)
    sample = Sample()
    start = now - timedelta(days=365)
    for i in range(n_customers):
        cid = f"c{i:05d}"
        brand, os_name = rng.choice(BRANDS)
        registered = start - timedelta(days=rng.randrange(0, 400)) + timedelta(days=rng.randrange(0, 365))
        registered = min(registered, now - timedelta(hours=1))
        birthday = date(rng.randrange(1965, 2006), rng.randrange(1, 13), rng.randrange(1, 29))
        if i % 97 == 0:
            birthday = date(2000, 2, 29)
        sample.customers.append({
            "customer_id": cid, "nickname": f"{rng.choice(NICK)}{i}", "phone": _phone(rng),
            "email": f"{cid}@example.com" if i % 3 == 0 else None,
            "gender": rng.choice(["male", "female", "unknown"]), "birthday": birthday.isoformat(),
            "age_band": rng.choice(["18-24", "25-34", "35-44", "45+"]), "device_brand": brand, "device_os": os_name,
            "region": rng.choice(REGIONS), "city_tier": rng.randrange(1, 5), "registered_at": to_iso(registered),
            "phone_bound": rng.random() < 0.8, "member_level": rng.randrange(0, 5), "fan_level": rng.randrange(0, 4),
            "is_follower": rng.random() < 0.4, "tags": rng.sample(["学生", "白领", "宝妈", "夜猫子", "吃货"], 2),
            "staff_owner": rng.choice(STAFF) if i % 4 == 0 else None,
            "consent": {"wallet": True, "inbox": True, "sms": rng.random() < 0.6, "email": i % 3 == 0,
                        "webhook": True, "staff_task": True},
            "cards": ([{"card_id": f"card_{cid}", "kind": rng.choice(["stored_value", "times"]),
                        "balance_fen": rng.randrange(0, 50_000), "remaining_count": rng.randrange(0, 12),
                        "expires_on": (now + timedelta(days=rng.randrange(-30, 200))).date().isoformat()}]
                      if i % 5 == 0 else []),
        })
        _activity(rng, sample, cid, i, max(registered, start), now)
    return sample


def _activity(rng: random.Random, sample: Sample, cid: str, i: int, since: datetime, now: datetime) -> None:
    """Orders and events of one customer: a mix of loyal, lapsed, new and never-buying people."""
    persona = i % 10
    span = max(1, int((now - since).total_seconds() // 3600))
    n_orders = [0, 1, 1, 2, 3, 5, 8, 12, 2, 0][persona]
    for k in range(n_orders):
        if persona == 8:  # lapsed: bought long ago only
            at = now - timedelta(days=rng.randrange(100, 360), minutes=rng.randrange(1440))
        else:
            at = since + timedelta(hours=rng.randrange(span))
        at = min(at, now - timedelta(minutes=5))
        status = rng.choices(["completed", "paid", "refunded", "cancelled"], [70, 20, 5, 5])[0]
        picks = [(rng.choice(ITEMS), rng.randrange(1, 3), rng.randrange(990, 9900)) for _ in range(rng.randrange(1, 4))]
        lines = [{"item_id": item, "quantity": qty, "price_fen": price} for item, qty, price in picks]
        amount = sum(qty * price for _, qty, price in picks)
        sample.orders.append({
            "order_id": f"o{i:05d}_{k}", "customer_id": cid, "paid_at": to_iso(at), "amount_fen": amount,
            "discount_fen": 0, "items": lines, "order_type": rng.choice(["delivery", "dine_in", "service"]),
            "status": status,
        })
    for k in range(rng.randrange(0, 12)):
        at = min(now - timedelta(minutes=1), now - timedelta(days=rng.randrange(0, 60), minutes=rng.randrange(1440)))
        kind = rng.choice(["visit", "visit", "product_view", "live_watch", "live_interaction", "cart_view",
                           "cart_click", "review", "follow"])
        event: dict[str, Any] = {"event_id": f"e{i:05d}_{k}", "customer_id": cid, "type": kind, "at": to_iso(at)}
        if kind == "live_watch":
            event["value"] = rng.randrange(3, 600)
        elif kind == "live_interaction":
            event["interaction"] = rng.choice(["comment", "like", "share", "gift"])
        elif kind == "review":
            good = rng.random() < 0.7
            event["rating"] = "good" if good else "bad"
            event["content"] = "很好吃，服务也好" if good and rng.random() < 0.8 else ""
        elif kind == "product_view":
            event["item_ids"] = [rng.choice(ITEMS)]
        sample.events.append(event)


def demo_now() -> datetime:
    """The demo's fixed "now": a Monday morning in Shanghai (01:30 UTC = 09:30 local)."""
    return datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
