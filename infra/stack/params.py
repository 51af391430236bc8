"""The template's Parameters and Conditions, and the names built from them."""

from __future__ import annotations

from typing import Any

# Lambda's log retention values (CloudWatch Logs accepts only these).
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653]

PARAMETERS: dict[str, Any] = {
    "Stage": {"Type": "String", "Default": "dev", "AllowedPattern": "^[a-z][a-z0-9]{0,9}$",
              "Description": "deployment stage (dev, prod, ...): part of every function, alarm and log name; "
                             "stages deploy as separate stacks side by side in one account"},
    "NamePrefix": {"Type": "String", "Default": "mkt", "AllowedPattern": "^[a-z][a-z0-9-]{0,11}$",
                   "Description": "prefix of function, alarm and log group names (tables and queues are named by "
                                  "CloudFormation; the functions learn their names from environment variables)"},
    "AlarmTopicArn": {"Type": "String", "AllowedPattern": "^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$",
                      "Description": "SNS topic every alarm notifies (alarm and OK); create it and subscribe the "
                                     "on-call e-mail or pager before deploying"},
    "LogRetentionDays": {"Type": "Number", "Default": 30, "AllowedValues": RETENTION_DAYS,
                         "Description": "retention of every function's log group and of the API access logs"},
    "ApiThrottleRateLimit": {"Type": "Number", "Default": 100, "MinValue": 1,
                             "Description": "API stage steady-state requests per second (all clients together)"},
    "ApiThrottleBurstLimit": {"Type": "Number", "Default": 200, "MinValue": 1,
                              "Description": "API stage burst (token bucket size)"},
    "ApiReservedConcurrency": {"Type": "Number", "Default": 0, "MinValue": 0,
                               "Description": "reserved concurrency of the API function; 0 = none (share the "
                                              "account's pool). Reserve to keep a traffic spike from starving "
                                              "the workers, or to cap what the API may use"},
    # SES sending is scoped to the identities merchants were given (README "Sender identities"): the operator
    # registers a sender with `python -m chalicelib.admin register-sender`, verifies it in SES and adds the
    # identity's ARN and the From addresses it covers here (a stack update). The defaults match nothing, so a
    # fresh stack sends no e-mail until an identity is added.
    "SesIdentityArns": {"Type": "CommaDelimitedList",
                        "Default": "arn:aws:ses:us-east-1:000000000000:identity/none.invalid",
                        "Description": "SES identity ARNs the dispatch worker may send from, e.g. arn:aws:ses:"
                                       "ap-southeast-1:123456789012:identity/shop-a.example"},
    "SesFromAddresses": {"Type": "CommaDelimitedList", "Default": "nobody@none.invalid",
                         "Description": "From addresses (ses:FromAddress, wildcards allowed), e.g. "
                                        "*@shop-a.example,noreply@shop-b.example"},
}

CONDITIONS: dict[str, Any] = {
    "ReserveApiConcurrency": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApiReservedConcurrency"}, 0]}]},
}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def att(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def name(suffix: str) -> dict[str, Any]:
    """`<NamePrefix>-<Stage>-<suffix>`: names an operator reads (functions, alarms, log groups)."""
    return sub(f"${{NamePrefix}}-${{Stage}}-{suffix}")


def function_name(function: str) -> dict[str, Any]:
    """The Lambda's name: `mkt-prod-plan-worker` for plan_worker (its log group follows it)."""
    return name(function.replace("_", "-"))
