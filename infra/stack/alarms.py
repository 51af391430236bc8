"""CloudWatch alarms, every one notifying the AlarmTopicArn parameter (alarm and recovery)."""

from __future__ import annotations

from typing import Any

from infra.stack.data import dead_letter_queues, queue_id
from infra.stack.functions import FUNCTIONS, function_id
from infra.stack.params import att, name, ref

PERIOD = 300
ITERATOR_AGE_MS = 600_000  # the stream's oldest unprocessed record is 10 minutes old: attribution and triggers lag
DISPATCH_BACKLOG_SECONDS = 1_800  # a chunk waited half an hour: sends fall behind their schedule
MISSING_TICK_MINUTES = 10  # EventBridge invokes the tick every minute; ten silent minutes mean nothing is scheduled


def _alarm(suffix: str, description: str, namespace: str, metric: str, dimensions: dict[str, Any], statistic: str,
           comparison: str, threshold: float, *, missing: str = "notBreaching", periods: int = 1,
           period: int = PERIOD) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": name(suffix), "AlarmDescription": description,
        "Namespace": namespace, "MetricName": metric, "Statistic": statistic, "Period": period,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "ComparisonOperator": comparison, "Threshold": threshold, "EvaluationPeriods": periods,
        "DatapointsToAlarm": periods, "TreatMissingData": missing,
        "AlarmActions": [ref("AlarmTopicArn")], "OKActions": [ref("AlarmTopicArn")]}}


def alarm_resources() -> dict[str, Any]:
    alarms: dict[str, Any] = {}
    for dlq in dead_letter_queues():
        alarms[f"{dlq}DepthAlarm"] = _alarm(
            f"{dlq}-depth", "messages are waiting in a dead-letter queue: see README, Replaying a dead-letter queue",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": att(dlq, "QueueName")}, "Maximum",
            "GreaterThanOrEqualToThreshold", 1)
    alarms["DispatchQueueBacklogAlarm"] = _alarm(
        "dispatch-backlog", "the oldest chunk waiting for dispatch is over 30 minutes old", "AWS/SQS",
        "ApproximateAgeOfOldestMessage", {"QueueName": att(queue_id("dispatch"), "QueueName")}, "Maximum",
        "GreaterThanOrEqualToThreshold", DISPATCH_BACKLOG_SECONDS)
    for function in FUNCTIONS:
        fid = function_id(function)
        dimensions = {"FunctionName": ref(fid)}
        alarms[f"{fid}ErrorsAlarm"] = _alarm(f"{function.replace('_', '-')}-errors",
                                             f"{function} invocations failed", "AWS/Lambda", "Errors", dimensions,
                                             "Sum", "GreaterThanOrEqualToThreshold", 1)
        alarms[f"{fid}ThrottlesAlarm"] = _alarm(f"{function.replace('_', '-')}-throttles",
                                                f"{function} invocations were throttled (concurrency)", "AWS/Lambda",
                                                "Throttles", dimensions, "Sum", "GreaterThanOrEqualToThreshold", 1)
    alarms["ActivityStreamIteratorAgeAlarm"] = _alarm(
        "activity-stream-iterator-age", "the activity stream's consumer lags 10 minutes behind", "AWS/Lambda",
        "IteratorAge", {"FunctionName": ref(function_id("activity_stream"))}, "Maximum",
        "GreaterThanOrEqualToThreshold", ITERATOR_AGE_MS)
    alarms["MissingTickAlarm"] = _alarm(
        "missing-tick", "the every-minute tick has not run for 10 minutes: no campaign is being scheduled",
        "AWS/Lambda", "Invocations", {"FunctionName": ref(function_id("tick"))}, "Sum", "LessThanThreshold", 1,
        missing="breaching", period=MISSING_TICK_MINUTES * 60)
    alarms["Api5xxAlarm"] = _alarm(
        "api-5xx", "the API answered 5XX (a 500 is a bug; 503 is DynamoDB throttling the key lookup)",
        "AWS/ApiGateway", "5XXError", {"ApiName": name("api"), "Stage": "api"}, "Sum",
        "GreaterThanOrEqualToThreshold", 1)
    return alarms
