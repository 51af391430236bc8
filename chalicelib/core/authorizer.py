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
_resolvers: dict[str, KeyResolver] = {}


def use_key_resolver(resolve: KeyResolver) -> None:
    """Set what turns a Bearer header into a principal (None: unknown, wrong or revoked)."""
    _resolvers["key"] = resolve


@auth_blueprint.authorizer(ttl_seconds=0)
def api_key_authorizer(auth_request: AuthRequest) -> AuthResponse:
    """Resolve the key; an unknown or revoked key gets no routes (API Gateway answers 403).

    The TTL is 0 so that a revoked key stops working on its next request.
    """
    if "key" not in _resolvers:
        raise RuntimeError("no key resolver: app.py calls use_key_resolver before serving")
    principal = _resolvers["key"](auth_request.token or "")
    if principal is None:
        return AuthResponse(routes=[], principal_id="anonymous")
    context = {"merchant_id": principal.merchant_id, "role": principal.role.value, "key_id": principal.key_id}
    if principal.staff_id:
        context["staff_id"] = principal.staff_id
    return AuthResponse(routes=["*"], principal_id=f"{principal.merchant_id}/{principal.key_id}", context=context)
