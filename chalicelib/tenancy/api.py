"""Routes: health, settings and API keys."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import ValidationError

from chalicelib import wiring
from chalicelib.core.auth import ADMIN_ONLY, ALL_ROLES, Role
from chalicelib.core.clock import to_iso
from chalicelib.core.egress import Refused, check_url
from chalicelib.core.errors import Invalid
from chalicelib.core.http import Reply, Request, invalid_from, route
from chalicelib.core.idempotency import derive_id
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.core.schemas import ListQuery, merge_patch
from chalicelib.tenancy.model import ApiKey, MerchantSettings
from chalicelib.tenancy.schemas import (
    Health,
    KeyCreated,
    KeyIn,
    KeyOut,
    KeyPage,
    SettingsIn,
    SettingsOut,
    SettingsPatch,
)

bp = Blueprint(__name__)
TAG = "tenancy"


def _settings_out(merchant_id: str, settings: MerchantSettings, version: int) -> SettingsOut:
    data = settings.model_dump(exclude={"webhook_secret"})
    return SettingsOut(merchant_id=merchant_id, version=version, webhook_secret_set=bool(settings.webhook_secret),
                       **data)


def _key_out(key: ApiKey) -> KeyOut:
    return KeyOut(key_id=key.key_id, role=key.role, staff_id=key.staff_id, label=key.label,
                  created_at=key.created_at, revoked_at=key.revoked_at)


@route(bp, "/v1/health", "GET", summary="Liveness", tag=TAG, roles=None, response=Health)
def health(req: Request) -> Health:
    return Health(status="ok", time=to_iso(wiring.now()))


@route(bp, "/v1/settings", "GET", summary="Read the merchant's settings", tag=TAG,
       roles=ALL_ROLES - {Role.STAFF}, response=SettingsOut)
def get_settings(req: Request) -> Reply:
    settings, version = wiring.tenancy_service().settings(req.principal.merchant_id)
    return Reply(_settings_out(req.principal.merchant_id, settings, version), headers={"ETag": f'"{version}"'})


def _checked(merchant: str, document: dict[str, Any]) -> MerchantSettings:
    """The settings a PUT or a merged PATCH would store, validated whole (the webhook address against the egress
    policy too, the senders against the identities registered to this merchant)."""
    try:
        new = MerchantSettings.model_validate(document)
    except ValidationError as exc:
        raise invalid_from(exc, "body") from exc
    if new.webhook_url is not None:
        try:
            check_url(new.webhook_url, wiring.egress_policy())
        except Refused as exc:
            raise Invalid(f"webhook_url {exc}", field="body.webhook_url") from exc
    wiring.sender_registry().check_settings(merchant, new.email_sender, new.sms_sender_id)
    return new


def _cache(merchant_id: str, settings: MerchantSettings) -> None:
    # The writing process sees its change at once (make serve and the demo run every function in one process, and
    # a campaign loosened right after its ceiling was raised must send under it); others within the cache's minute.
    wiring.settings_cache().put(merchant_id, settings)


@route(bp, "/v1/settings", "PUT", summary="Replace the merchant's settings: the body is the whole document and a "
       "field left out takes its default (webhook_secret left out keeps the stored one); PATCH changes only the "
       "fields given", tag=TAG, roles=ADMIN_ONLY, body=SettingsIn, response=SettingsOut, if_match=True)
def put_settings(req: Request) -> Reply:
    body: SettingsIn = req.body
    new = _checked(req.principal.merchant_id, body.model_dump())
    given = "webhook_secret" in body.model_fields_set
    settings, version = wiring.tenancy_service().put_settings(req.principal.merchant_id, new, req.if_match, given)
    _cache(req.principal.merchant_id, settings)
    return Reply(_settings_out(req.principal.merchant_id, settings, version), headers={"ETag": f'"{version}"'})


@route(bp, "/v1/settings", "PATCH", summary="Change only the settings given (JSON Merge Patch, RFC 7396: sections "
       "merge field by field, null resets a field to its default); If-Match makes it conditional (412 when stale)",
       tag=TAG, roles=ADMIN_ONLY, body=SettingsPatch, response=SettingsOut, if_match=True)
def patch_settings(req: Request) -> Reply:
    merchant = req.principal.merchant_id
    service = wiring.tenancy_service()
    current, version = service.settings(merchant)
    # Without If-Match the write is still conditional on the version read here: a concurrent change is never lost.
    expected = req.if_match if req.if_match is not None else version
    patch = req.body.model_dump(mode="json", exclude_unset=True)
    new = _checked(merchant, merge_patch(current.model_dump(mode="json"), patch))
    settings, version = service.put_settings(merchant, new, expected, secret_given=True)
    _cache(merchant, settings)
    return Reply(_settings_out(merchant, settings, version), headers={"ETag": f'"{version}"'})


@route(bp, "/v1/keys", "POST", summary="Create an API key", tag=TAG, roles=ADMIN_ONLY, body=KeyIn,
       response=KeyCreated, status=201, idempotent=True)
def create_key(req: Request) -> Reply:
    body: KeyIn = req.body
    merchant = req.principal.merchant_id
    key_id = derive_id("k", merchant, "keys", req.idempotency_key)
    issued = wiring.tenancy_service().create_key(merchant, body.role, staff_id=body.staff_id, label=body.label,
                                                 key_id=key_id)
    out = KeyCreated(api_key=issued.token, **_key_out(issued.key).model_dump())
    return Reply(out, status=201)


@route(bp, "/v1/keys", "GET", summary="List API keys", tag=TAG, roles=ADMIN_ONLY, query=ListQuery,
       response=KeyPage)
def list_keys(req: Request) -> KeyPage:
    q: ListQuery = req.query
    merchant = req.principal.merchant_id
    keys, last = wiring.tenancy_service().list_keys(merchant, q.limit, decode_cursor(q.cursor, merchant))
    return KeyPage(items=[_key_out(k) for k in keys], next_cursor=encode_cursor(last))


@route(bp, "/v1/keys/{key_id}", "DELETE", summary="Revoke an API key", tag=TAG, roles=ADMIN_ONLY,
       response=KeyOut)
def revoke_key(req: Request, key_id: str) -> KeyOut:
    if not key_id:
        raise Invalid("key id is required", field="path.key_id")
    key = wiring.tenancy_service().revoke_key(req.principal.merchant_id, key_id, req.principal.key_id)
    return _key_out(key)
