"""The Chalice authorizer: a Bearer API key becomes (merchant, role, staff id).

Routes (core.http) attach it when they are declared, so it lives in core. Its Lambda imports this module alone
(chalice's Handler is `chalicelib.core.authorizer.api_key_authorizer`), never app.py: it checks the key with
core/apikeys.py (one GetItem), without the wiring.
"""

from __future__ import annotations

from chalice import AuthResponse, Blueprint
from chalice.app import AuthRequest

from chalicelib.core import apikeys

auth_blueprint = Blueprint(__name__)
# API Gateway caches an answer per token this long: a flood of one bad token costs one invocation a minute, and a
# revoked key is refused within that time (chalice's local gateway caches nothing: locally at once).
CACHE_SECONDS = 60


@auth_blueprint.authorizer(ttl_seconds=CACHE_SECONDS)
def api_key_authorizer(auth_request: AuthRequest) -> AuthResponse:
    """Resolve the key; an unknown or revoked key gets no routes (API Gateway answers 403)."""
    principal = apikeys.authenticate(auth_request.token or "")
    if principal is None:
        return AuthResponse(routes=[], principal_id="anonymous")
    context = {"merchant_id": principal.merchant_id, "role": principal.role.value, "key_id": principal.key_id}
    if principal.staff_id:
        context["staff_id"] = principal.staff_id
    return AuthResponse(routes=["*"], principal_id=f"{principal.merchant_id}/{principal.key_id}", context=context)
