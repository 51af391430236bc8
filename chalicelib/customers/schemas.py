"""HTTP bodies for customer, order and event ingestion (validated one item at a time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from chalicelib.core.basemodel import Model
from chalicelib.core.schemas import Body, Day, PastDay, PastInstant

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_BATCH = 500


class Channel(StrEnum):
    WALLET = "wallet"
    INBOX = "inbox"
    SMS = "sms"
    EMAIL = "email"
    WEBHOOK = "webhook"
    STAFF_TASK = "staff_task"


class Consent(Body):
    """Per-channel marketing consent; SMS and e-mail are opt-in."""

    wallet: bool = True
    inbox: bool = True
    sms: bool = False
    email: bool = False
    webhook: bool = True
    staff_task: bool = True


class CardIn(Body):
    card_id: str = Field(pattern=ID)
    kind: str = Field(pattern=r"^(stored_value|times)$")
    balance_fen: int = Field(default=0, ge=0)
    remaining_count: int = Field(default=0, ge=0)
    expires_on: Day | None = None


class CustomerIn(Body):
    customer_id: str = Field(pattern=ID)
    nickname: str = Field(default="", max_length=32)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{6,15}$")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    gender: str = Field(default="unknown", pattern=r"^(male|female|unknown)$")
    birthday: PastDay | None = None
    age_band: str | None = Field(default=None, max_length=16)
    device_brand: str | None = Field(default=None, max_length=32)
    device_os: str | None = Field(default=None, max_length=32)
    region: str | None = Field(default=None, max_length=64)
    city_tier: int | None = Field(default=None, ge=1, le=6)
    registered_at: PastInstant | None = None
    phone_bound: bool = False
    member_level: int = Field(default=0, ge=0, le=100)
    fan_level: int = Field(default=0, ge=0, le=100)
    is_follower: bool = False
    tags: list[str] = Field(default_factory=list, max_length=50)
    staff_owner: str | None = Field(default=None, pattern=ID)
    consent: Consent = Field(default_factory=Consent)
    cards: list[CardIn] = Field(default_factory=list, max_length=20)
    risk_flag: bool = False


class OrderStatus(StrEnum):
    PAID = "paid"
    COMPLETED = "completed"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class CancelReason(StrEnum):
    NOT_ACCEPTED_IN_TIME = "not_accepted_in_time"
    CUSTOMER = "customer"
    MERCHANT = "merchant"
    OTHER = "other"


class ItemLine(Body):
    item_id: str = Field(pattern=ID)
    quantity: int = Field(default=1, ge=1, le=10_000)
    price_fen: int = Field(default=0, ge=0)


class OrderIn(Body):
    order_id: str = Field(pattern=ID)
    customer_id: str = Field(pattern=ID)
    paid_at: PastInstant
    amount_fen: int = Field(ge=0, le=10**12)
    discount_fen: int = Field(default=0, ge=0, le=10**12)
    items: list[ItemLine] = Field(default_factory=list, max_length=200)
    order_type: str = Field(default="standard", max_length=32)
    status: OrderStatus = OrderStatus.PAID
    coupon_instance_id: str | None = Field(default=None, pattern=ID)
    cancel_reason: CancelReason | None = Field(default=None, description="status cancelled: why; "
                                               "not_accepted_in_time (超时未接单) fires the order_timed_out trigger, "
                                               "any other cancellation order_cancelled")
    cancelled_at: PastInstant | None = Field(default=None, description="status cancelled: when (default: when the "
                                         "cancelled order is received)")


class EventType(StrEnum):
    VISIT = "visit"
    PRODUCT_VIEW = "product_view"
    LIVE_WATCH = "live_watch"
    LIVE_INTERACTION = "live_interaction"
    CART_VIEW = "cart_view"
    CART_CLICK = "cart_click"
    REVIEW = "review"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    SERVICE_COMPLETED = "service_completed"
    CARD_USED = "card_used"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_TIMED_OUT = "order_timed_out"
    FAN_LEVEL_UP = "fan_level_up"
    UNSUBSCRIBE = "unsubscribe"
    REGISTRATION = "registration"


class EventIn(Body):
    event_id: str = Field(pattern=ID)
    customer_id: str = Field(pattern=ID)
    type: EventType
    at: PastInstant
    value: int | None = Field(default=None, ge=0, le=10**9, description="seconds watched, new fan level, ...")
    content: str | None = Field(default=None, max_length=2000, description="review text")
    rating: str | None = Field(default=None, pattern=r"^(good|neutral|bad)$")
    interaction: str | None = Field(default=None, pattern=r"^(comment|like|share|gift)$")
    item_ids: list[str] = Field(default_factory=list, max_length=200)
    channel: Channel | None = Field(default=None, description="unsubscribe: the channel, or all when absent")
    card_id: str | None = Field(default=None, pattern=ID)
    order_id: str | None = Field(default=None, pattern=ID)


class BatchIn(Body):
    """A batch of at most 500 items; each item is validated on its own."""

    items: list[dict[str, Any]] = Field(description=f"1..{MAX_BATCH} items")


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


@dataclass(frozen=True)
class DocumentedItems:
    """The OpenAPI schema of a batch's items: `model`, inlined. At run time each item is still validated on its
    own, so that one bad item is reported by index instead of failing the whole batch. The schema is made when a
    document asks for it: making it at import would build `model` at every function's cold start."""

    model: type[BaseModel]

    def __get_pydantic_json_schema__(self, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = self.model.model_json_schema()
        item = _inline(schema, schema.pop("$defs", {}))
        return {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": item,
                "description": f"1..{MAX_BATCH} items, each a {self.model.__name__}"}


class CustomerBatchIn(BatchIn):
    items: Annotated[list[dict[str, Any]], DocumentedItems(CustomerIn)]


class OrderBatchIn(BatchIn):
    items: Annotated[list[dict[str, Any]], DocumentedItems(OrderIn)]


class EventBatchIn(BatchIn):
    items: Annotated[list[dict[str, Any]], DocumentedItems(EventIn)]


class ItemError(Model):
    field: str
    reason: str


class ItemResult(Model):
    index: int
    id: str | None
    ok: bool
    errors: list[ItemError] = []  # noqa: RUF012 (pydantic copies a default per instance)


class BatchResult(Model):
    accepted: int
    rejected: int
    results: list[ItemResult]


class Metrics(Model):
    """Derived metrics of a customer as of `as_of`."""

    as_of: datetime
    first_order_at: datetime | None
    last_order_at: datetime | None
    orders_total: int
    spend_total: int
    aov: int
    orders_30d: int
    spend_30d: int
    orders_90d: int
    spend_90d: int
    orders_180d: int
    spend_180d: int
    days_since_last_order: int | None
    last_visit_at: datetime | None
    live_watch_seconds_30d: int
    live_interactions_30d: int
    product_views_30d: int
    cart_views_30d: int
    cart_clicks_30d: int
    reviews_30d: int
    review_good_30d: int
    is_follower: bool
    fan_level: int
    reachable_channels: list[str]


class CustomerOut(Model):
    customer_id: str
    profile: dict[str, Any] | None
    metrics: Metrics


class OrderOut(Model):
    """An order as it was last ingested."""

    order_id: str
    customer_id: str
    paid_at: datetime
    amount_fen: int
    discount_fen: int = 0
    items: list[ItemLine] = []  # noqa: RUF012 (pydantic copies a default per instance)
    order_type: str = "standard"
    status: str
    coupon_instance_id: str | None = None


class OrderPage(Model):
    items: list[OrderOut]
    next_cursor: str | None = None
