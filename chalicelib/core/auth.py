"""Who is calling: roles and the principal an API key resolves to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Key roles of SPEC §2."""

    ADMIN = "admin"
    OPERATOR = "operator"
    STAFF = "staff"
    READONLY = "readonly"


ALL_ROLES = frozenset(Role)
WRITERS = frozenset({Role.ADMIN, Role.OPERATOR})
READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.READONLY})
ADMIN_ONLY = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class Principal:
    """The caller: merchant and role come from the credential only."""

    merchant_id: str
    role: Role
    key_id: str
    staff_id: str | None = None
