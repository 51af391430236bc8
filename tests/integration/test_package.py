"""`python -m infra.package`: the packaged SAM template declares every resource, runtime and policy we rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.resources import QUEUES, STREAM_BATCH_SIZE, STREAM_BATCHING_WINDOW_SECONDS, TABLES

ROOT = Path(__file__).resolve().parents[2]
PREFIX = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["dev"]["environment_variables"][
    "MKT_PREFIX"]
# Actions IAM offers no resource type for; each is narrowed some other way (see infra/package.py).
STAR_ALLOWED = {"cloudwatch:PutMetricData", "dynamodb:ListStreams", "sns:Publish"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def packaged() -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "infra.package"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "cfn-lint: no findings" in done.stdout
    template: dict[str, Any] = json.loads((ROOT / "build" / "sam.json").read_text())
    return template["Resources"]


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def _events(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: event for function in _of_type(resources, "AWS::Serverless::Function").values()
            for name, event in function["Properties"].get("Events", {}).items()}


def test_package_declares_every_table_when_packaged(packaged):
    tables = {t["Properties"]["TableName"]: t for t in _of_type(packaged, "AWS::DynamoDB::Table").values()}
    assert set(tables) == {f"{PREFIX}-{spec.name}" for spec in TABLES}
    for spec in TABLES:
        props = tables[f"{PREFIX}-{spec.name}"]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])} == {i.name for i in spec.indexes}
        stream = props.get("StreamSpecification", {}).get("StreamViewType")
        assert stream == ("NEW_AND_OLD_IMAGES" if spec.stream else None)


def test_package_declares_every_queue_with_its_dlq_when_packaged(packaged):
    queues = {q["Properties"]["QueueName"]: q["Properties"] for q in _of_type(packaged, "AWS::SQS::Queue").values()}
    expected = {f"{PREFIX}-activity-stream-dlq"}
    for spec in QUEUES:
        expected |= {f"{PREFIX}-{spec.name}", f"{PREFIX}-{spec.dlq_name}"}
        props = queues[f"{PREFIX}-{spec.name}"]
        assert props["VisibilityTimeout"] == spec.visibility_timeout
        assert props["RedrivePolicy"]["maxReceiveCount"] == spec.max_receive_count
        dlq_id = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert packaged[dlq_id]["Properties"]["QueueName"] == f"{PREFIX}-{spec.dlq_name}"
    assert set(queues) == expected


def test_package_runs_every_lambda_on_python313_when_packaged(packaged):
    functions = _of_type(packaged, "AWS::Serverless::Function")
    assert len(functions) == 6
    assert {f["Properties"]["Runtime"] for f in functions.values()} == {"python3.13"}
    assert packaged["ManagedLayer"]["Properties"]["CompatibleRuntimes"] == ["python3.13"]


def test_package_reports_batch_item_failures_on_every_mapping_when_packaged(packaged):
    mappings = {n: e for n, e in _events(packaged).items() if e["Type"] in ("SQS", "DynamoDB")}
    assert set(mappings) == {"PlanWorkerSqsEventSource", "DispatchWorkerSqsEventSource",
                             "ActivityStreamDynamodbEventSource"}
    for event in mappings.values():
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    stream = mappings["ActivityStreamDynamodbEventSource"]["Properties"]
    assert stream["Stream"] == {"Fn::GetAtt": ["ActivityTable", "StreamArn"]}
    assert (stream["BatchSize"], stream["MaximumBatchingWindowInSeconds"]) == (
        STREAM_BATCH_SIZE, STREAM_BATCHING_WINDOW_SECONDS)  # a page of GetRecords per invocation
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["ActivityStreamDeadLetterQueue", "Arn"]}
    assert mappings["PlanWorkerSqsEventSource"]["Properties"]["Queue"] == {"Fn::Sub": "${PlanQueue.Arn}"}


def test_package_ticks_every_minute_when_packaged(packaged):
    schedules = [e["Properties"]["Schedule"] for e in _events(packaged).values() if e["Type"] == "Schedule"]
    assert schedules == ["rate(1 minute)"]


def test_package_grants_no_wildcard_resource_when_iam_can_scope_it(packaged):
    documents = [p["Properties"]["PolicyDocument"] for p in _of_type(packaged, "AWS::IAM::Policy").values()]
    documents += [p["PolicyDocument"] for role in _of_type(packaged, "AWS::IAM::Role").values()
                  for p in role["Properties"].get("Policies", [])]
    assert len(documents) == 6
    for document in documents:
        for statement in document["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if statement["Effect"] == "Allow" and "*" in resources:
                assert set(statement["Action"]) <= STAR_ALLOWED, statement


def test_package_answers_gateway_errors_in_our_json_shape_when_packaged(packaged):
    responses = packaged["RestAPI"]["Properties"]["GatewayResponses"]
    assert {k: v.get("StatusCode") for k, v in responses.items() if k in (
        "MISSING_AUTHENTICATION_TOKEN", "UNAUTHORIZED", "ACCESS_DENIED")} == {
        "MISSING_AUTHENTICATION_TOKEN": "404", "UNAUTHORIZED": "401", "ACCESS_DENIED": "403"}
    body = json.loads(responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"])
    assert body["error"]["code"] == "not_found"
    assert set(body["error"]) == {"code", "message", "field", "reason", "details"}
    assert {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)


def test_package_ships_only_the_app_and_chalicelib_when_packaged(packaged):
    """Dev-only code (devtools' moto patches, tests, benches, the local stack) never reaches Lambda."""
    import zipfile

    with zipfile.ZipFile(ROOT / "build" / "deployment.zip") as bundle:
        tops = {name.split("/")[0] for name in bundle.namelist()}
    assert "app.py" in tops and "chalicelib" in tops
    assert not tops & {"devtools", "tests", "bench", "infra"}, tops
