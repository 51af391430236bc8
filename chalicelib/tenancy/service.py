"""Tenancy use cases: create merchants, issue / revoke keys, authenticate, settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from chalicelib.core.apikeys import hash_secret, make_token, parse_token, verify
from chalicelib.core.auth import Principal, Role
from chalicelib.core.clock import Clock, to_iso
from chalicelib.core.errors import Conflict, Invalid, NotFound
from chalicelib.core.ids import new_id
from chalicelib.core.ports import Repo
from chalicelib.core.records import AlreadyExists, Record
from chalicelib.tenancy.model import ApiKey, Merchant, MerchantSettings

SETTINGS_ID = "current"
PROFILE_ID = "profile"


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str


def _key(record: Record) -> ApiKey:
    d = record.data
    return ApiKey(record.merchant_id, record.id, Role(d["role"]), d.get("staff_id"), d["secret_hash"],
                  d.get("label", ""), record.created_at, d.get("revoked_at"))


class TenancyService:
    """Merchants, keys and settings for one deployment."""

    def __init__(self, merchants: Repo, keys: Repo, settings: Repo, clock: Clock) -> None:
        self._merchants = merchants
        self._keys = keys
        self._settings = settings
        self._clock = clock

    def create_merchant(self, name: str, timezone: str = "Asia/Shanghai") -> tuple[Merchant, IssuedKey]:
        """A new tenant with default settings and its first admin key."""
        if not name.strip() or len(name) > 64:
            raise Invalid("name must be 1-64 characters", field="name")
        settings = MerchantSettings(store_name=name, timezone=timezone)
        merchant_id = new_id("m", 12)
        now = self._clock()
        record = self._merchants.create(merchant_id, PROFILE_ID, {"name": name}, now)
        self._settings.create(merchant_id, SETTINGS_ID, settings.model_dump(mode="json"), now)
        issued = self.create_key(merchant_id, Role.ADMIN, label="initial admin key")
        return Merchant(merchant_id, name, record.created_at), issued

    def merchant(self, merchant_id: str) -> Merchant:
        record = self._merchants.require(merchant_id, PROFILE_ID)
        return Merchant(merchant_id, record.data["name"], record.created_at)

    def create_key(self, merchant_id: str, role: Role, *, staff_id: str | None = None, label: str = "",
                   key_id: str | None = None) -> IssuedKey:
        if role is Role.STAFF and not staff_id:
            raise Invalid("a staff key must name its staff id", field="staff_id")
        if role is not Role.STAFF and staff_id:
            raise Invalid("only staff keys carry a staff id", field="staff_id")
        secret = secrets.token_urlsafe(32)
        key_id = key_id or new_id("k", 12)
        data: dict[str, Any] = {"role": role.value, "staff_id": staff_id, "label": label,
                                "secret_hash": hash_secret(secret), "revoked_at": None}
        try:
            record = self._keys.create(merchant_id, key_id, data, self._clock())
        except AlreadyExists as exc:
            raise Conflict("this Idempotency-Key already created a key; its secret is shown only once",
                           field="header.Idempotency-Key") from exc
        return IssuedKey(_key(record), make_token(merchant_id, key_id, secret))

    def list_keys(self, merchant_id: str, limit: int, start_key: dict[str, Any] | None
                  ) -> tuple[list[ApiKey], dict[str, Any] | None]:
        records, last = self._keys.list(merchant_id, limit=limit, start_key=start_key)
        return [_key(r) for r in records], last

    def revoke_key(self, merchant_id: str, key_id: str, caller_key_id: str) -> ApiKey:
        record = self._keys.get(merchant_id, key_id)
        if record is None:
            raise NotFound(f"no key {key_id}", field="path.key_id")
        if key_id == caller_key_id:
            raise Conflict("a key cannot revoke itself; use another admin key", field="path.key_id")
        if record.data.get("revoked_at"):
            return _key(record)
        data = dict(record.data, revoked_at=to_iso(self._clock()))
        return _key(self._keys.update(merchant_id, key_id, data, self._clock(), expected_version=record.version))

    def authenticate(self, header: str) -> Principal | None:
        """The principal of a Bearer token, or None for anything unknown, wrong or revoked (the authorizer's check,
        chalicelib/core/apikeys.py, through this service's key repository)."""
        parsed = parse_token(header)
        if parsed is None:
            return None
        merchant_id, key_id, secret = parsed
        record = self._keys.get(merchant_id, key_id)
        return verify(merchant_id, key_id, secret, record.data if record else None)

    def settings(self, merchant_id: str) -> tuple[MerchantSettings, int]:
        record = self._settings.require(merchant_id, SETTINGS_ID)
        return MerchantSettings.model_validate(record.data), record.version

    def put_settings(self, merchant_id: str, new: MerchantSettings, expected_version: int | None,
                     secret_given: bool) -> tuple[MerchantSettings, int]:
        current, _ = self.settings(merchant_id)
        if not secret_given:
            new = new.model_copy(update={"webhook_secret": current.webhook_secret})
        record = self._settings.update(merchant_id, SETTINGS_ID, new.model_dump(mode="json"), self._clock(),
                                       expected_version=expected_version)
        return MerchantSettings.model_validate(record.data), record.version
