"""The Chalice authorizer: a Bearer API key becomes (merchant, role, staff id).

Routes (core.http) attach it when they are declared, so it lives in core; resolving a key is tenancy's, wired in
by the app (`use_key_resolver(wiring.tenancy_service().authenticate)` in app.py), so core imports no package above it.
"""

from __future__ import annotations

from collections.abc import Callable

from chalice import AuthResponse, Blueprint
from chalice.app import AuthRequest

from chalicelib.core.auth import Principal

KeyResolver = Callable[[str], Principal | None]
auth_blueprint = Blueprint(__name__)
# API Gateway caches an answer per token this long: a flood of one bad token costs one invocation a minute, and a
# revoked key is refused within that time (chalice's local gateway caches nothing: locally at once).
CACHE_SECONDS = 60
_resolvers: dict[str, KeyResolver] = {}


def use_key_resolver(resolve: KeyResolver) -> None:
    """Set what turns a Bearer header into a principal (None: unknown, wrong or revoked)."""
    _resolvers["key"] = resolve


@auth_blueprint.authorizer(ttl_seconds=CACHE_SECONDS)
def api_key_authorizer(auth_request: AuthRequest) -> AuthResponse:
    """Resolve the key; an unknown or revoked key gets no routes (API Gateway answers 403)."""
    if "key" not in _resolvers:
        raise RuntimeError("no key resolver: app.py calls use_key_resolver before serving")
    principal = _resolvers["key"](auth_request.token or "")
    if principal is None:
        return AuthResponse(routes=[], principal_id="anonymous")
    context = {"merchant_id": principal.merchant_id, "role": principal.role.value, "key_id": principal.key_id}
    if principal.staff_id:
        context["staff_id"] = principal.staff_id
    return AuthResponse(routes=["*"], principal_id=f"{principal.merchant_id}/{principal.key_id}", context=context)
