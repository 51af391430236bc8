"""`python -m infra.summary` reads each function's role as the template grants it."""

from __future__ import annotations

from infra.stack.functions import FUNCTIONS, function_id
from infra.summary import role_actions


def test_summary_lists_each_functions_actions_on_what_when_packaged(cfn):
    actions = role_actions(cfn)
    assert set(actions) == {function_id(f) for f in FUNCTIONS}
    assert actions["ApiKeyAuthorizer"] == {
        "dynamodb:GetItem": ["KeysTable"], "logs:CreateLogStream": ["ApiKeyAuthorizerLogGroup"],
        "logs:PutLogEvents": ["ApiKeyAuthorizerLogGroup"], "xray:PutTelemetryRecords": ["*"],
        "xray:PutTraceSegments": ["*"]}
    assert actions["Tick"]["sqs:SendMessage"] == ["PlanQueue, DispatchQueue"]
    assert not any("KeysTable" in ", ".join(targets) for verb, targets in actions["DispatchWorker"].items())
