"""Overrides of chalice's functions: runtime, names, environment, tracing, log groups, event sources."""

from __future__ import annotations

from typing import Any

from chalicelib.core.config import queue_variable, table_variable
from chalicelib.core.resources import QUEUES, STREAM_RETRIES
from infra.stack.access import ACCESS
from infra.stack.data import STREAM_DLQ, cfn, queue_id, stream_table, table_id
from infra.stack.params import att, function_name, ref, sub

RUNTIME = "python3.13"
# Pollers per SQS mapping. Reserved concurrency would make Lambda throttle deliveries, and throttled
# receives count toward maxReceiveCount (healthy messages end up in the DLQ); a mapping's maximum
# concurrency caps the pollers instead. Sized for SES/SNS send rates and DynamoDB bursts.
MAX_POLLERS = {"plan": 4, "dispatch": 10}
# Every Lambda chalice makes; infra/package.py fails on one missing here (it would get no policy).
FUNCTIONS = ("api_handler", "api_key_authorizer", "tick", "plan_worker", "dispatch_worker", "activity_stream")


def function_id(function: str) -> str:
    return "APIHandler" if function == "api_handler" else cfn(function)


def role_id(function: str) -> str:
    return cfn(f"{function}_role")


def log_group_id(function: str) -> str:
    return f"{function_id(function)}LogGroup"


def environment(function: str) -> dict[str, Any]:
    """What the function learns from the template: the names of exactly the tables and queues it may use."""
    access = ACCESS[function]
    variables: dict[str, Any] = {
        "MKT_PREFIX": sub("${NamePrefix}-${Stage}"),
        # Metrics of two stages in one account stay apart: Powertools' service dimension is the stage's name.
        "POWERTOOLS_SERVICE_NAME": sub("${NamePrefix}-${Stage}"),
    }
    variables.update({table_variable(t): ref(table_id(t)) for t in access.tables})
    variables.update({queue_variable(q): ref(queue_id(q)) for q in sorted({*access.sends, *access.consumes})})
    if access.exports:
        variables["MKT_EXPORT_BUCKET"] = ref("ExportBucket")
    return {"Variables": variables}


def _events(function: str) -> dict[str, Any]:
    for queue in QUEUES:
        if function == f"{queue.name}_worker":
            return {f"{cfn(function)}SqsEventSource": {"Properties": {
                # chalice writes {"Fn::Sub": "arn:...:<name>"}: the deep merge can only replace that key's
                # value. Referring to the queue also makes CloudFormation create it before the mapping.
                "Queue": sub(f"${{{queue_id(queue.name)}.Arn}}"),
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": MAX_POLLERS[queue.name]}}}}
    if function == "activity_stream":
        return {f"{cfn(function)}DynamodbEventSource": {"Properties": {
            "Stream": att(table_id(stream_table().name), "StreamArn"),  # app.py passes a placeholder
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": STREAM_RETRIES, "BisectBatchOnFunctionError": True,
            "DestinationConfig": {"OnFailure": {"Destination": att(queue_id(STREAM_DLQ))}}}}}
    return {}


def function_override(function: str) -> dict[str, Any]:
    """The properties merged onto one AWS::Serverless::Function."""
    props: dict[str, Any] = {
        "Runtime": RUNTIME, "FunctionName": function_name(function), "Environment": environment(function),
        "Tracing": "Active", "LoggingConfig": {"LogGroup": ref(log_group_id(function))},
    }
    if events := _events(function):
        props["Events"] = events
    if function == "api_handler":
        props["ReservedConcurrentExecutions"] = {"Fn::If": ["ReserveApiConcurrency", ref("ApiReservedConcurrency"),
                                                            ref("AWS::NoValue")]}
    return {"Properties": props}


def log_group(function: str) -> dict[str, Any]:
    """The function's own log group, made before it (a function that logs first would make one that never expires)."""
    return {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": sub("/aws/lambda/${NamePrefix}-${Stage}-" + function.replace("_", "-")),
                           "RetentionInDays": ref("LogRetentionDays")}}
