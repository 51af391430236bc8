"""The packaged stack deployed into moto's CloudFormation, and a short story run on what the stack created.

`python -m tests.deploy.stack_story` (tests/deploy/test_offline_deploy.py runs it in a fresh interpreter: the table
names are learnt from the functions' environments before any store is imported). It deploys build/ with
infra.deploy (zips and template uploaded to a moto bucket, one change set; moto runs no SAM transform, so the
template is transformed locally first), then reads everything from the stack: the physical names of its tables and
queues, each function's handler and environment, the event source mappings and the EventBridge rule. moto's own
event source mappings deliver the queues' messages and the stream's records; moto's Lambda is patched to run the
mapped function's handler in-process (it would need Docker). The last line printed is `REPORT <json>`.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import warnings
from collections import Counter
from datetime import UTC, datetime
from typing import Any

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_DISABLED": "true",
})
for variable in [v for v in os.environ if v.startswith("MKT_") or v in ("AWS_ENDPOINT_URL", "AWS_PROFILE")]:
    os.environ.pop(variable)

import boto3  # noqa: E402
import moto  # noqa: E402

STACK = "mkt-story"
BUCKET = "mkt-deploy-artifacts"
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: outside the default quiet hours
CUSTOMERS = [f"c{i:02d}" for i in range(12)]
# What moto cannot take: its RestApi ignores the swagger Body, so a Deployment of it fails ("no methods").
REMOVED = {"AWS::ApiGateway::Deployment"}


class Context:
    """The few attributes handlers and Powertools read from a Lambda context."""

    def __init__(self, function: dict[str, Any]) -> None:
        self.function_name = function["FunctionName"]
        self.invoked_function_arn = function["FunctionArn"]
        self.memory_limit_in_mb = function["MemorySize"]
        self.aws_request_id = "story"
        self._deadline_ms = function["Timeout"] * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._deadline_ms


class Lambdas:
    """The stack's functions, run in-process by the Handler string the template gives each."""

    def __init__(self, functions: dict[str, dict[str, Any]]) -> None:
        self.functions = functions  # FunctionArn → configuration
        self.invocations: Counter[str] = Counter()
        self.failures: list[str] = []

    def handler(self, arn: str) -> Any:
        module, _, name = self.functions[arn]["Handler"].rpartition(".")
        return getattr(importlib.import_module(module), name)

    def invoke(self, arn: str, event: dict[str, Any]) -> dict[str, Any]:
        function = self.functions[arn]
        self.invocations[function["FunctionName"]] += 1
        result = self.handler(arn)(event, Context(function)) or {}
        if result.get("batchItemFailures"):
            self.failures.append(f"{function['FunctionName']}: {result['batchItemFailures']}")
        return dict(result)

    def _run(self, arn: str, body: Any, response_headers: dict[str, str]) -> bytes:
        try:
            result = self.invoke(arn, json.loads(body))
        except Exception as exc:  # as Lambda reports an unhandled error to the event source mapping
            self.failures.append(f"{arn}: {type(exc).__name__}: {exc}")
            response_headers["x-amz-function-error"] = "Unhandled"
            return b""
        if result.get("batchItemFailures"):
            response_headers["x-amz-function-error"] = "Handled"
            return b""  # moto keeps a stream's records for the next delivery when the answer is empty
        return json.dumps(result).encode()

    def install(self) -> None:
        """moto's event source mappings invoke the function (SQS through the backend, streams directly): run the
        handler in-process instead of in Docker."""
        from moto.awslambda.models import LambdaFunction
        from moto.awslambda_simple.models import LambdaSimpleBackend

        lambdas = self

        def backend_invoke(backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
                           response_headers: Any) -> bytes:
            return lambdas._run(backend.get_function(function_name, qualifier).function_arn, body, response_headers)

        def function_invoke(function: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
            return lambdas._run(function.function_arn, body, response_headers)

        LambdaSimpleBackend.invoke = backend_invoke  # type: ignore[method-assign,assignment]
        LambdaFunction.invoke = function_invoke  # type: ignore[method-assign,assignment]


def deploy(cfn: Any, s3: Any, topic: str) -> list[str]:
    """The packaged stack, through infra.deploy; returns the warnings of resource types moto skipped."""
    from infra.deploy import deploy as ship

    def adjust(template: dict[str, Any]) -> dict[str, Any]:
        resources = {k: v for k, v in template["Resources"].items() if v["Type"] not in REMOVED}
        return {**template, "Resources": resources}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ship(cfn, s3, STACK, BUCKET, {"Stage": "story", "NamePrefix": "mkt", "AlarmTopicArn": topic},
             transformed=True, adjust=adjust, protect=False)
    return sorted({str(w.message).split("Tried to parse ")[1].split(" ")[0]
                   for w in caught if "not supported by moto" in str(w.message)})


def learn(cfn: Any, lam: Any) -> tuple[dict[str, str], dict[str, dict[str, Any]], dict[str, str]]:
    """(logical id → physical id, function ARN → configuration, the functions' environments merged)."""
    summaries = cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries if "LogicalResourceId" in r}
    functions: dict[str, dict[str, Any]] = {}
    merged: dict[str, str] = {}
    for summary in summaries:
        if summary["ResourceType"] == "AWS::Lambda::Function":
            config = lam.get_function_configuration(FunctionName=summary["PhysicalResourceId"])
            functions[config["FunctionArn"]] = config
            for key, value in config.get("Environment", {}).get("Variables", {}).items():
                assert merged.setdefault(key, value) == value, f"{key}: functions disagree"
    return physical, functions, merged


def main() -> int:
    mock = moto.mock_aws(config={"lambda": {"use_docker": False}})
    mock.start()
    cfn, s3, lam = boto3.client("cloudformation"), boto3.client("s3"), boto3.client("lambda")
    s3.create_bucket(Bucket=BUCKET)
    topic = boto3.client("sns").create_topic(Name="mkt-story-alarms")["TopicArn"]
    skipped = deploy(cfn, s3, topic)
    physical, functions, environment = learn(cfn, lam)
    report: dict[str, Any] = {"skipped_types": skipped, "removed_types": sorted(REMOVED)}
    summaries = cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    report["created_types"] = dict(sorted(Counter(s["ResourceType"] for s in summaries
                                                  if s.get("ResourceType")).items()))
    report["environments"] = {c["FunctionName"]: sorted(c.get("Environment", {}).get("Variables", {}))
                              for c in functions.values()}
    report["handlers"] = {c["FunctionName"]: c["Handler"] for c in functions.values()}

    # The operator's path first: the admin CLI finds the tables through the stack alone.
    from chalicelib.core.stacknames import stack_environment

    report["admin_environment_matches"] = all(environment.get(k) == v
                                              for k, v in stack_environment(cfn, STACK).items() if k in environment)
    os.environ.update(environment)  # what every function was given; before any store is imported
    from tests.deploy import audit as audit_module

    audit = audit_module.Audit()
    audit_module.install(audit)
    lambdas = Lambdas(functions)
    lambdas.install()
    from tests.deploy.story import run_story

    report.update(run_story(cfn, lam, physical, lambdas, NOW, CUSTOMERS))
    report["invocations"] = dict(sorted(lambdas.invocations.items()))
    report["handler_failures"] = lambdas.failures
    report["calls"] = sorted(audit.calls)
    report["violations"] = audit_module.violations(audit.calls)
    mock.stop()
    print("REPORT " + json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
