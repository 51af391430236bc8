"""API key tokens: `mkt.<merchant>.<key id>.<secret>`, their one pattern, and the hash that is stored."""

from __future__ import annotations

import hashlib
import re

TOKEN_PREFIX = "mkt"
# The whole Authorization header. API Gateway applies the same expression before it invokes the authorizer
# (identityValidationExpression, infra/stack/api.py), so a malformed header costs no Lambda invocation there and
# gets the same 401 as here.
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
