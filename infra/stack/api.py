"""API Gateway: our JSON error shape, stage throttling, access logs, tracing, 405s and the authorizer's gate.

Only routes that exist reach Lambda: a method a path does not support is answered by API Gateway itself (a MOCK
integration with the very body and Allow header chalicelib/core/fallback.py answers locally), a malformed
Authorization header is refused before the authorizer runs (infra/local/gateway.py does the same locally), and
the authorizer's answers are cached per token (chalicelib/core/authorizer.py).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core.apikeys import HEADER_PATTERN
from chalicelib.core.authorizer import CACHE_SECONDS
from chalicelib.core.http import ACCEPTED_CONTENT_TYPES
from infra.stack.params import att, name, ref, sub

API_STAGE = "api"  # .chalice/config.json api_gateway_stage
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "time": "$context.requestTime",
    "method": "$context.httpMethod", "path": "$context.resourcePath", "status": "$context.status",
    "length": "$context.responseLength", "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integration.latency", "error": "$context.error.responseType",
    "principal": "$context.authorizer.principalId",
}, separators=(",", ":"))


def gateway_responses() -> dict[str, Any]:
    """API Gateway's own errors in our JSON shape, exactly as infra/local/gateway.py rewrites them locally.

    They go in the SAM Api's `GatewayResponses` (the swagger's x-amazon-apigateway-gateway-responses),
    so every deployment carries them; separate AWS::ApiGateway::GatewayResponse resources are dropped
    by the next SAM deployment (aws/serverless-application-model#390, #623).
    """
    from chalicelib.core.http import error_body
    from infra.local.gateway import authorizer_failure, gateway_error

    # What API Gateway answers for each type, fed through the local rewrite. INVALID_SIGNATURE: no
    # route uses IAM auth, so it means an unknown route requested with a Bearer header (404 locally).
    samples = {"MISSING_AUTHENTICATION_TOKEN": (403, b'{"message": "Missing Authentication Token"}'),
               "INVALID_SIGNATURE": (403, b'{"message": "Authorization header requires \'Credential\'"}'),
               "UNAUTHORIZED": (401, b'{"message": "Unauthorized"}'),
               "ACCESS_DENIED": (403, b'{"message": "User is not authorized to access this resource"}')}
    responses: dict[str, Any] = {}
    for kind, (status, body) in samples.items():
        err = gateway_error(status, {"x-amzn-ErrorType": kind}, body)
        assert err is not None, kind
        responses[kind] = {"StatusCode": str(err.status),
                           "ResponseTemplates": {"application/json": json.dumps(error_body(err))}}
    status, headers, body = authorizer_failure()  # the key lookup met a throttled or failing DynamoDB
    responses["AUTHORIZER_FAILURE"] = {
        "StatusCode": str(status), "ResponseTemplates": {"application/json": body.decode()},
        "ResponseParameters": {"Headers": {"Retry-After": f"'{headers['Retry-After']}'"}}}
    for kind, code, fixed in (("REQUEST_TOO_LARGE", "too_large", 413), ("DEFAULT_4XX", "bad_request", None),
                              ("DEFAULT_5XX", "internal_error", None)):
        # $context.error.messageString is API Gateway's message, already quoted as a JSON string.
        shape: dict[str, Any] = {"error": {"code": code, "message": "M", "field": None, "reason": "M", "details": []}}
        template = json.dumps(shape).replace('"M"', "$context.error.messageString")
        responses[kind] = {"ResponseTemplates": {"application/json": template}}
        if fixed:
            responses[kind]["StatusCode"] = str(fixed)
    return responses


def api_override() -> dict[str, Any]:
    """Merged onto chalice's AWS::Serverless::Api."""
    return {"Properties": {
        "Name": name("api"), "GatewayResponses": gateway_responses(), "TracingEnabled": True,
        "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True,
                            "ThrottlingRateLimit": ref("ApiThrottleRateLimit"),
                            "ThrottlingBurstLimit": ref("ApiThrottleBurstLimit")}],
        "AccessLogSetting": {"DestinationArn": att("ApiAccessLogGroup"), "Format": ACCESS_LOG_FORMAT},
    }}


def access_log_group() -> dict[str, Any]:
    return {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": sub("/aws/apigateway/${NamePrefix}-${Stage}-access"),
                           "RetentionInDays": ref("LogRetentionDays")}}


def _mock_405(allowed: str, body: str) -> dict[str, Any]:
    # The body is a VTL template: ours holds no `$` or `#` that Velocity would read as a reference or directive.
    assert "$" not in body and "#" not in body, body
    headers = {"Allow": f"'{allowed}'", "Content-Type": "'application/json'"}
    return {
        "consumes": list(ACCEPTED_CONTENT_TYPES), "produces": ["application/json"],
        "responses": {"405": {"description": "method not allowed",
                              "headers": {h: {"type": "string"} for h in headers}}},
        "x-amazon-apigateway-integration": {
            "type": "mock", "passthroughBehavior": "never",
            "requestTemplates": {t: '{"statusCode": 200}' for t in ACCEPTED_CONTENT_TYPES},
            "responses": {"default": {
                "statusCode": "405",
                "responseParameters": {f"method.response.header.{h}": v for h, v in headers.items()},
                "responseTemplates": {"application/json": body}}}},
    }


def fallback_answers(app: Any) -> dict[tuple[str, str], tuple[str, str]]:
    """(path, method) → (Allow, body) of every 405 fallback the app registers (chalicelib/core/fallback.py)."""
    from chalice.test import Client

    answers: dict[tuple[str, str], tuple[str, str]] = {}
    with Client(app) as client:
        for path, entries in app.routes.items():
            for method, entry in entries.items():
                if entry.view_name.startswith("method_not_allowed_"):
                    concrete = path.replace("{", "x").replace("}", "")
                    response = client.http.request(method, concrete, headers={"Content-Type": "application/json"})
                    assert response.status_code == 405, (method, path, response.status_code)
                    answers[(path, method)] = (response.headers["Allow"], (response.body or b"").decode())
    return answers


def gate_swagger(swagger: dict[str, Any], app: Any) -> dict[str, int]:
    """Rewrite chalice's swagger in place: 405s as MOCK integrations, the authorizer's validation and cache."""
    answers = fallback_answers(app)
    for (path, method), (allowed, body) in answers.items():
        swagger["paths"][path][method.lower()] = _mock_405(allowed, body)
    authorizer = swagger["securityDefinitions"]["api_key_authorizer"]["x-amazon-apigateway-authorizer"]
    authorizer["identityValidationExpression"] = HEADER_PATTERN
    assert authorizer["authorizerResultTtlInSeconds"] == CACHE_SECONDS  # chalicelib/core/authorizer.py
    methods = [op for ops in swagger["paths"].values() for op in ops.values()]
    return {"methods": len(methods), "mock_405": len(answers),
            "lambda_public": sum(1 for op in methods if op["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
                                 and not op.get("security"))}
