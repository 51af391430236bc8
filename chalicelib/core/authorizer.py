"""The Chalice authorizer: a Bearer API key becomes (merchant, role, staff id)."""

from __future__ import annotations

from chalice import AuthResponse, Blueprint
from chalice.app import AuthRequest

auth_blueprint = Blueprint(__name__)


@auth_blueprint.authorizer(ttl_seconds=0)
def api_key_authorizer(auth_request: AuthRequest) -> AuthResponse:
    """Resolve the key; an unknown or revoked key gets no routes (API Gateway answers 403).

    The TTL is 0 so that a revoked key stops working on its next request.
    """
    from chalicelib import wiring  # late: wiring builds stores, which import this module's users

    principal = wiring.tenancy_service().authenticate(auth_request.token or "")
    if principal is None:
        return AuthResponse(routes=[], principal_id="anonymous")
    context = {"merchant_id": principal.merchant_id, "role": principal.role.value, "key_id": principal.key_id}
    if principal.staff_id:
        context["staff_id"] = principal.staff_id
    return AuthResponse(routes=["*"], principal_id=f"{principal.merchant_id}/{principal.key_id}", context=context)
