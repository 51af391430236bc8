"""API keys as the authorizer checks them: the token `mkt.<merchant>.<key id>.<secret>`, its one pattern, the stored
hash, and the check of a presented key against its item in the keys table.

The authorizer Lambda imports this module and core's few others only (not app.py, not the wiring): its first
invocation is boto3, one DynamoDB client and one GetItem. Tenancy issues and revokes the keys (tenancy/service.py)
with the same token functions and the same check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import boto3

from chalicelib.core.auth import Principal, Role
from chalicelib.core.config import get_config

TOKEN_PREFIX = "mkt"
KEY_KIND = "KEY"  # the keys table's sort key is KEY#<key id> (core/dynamo.py KeyItem, DefinitionRepo("KEY"))
# The whole Authorization header. API Gateway applies the same expression before it invokes the authorizer
# (identityValidationExpression, infra/stack/api.py), so a malformed header costs no Lambda invocation there and
# gets the same 401 locally (infra/local/gateway.py).
_PART = r"([A-Za-z0-9_-]{1,64})"
HEADER_PATTERN = rf"^(?:[Bb][Ee][Aa][Rr][Ee][Rr] +)?{TOKEN_PREFIX}\.{_PART}\.{_PART}\.([A-Za-z0-9_-]{{1,128}})$"
_HEADER = re.compile(HEADER_PATTERN)


def hash_secret(secret: str) -> str:
    """SHA-256 of a 256-bit random secret: brute force is out of reach, so no slow KDF is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def make_token(merchant_id: str, key_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}.{merchant_id}.{key_id}.{secret}"


def parse_token(header: str) -> tuple[str, str, str] | None:
    """(merchant, key id, secret) from 'Bearer mkt.m.k.s', or None if it is not one of ours."""
    match = _HEADER.fullmatch(header)
    if match is None:
        return None
    merchant_id, key_id, secret = match.groups()
    return merchant_id, key_id, secret


def verify(merchant_id: str, key_id: str, secret: str, data: Mapping[str, Any] | None) -> Principal | None:
    """The principal of a presented key given its stored data, or None: unknown, revoked or the wrong secret."""
    if not data or data.get("revoked_at"):
        return None
    if not hmac.compare_digest(str(data.get("secret_hash", "")), hash_secret(secret)):
        return None
    try:
        role = Role(data["role"])
    except (KeyError, ValueError):
        return None
    return Principal(merchant_id, role, key_id, data.get("staff_id") or None)


@cache
def _dynamodb() -> Any:
    cfg = get_config()
    return boto3.client("dynamodb", region_name=cfg.region, endpoint_url=cfg.endpoint_url)


def reset() -> None:
    """Forget the client (the wiring's reset: tests that switch endpoints)."""
    _dynamodb.cache_clear()


def lookup(merchant_id: str, key_id: str) -> dict[str, Any] | None:
    """The key's stored data (one strongly consistent GetItem: a revocation counts at once), or None."""
    item = _dynamodb().get_item(
        TableName=get_config().table("keys"), Key={"pk": {"S": merchant_id}, "sk": {"S": f"{KEY_KIND}#{key_id}"}},
        ConsistentRead=True, ProjectionExpression="#d", ExpressionAttributeNames={"#d": "data"}).get("Item")
    if not item or "S" not in item.get("data", {}):
        return None
    data: dict[str, Any] = json.loads(item["data"]["S"])
    return data


def authenticate(header: str) -> Principal | None:
    """The principal of an Authorization header, or None for anything malformed, unknown, wrong or revoked."""
    parsed = parse_token(header)
    if parsed is None:
        return None
    merchant_id, key_id, secret = parsed
    return verify(merchant_id, key_id, secret, lookup(merchant_id, key_id))
