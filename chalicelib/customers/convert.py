"""Stored JSON documents (the ingestion schemas' dumps) → the pure domain objects of customers.model."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.core.clock import parse_iso
from chalicelib.customers.model import Card, Consent, CustomerProfile, EventFact, OrderFact


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def profile_from_doc(customer_id: str, doc: dict[str, Any] | None) -> CustomerProfile:
    """A profile; a customer known only from orders/events gets an empty one (no consent)."""
    if not doc:
        return CustomerProfile(customer_id=customer_id)
    consent = doc.get("consent") or {}
    return CustomerProfile(
        customer_id=customer_id,
        nickname=doc.get("nickname") or None,
        phone=doc.get("phone"),
        gender=doc.get("gender"),
        birthday=_date(doc.get("birthday")),
        age_band=doc.get("age_band"),
        device_brand=doc.get("device_brand"),
        device_os=doc.get("device_os"),
        region=doc.get("region"),
        city_tier=None if doc.get("city_tier") is None else int(doc["city_tier"]),
        registered_at=parse_iso(doc["registered_at"]) if doc.get("registered_at") else None,
        phone_bound=bool(doc.get("phone_bound")),
        member_level=int(doc.get("member_level") or 0),
        fan_level=int(doc.get("fan_level") or 0),
        is_follower=bool(doc.get("is_follower")),
        tags=frozenset(doc.get("tags") or ()),
        staff_owner=doc.get("staff_owner"),
        risk_flagged=bool(doc.get("risk_flag")),
        consent=Consent(**{k: bool(v) for k, v in consent.items()}),
        cards=tuple(Card(c["card_id"], c["kind"], int(c.get("balance_fen") or 0), int(c.get("remaining_count") or 0),
                         _date(c.get("expires_on"))) for c in doc.get("cards") or ()),
    )


def order_from_doc(doc: dict[str, Any]) -> OrderFact:
    return OrderFact(
        order_id=doc["order_id"], customer_id=doc["customer_id"], paid_at=parse_iso(doc["paid_at"]),
        amount_fen=int(doc["amount_fen"]), status=doc["status"], discount_fen=int(doc.get("discount_fen") or 0),
        items=tuple(line["item_id"] for line in doc.get("items") or ()), order_type=doc.get("order_type") or "",
        coupon_instance_id=doc.get("coupon_instance_id"))


def event_from_doc(doc: dict[str, Any]) -> EventFact:
    rating = doc.get("rating")
    return EventFact(
        event_id=doc["event_id"], customer_id=doc["customer_id"], type=doc["type"], at=parse_iso(doc["at"]),
        value=doc.get("value"), content=doc.get("content"),
        rating=rating if rating in ("good", "bad") else None,
        channel=doc.get("channel"), order_id=doc.get("order_id"), items=tuple(doc.get("item_ids") or ()))
