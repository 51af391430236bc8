"""Personal data in responses, by role: phones always masked; e-mail and birthday in full only to admin / operator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.auth import Role

# Roles that run campaigns and so may see whom they reach; readonly keys are for reports (SPEC §2).
FULL_CONTACT = frozenset({Role.ADMIN, Role.OPERATOR})


def mask_phone(phone: str | None) -> str | None:
    """Keep the country prefix / first three and the last four digits (every role: SPEC §3)."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return phone[:1] + "*" * (len(phone) - 1)
    return phone[:-8] + "****" + phone[-4:] if phone.startswith("+") else phone[:3] + "****" + phone[-4:]


def mask_email(email: str | None) -> str | None:
    """`a***@example.com`: the domain stays (it says which provider), the mailbox goes."""
    if not email:
        return email
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


def shown_profile(profile: Mapping[str, Any], role: Role) -> dict[str, Any]:
    """A stored profile as `role` may see it."""
    shown = dict(profile)
    shown["phone"] = mask_phone(shown.get("phone"))
    if role not in FULL_CONTACT:
        shown["email"] = mask_email(shown.get("email"))
        if shown.get("birthday") is not None:
            shown["birthday"] = None  # the day alone is enough to re-identify with the name and region
    return shown
