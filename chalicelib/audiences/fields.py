"""The audience field catalogue: every rule field with its type, operators, meaning and value parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from chalicelib.customers.model import CARD_KINDS, CHANNELS, GENDERS, CardKind

FieldType = Literal["string", "number", "money_fen", "boolean", "date", "datetime", "string_set", "enum"]
OPERATORS: tuple[str, ...] = (
    "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains", "is_set", "is_not_set",
    "within_days", "not_within_days", "birthday_in_days", "birthday_this_month",
)
_ORDERED = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between")
_BY_TYPE: dict[FieldType, tuple[str, ...]] = {
    "string": ("eq", "ne", "in", "not_in", "contains"),
    "enum": ("eq", "ne", "in", "not_in"),
    "number": _ORDERED,
    "money_fen": _ORDERED,
    "boolean": ("eq", "ne"),
    "date": _ORDERED,
    "datetime": ("gt", "gte", "lt", "lte", "between", "within_days", "not_within_days"),
    "string_set": ("contains", "in", "not_in", "is_set", "is_not_set"),
}
MAX_TEXT = 200
MAX_NUMBER = 10**15
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")

Scalar = str | int | bool | date | datetime


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the rule language; `source` is the CustomerFacts attribute (Card attribute for cards)."""

    name: str
    type: FieldType
    label: str
    description: str
    nullable: bool = False
    values: tuple[str, ...] = ()
    extra_operators: tuple[str, ...] = ()
    source: str = ""
    card: bool = False
    card_kind: CardKind | None = None  # cards this field reads, whatever the selector says
    days_from_today: bool = False  # value is a day count from as_of's local date, compared as a date

    @property
    def operators(self) -> tuple[str, ...]:
        """Operators this field accepts, in catalogue order."""
        allowed = (*_BY_TYPE[self.type], *self.extra_operators)
        if self.nullable and self.type != "string_set":
            allowed = (*allowed, "is_set", "is_not_set")
        return tuple(op for op in OPERATORS if op in allowed)

    @property
    def attr(self) -> str:
        """The attribute read at evaluation."""
        return self.source or self.name

    def to_json(self) -> dict[str, object]:
        """The catalogue entry as GET /v1/audience-fields returns it."""
        entry: dict[str, object] = {
            "name": self.name, "type": self.type, "label": self.label, "operators": list(self.operators),
            "description": self.description, "nullable": self.nullable,
        }
        if self.values:
            entry["values"] = list(self.values)
        if self.card:
            entry["card_selector"] = {"kind": list(CARD_KINDS), "card_id": "string", "active": "boolean"}
        return entry

    def parse(self, raw: object) -> Scalar:
        """One value of this field's type from rule JSON; ValueError names what is wrong."""
        kind = "number" if self.days_from_today else self.type
        if kind in ("string", "enum", "string_set"):
            if not isinstance(raw, str) or not raw or len(raw) > MAX_TEXT:
                raise ValueError(f"must be a non-empty string of at most {MAX_TEXT} characters")
            if self.values and raw not in self.values:
                raise ValueError(f"must be one of {', '.join(self.values)}")
            return raw
        if kind in ("number", "money_fen"):
            if isinstance(raw, bool) or not isinstance(raw, int) or abs(raw) > MAX_NUMBER:
                raise ValueError("must be an integer" + (" number of fen" if kind == "money_fen" else ""))
            return raw
        if kind == "boolean":
            if not isinstance(raw, bool):
                raise ValueError("must be true or false")
            return raw
        if kind == "date":
            if not isinstance(raw, str) or not _DATE.match(raw):
                raise ValueError("must be a date YYYY-MM-DD")
            return date.fromisoformat(raw)
        if not isinstance(raw, str) or not _INSTANT.match(raw):
            raise ValueError("must be an ISO-8601 instant with a UTC offset, e.g. 2026-01-01T00:00:00+08:00")
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))


_LOCAL_DAYS = "counted per local calendar day: the N days ending today (merchant time zone)"
_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("gender", "enum", "性别", "Gender.", nullable=True, values=GENDERS),
    FieldSpec("age_band", "string", "年龄段", "Age band as the merchant labels it, e.g. 18-23.", nullable=True),
    FieldSpec("birthday", "date", "生日", "Birthday; birthday_in_days N matches a birthday N days from today "
              "(0 = today; 29 Feb falls on 28 Feb in other years).", nullable=True,
              extra_operators=("birthday_in_days", "birthday_this_month")),
    FieldSpec("region", "string", "地区", "Region (province / city).", nullable=True),
    FieldSpec("city_tier", "number", "城市等级", "City tier, 1 = first-tier.", nullable=True),
    FieldSpec("device_brand", "string", "设备品牌", "Phone brand.", nullable=True),
    FieldSpec("device_os", "string", "设备系统", "Phone operating system.", nullable=True),
    FieldSpec("registered_at", "datetime", "注册时间", "When the customer registered.", nullable=True),
    FieldSpec("phone_bound", "boolean", "已绑定手机", "Whether a phone number is bound."),
    FieldSpec("member_level", "number", "会员等级", "Membership level, 0 = not a member."),
    FieldSpec("fan_level", "number", "粉丝等级", "Fan level, 0 = none."),
    FieldSpec("is_follower", "boolean", "关注店铺", "Follows the store now (latest follow event, else the profile)."),
    FieldSpec("tags", "string_set", "标签", "Free tags; contains = has the tag, in = has any, not_in = has none."),
    FieldSpec("staff_owner", "string", "所属员工", "Staff id whose friend the customer is.", nullable=True),
    FieldSpec("risk_flagged", "boolean", "风险用户", "Flagged as a coupon abuser (羊毛党)."),
    FieldSpec("reachable_channels", "string_set", "可触达渠道", "Channels with consent and no unsubscribe.",
              values=CHANNELS),
    FieldSpec("first_order_at", "datetime", "首次购买时间", "First purchase (paid or completed order) ever.",
              nullable=True),
    FieldSpec("last_order_at", "datetime", "最近购买时间", "Latest purchase.", nullable=True),
    FieldSpec("orders_total", "number", "累计购买次数", "Purchases ever."),
    FieldSpec("spend_total", "money_fen", "累计消费金额", "Amount paid over all purchases, fen."),
    FieldSpec("aov", "money_fen", "客单价", "Average order value, fen (spend_total // orders_total, 0 when none)."),
    FieldSpec("orders_15d", "number", "近15天购买次数", "Purchases within 15 days."),
    FieldSpec("orders_30d", "number", "近30天购买次数", "Purchases within 30 days (as_of - 30 d < paid_at <= as_of)."),
    FieldSpec("spend_30d", "money_fen", "近30天消费金额", "Amount paid within 30 days, fen."),
    FieldSpec("orders_90d", "number", "近90天购买次数", "Purchases within 90 days."),
    FieldSpec("spend_90d", "money_fen", "近90天消费金额", "Amount paid within 90 days, fen."),
    FieldSpec("orders_180d", "number", "近180天购买次数", "Purchases within 180 days."),
    FieldSpec("spend_180d", "money_fen", "近180天消费金额", "Amount paid within 180 days, fen."),
    FieldSpec("aov_180d", "money_fen", "近180天客单价", "Average order value within 180 days, fen (0 when none)."),
    FieldSpec("days_since_last_order", "number", "距上次购买天数",
              "Local calendar days from the latest purchase's date to today.", nullable=True),
    FieldSpec("ordered_yesterday", "boolean", "昨日购买", "Purchased yesterday (local calendar day)."),
    FieldSpec("last_visit_at", "datetime", "最近进店时间", "Latest store visit.", nullable=True),
    FieldSpec("visited_yesterday", "boolean", "昨日进店", "Visited the store yesterday (local calendar day)."),
    FieldSpec("visits_30d", "number", "近30天进店次数", f"Store visits, {_LOCAL_DAYS}."),
    FieldSpec("live_watch_seconds_30d", "number", "近30天观看直播时长", f"Seconds of live watched, {_LOCAL_DAYS}."),
    FieldSpec("live_interactions_30d", "number", "近30天直播互动次数",
              f"Live comments, likes, shares and gifts, {_LOCAL_DAYS}."),
    FieldSpec("product_views_30d", "number", "近30天商品浏览次数", f"Product views, {_LOCAL_DAYS}."),
    FieldSpec("cart_views_30d", "number", "近30天购物车浏览次数", f"Cart views, {_LOCAL_DAYS}."),
    FieldSpec("cart_clicks_30d", "number", "近30天购物车点击次数", f"Cart clicks, {_LOCAL_DAYS}."),
    FieldSpec("reviews_30d", "number", "近30天评价次数", f"Reviews written, {_LOCAL_DAYS}."),
    FieldSpec("review_good_30d", "number", "近30天好评次数", f"Good reviews with content, {_LOCAL_DAYS}."),
    FieldSpec("product_views_15d", "number", "近15天商品浏览次数", "Product views, the 15 local days ending today."),
    FieldSpec("live_watch_max_seconds_15d", "number", "近15天单次最长观看",
              "Longest single live watch in seconds, the 15 local days ending today."),
    FieldSpec("last_review_at", "datetime", "最近评价时间", "Latest review.", nullable=True),
    FieldSpec("last_good_review_at", "datetime", "最近好评时间", "Latest good review with content.", nullable=True),
    FieldSpec("last_service_at", "datetime", "最近服务时间", "Latest completed service.", nullable=True),
    FieldSpec("last_card_used_at", "datetime", "最近用卡时间", "Latest card use.", nullable=True),
    FieldSpec("card_balance", "money_fen", "储值卡余额", "Balance of a stored-value card, fen; matches when ANY "
              "selected card matches (negative operators: when none does).", nullable=True, card=True,
              card_kind="stored_value", source="balance_fen"),
    FieldSpec("card_remaining_count", "number", "次卡剩余次数", "Remaining uses of a times card; ANY selected card.",
              nullable=True, card=True, card_kind="times", source="remaining_count"),
    FieldSpec("card_expires_on", "date", "卡到期日", "Expiry date of a card; ANY selected card.", nullable=True,
              card=True, source="expires_on"),
    FieldSpec("card_expires_in_days", "number", "卡剩余有效天数", "Days from today until a card expires (negative once "
              "expired), e.g. between [0, 7]; ANY selected card.", nullable=True, card=True, source="expires_on",
              days_from_today=True),
)
FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in _FIELDS}


def catalogue() -> list[dict[str, object]]:
    """Every field, for GET /v1/audience-fields."""
    return [spec.to_json() for spec in _FIELDS]
