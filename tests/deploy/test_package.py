"""`make package`: the template passes the real SAM transform and cfn-lint, and is one an operator would accept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.core.apikeys import HEADER_PATTERN
from chalicelib.core.config import queue_variable, table_variable
from chalicelib.core.resources import QUEUES, STREAM_BATCH_SIZE, STREAM_BATCHING_WINDOW_SECONDS, TABLES
from infra.stack.access import ACCESS
from infra.stack.data import dead_letter_queues, queue_id, table_id
from infra.stack.functions import FUNCTIONS, function_id, log_group_id, role_id

pytestmark = pytest.mark.slow
# Actions IAM offers no resource type for; each is narrowed some other way (see infra/stack/access.py).
STAR_ALLOWED = {"dynamodb:ListStreams", "sns:Publish", "xray:PutTelemetryRecords", "xray:PutTraceSegments"}
PUBLIC_ROUTES = {("/v1/health", "get"), ("/v1/openapi.json", "get")}


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def policy(cfn: dict[str, Any], function: str) -> list[dict[str, Any]]:
    (document,) = [p["PolicyDocument"] for p in cfn["Resources"][role_id(function)]["Properties"]["Policies"]]
    return list(document["Statement"])


def test_package_declares_parameters_for_stage_prefix_and_alarm_topic_when_packaged(cfn):
    params = cfn["Parameters"]
    assert {"Stage", "NamePrefix", "AlarmTopicArn", "LogRetentionDays", "ApiThrottleRateLimit",
            "ApiThrottleBurstLimit", "ApiReservedConcurrency"} <= set(params)
    assert "Default" not in params["AlarmTopicArn"]  # alarms that notify nobody are not an option


def test_package_names_nothing_fixed_so_two_stages_fit_one_account_when_packaged(cfn):
    """Tables and queues are named by CloudFormation; every name we set is built from Stage and NamePrefix."""
    for name, resource in cfn["Resources"].items():
        props = resource.get("Properties", {})
        assert "TableName" not in props and "QueueName" not in props, name
        for key in ("FunctionName", "LogGroupName", "AlarmName", "Name"):
            value = props.get(key)
            if value is None or set(value) & {"Ref", "Fn::GetAtt"}:  # absent, or another resource's
                continue
            assert isinstance(value, dict) and "${Stage}" in json.dumps(value), (name, key, value)


def test_package_keeps_merchant_data_when_a_stack_is_deleted_but_not_after_a_failed_create_when_packaged(cfn):
    tables = of_type(cfn, "AWS::DynamoDB::Table")
    assert set(tables) == {table_id(t.name) for t in TABLES}
    for spec in TABLES:
        table = tables[table_id(spec.name)]
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
        props = table["Properties"]
        assert props["DeletionProtectionEnabled"] is True
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_package_tables_and_queues_are_the_ones_the_local_stack_provisions(cfn, aws):
    """One source of truth (chalicelib/core/resources.py): what provision() made in moto is what the stack declares."""
    from chalicelib import wiring
    from chalicelib.core.config import get_config

    ddb, sqs = wiring.client("dynamodb"), wiring.client("sqs")
    for spec in TABLES:
        local = ddb.describe_table(TableName=get_config().table(spec.name))["Table"]
        props = cfn["Resources"][table_id(spec.name)]["Properties"]
        assert local["KeySchema"] == props["KeySchema"], spec.name
        assert sorted(local["AttributeDefinitions"], key=str) == sorted(props["AttributeDefinitions"], key=str)
        assert ({i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in local.get("GlobalSecondaryIndexes", [])}
                == {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in props.get("GlobalSecondaryIndexes", [])})
        assert local.get("StreamSpecification", {}).get("StreamViewType") == props.get(
            "StreamSpecification", {}).get("StreamViewType"), spec.name
        ttl = ddb.describe_time_to_live(TableName=get_config().table(spec.name))["TimeToLiveDescription"]
        assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == (props["TimeToLiveSpecification"]["AttributeName"],
                                                                  "ENABLED")
    for spec in QUEUES:
        url = sqs.get_queue_url(QueueName=get_config().queue(spec.name))["QueueUrl"]
        local = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        props = cfn["Resources"][queue_id(spec.name)]["Properties"]
        assert int(local["VisibilityTimeout"]) == props["VisibilityTimeout"]
        assert int(local["MessageRetentionPeriod"]) == props["MessageRetentionPeriod"]
        assert int(json.loads(local["RedrivePolicy"])["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"]
        dlq_url = sqs.get_queue_url(QueueName=get_config().queue(spec.dlq_name))["QueueUrl"]
        dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
        assert int(dlq["MessageRetentionPeriod"]) == cfn["Resources"][queue_id(spec.dlq_name)]["Properties"][
            "MessageRetentionPeriod"]


def test_package_hides_sqs_messages_six_times_the_function_timeout_when_packaged(cfn):
    for spec in QUEUES:
        timeout = cfn["Resources"][function_id(f"{spec.name}_worker")]["Properties"]["Timeout"]
        assert cfn["Resources"][queue_id(spec.name)]["Properties"]["VisibilityTimeout"] >= 6 * timeout, spec.name


def test_package_gives_each_function_its_log_group_tracing_and_only_its_own_names_when_packaged(cfn):
    functions = of_type(cfn, "AWS::Lambda::Function")
    assert set(functions) == {function_id(f) for f in FUNCTIONS}
    for function in FUNCTIONS:
        props = functions[function_id(function)]["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogGroup"] == {"Ref": log_group_id(function)}
        group = cfn["Resources"][log_group_id(function)]["Properties"]
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        variables = props["Environment"]["Variables"]
        access = ACCESS[function]
        assert {k for k in variables if k.startswith("MKT_TABLE_")} == {table_variable(t) for t in access.tables}
        assert {k for k in variables if k.startswith("MKT_QUEUE_")} == {
            queue_variable(q) for q in {*access.sends, *access.consumes}}
        assert all(v == {"Ref": table_id(k[10:].lower())} for k, v in variables.items() if k.startswith("MKT_TABLE_"))
    assert len({functions[function_id(f)]["Properties"]["Role"]["Fn::GetAtt"][0] for f in FUNCTIONS}) == 6


def test_package_grants_each_role_only_its_own_logs_and_no_unused_or_wildcard_action_when_packaged(cfn):
    for function in FUNCTIONS:
        statements = policy(cfn, function)
        logs = [s for s in statements if any(a.startswith("logs:") for a in s["Action"])]
        assert logs == [{"Sid": "OwnLogGroup", "Effect": "Allow",
                         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                         "Resource": {"Fn::GetAtt": [log_group_id(function), "Arn"]}}]
        for statement in statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "cloudwatch:PutMetricData" not in actions  # EMF metrics go through the logs
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if statement["Effect"] == "Allow" and "*" in resources:
                assert set(actions) <= STAR_ALLOWED, statement


def test_package_lets_only_the_api_write_keys_and_the_authorizer_read_one_when_packaged(cfn):
    keys = {"Fn::GetAtt": [table_id("keys"), "Arn"]}
    for function in FUNCTIONS:
        grants = [s for s in policy(cfn, function) if s["Resource"] == keys or keys in (
            s["Resource"] if isinstance(s["Resource"], list) else [])]
        actions = {a for s in grants for a in s["Action"]}
        expected = {"api_handler": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"},
                    "api_key_authorizer": {"dynamodb:GetItem"}}.get(function, set())
        assert actions == expected, function
    assert json.dumps(policy(cfn, "api_key_authorizer")).count("dynamodb:") == 1


def test_package_alarms_on_every_dlq_function_stream_api_and_a_missing_tick_when_packaged(cfn):
    alarms = of_type(cfn, "AWS::CloudWatch::Alarm")
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopicArn"}] for a in alarms.values())

    def watching(namespace: str, metric: str) -> list[Any]:
        return [a["Properties"]["Dimensions"][0]["Value"] for a in alarms.values()
                if (a["Properties"]["Namespace"], a["Properties"]["MetricName"]) == (namespace, metric)]

    dlqs = dead_letter_queues()
    assert sorted(watching("AWS/SQS", "ApproximateNumberOfMessagesVisible"), key=str) == sorted(
        ({"Fn::GetAtt": [q, "QueueName"]} for q in dlqs), key=str)
    every_function = sorted(({"Ref": function_id(f)} for f in FUNCTIONS), key=str)
    assert sorted(watching("AWS/Lambda", "Errors"), key=str) == every_function
    assert sorted(watching("AWS/Lambda", "Throttles"), key=str) == every_function
    assert watching("AWS/Lambda", "IteratorAge") == [{"Ref": function_id("activity_stream")}]
    assert watching("AWS/Lambda", "Invocations") == [{"Ref": function_id("tick")}]  # the missing tick
    (tick,) = [a["Properties"] for a in alarms.values() if a["Properties"]["MetricName"] == "Invocations"]
    assert (tick["ComparisonOperator"], tick["TreatMissingData"]) == ("LessThanThreshold", "breaching")
    (api,) = watching("AWS/ApiGateway", "5XXError")
    assert api == cfn["Resources"]["RestAPI"]["Properties"]["Name"]


def test_package_streams_activity_with_partial_failures_and_a_dlq_when_packaged(cfn):
    mappings = {m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
                for m in of_type(cfn, "AWS::Lambda::EventSourceMapping").values()}
    assert set(mappings) == {function_id(f) for f in ("plan_worker", "dispatch_worker", "activity_stream")}
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings.values())
    stream = mappings[function_id("activity_stream")]
    assert stream["EventSourceArn"] == {"Fn::GetAtt": ["ActivityTable", "StreamArn"]}
    assert (stream["BatchSize"], stream["MaximumBatchingWindowInSeconds"]) == (
        STREAM_BATCH_SIZE, STREAM_BATCHING_WINDOW_SECONDS)
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["ActivityStreamDeadLetterQueue", "Arn"]}
    rules = of_type(cfn, "AWS::Events::Rule")
    assert [r["Properties"]["ScheduleExpression"] for r in rules.values()] == ["rate(1 minute)"]


def test_package_lets_no_unauthenticated_request_reach_lambda_but_the_public_routes_when_packaged(cfn):
    swagger = cfn["Resources"]["RestAPI"]["Properties"]["Body"]
    unguarded = {(path, method) for path, ops in swagger["paths"].items() for method, op in ops.items()
                 if op["x-amazon-apigateway-integration"]["type"] == "aws_proxy" and not op.get("security")}
    assert unguarded == PUBLIC_ROUTES
    mocks = [op for ops in swagger["paths"].values() for op in ops.values()
             if op["x-amazon-apigateway-integration"]["type"] == "mock"]
    assert len(mocks) > 200
    authorizer = swagger["securityDefinitions"]["api_key_authorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer["identityValidationExpression"] == HEADER_PATTERN
    assert authorizer["authorizerResultTtlInSeconds"] > 0


def test_package_answers_405_in_api_gateway_exactly_as_the_local_fallback_when_packaged(cfn, api):
    swagger = cfn["Resources"]["RestAPI"]["Properties"]["Body"]
    for path, ops in swagger["paths"].items():
        for method, op in ops.items():
            integration = op["x-amazon-apigateway-integration"]
            if integration["type"] != "mock":
                continue
            answer = integration["responses"]["default"]
            local = api.request(method.upper(), path.replace("{", "x").replace("}", ""))
            allow = {k.lower(): v for k, v in local.headers.items()}["allow"]
            assert (int(answer["statusCode"]), answer["responseParameters"]["method.response.header.Allow"]) == (
                local.status, f"'{allow}'"), (method, path)
            if method != "head":
                assert json.loads(answer["responseTemplates"]["application/json"]) == local.json, (method, path)


def test_package_throttles_logs_and_traces_the_api_stage_when_packaged(cfn):
    (stage,) = of_type(cfn, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    assert props["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert json.loads(props["AccessLogSetting"]["Format"])["requestId"] == "$context.requestId"
    (setting,) = props["MethodSettings"]
    assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (
        {"Ref": "ApiThrottleRateLimit"}, {"Ref": "ApiThrottleBurstLimit"})


def test_package_answers_gateway_errors_in_our_json_shape_when_packaged(cfn):
    responses = cfn["Resources"]["RestAPI"]["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert {k: v.get("statusCode") for k, v in responses.items() if k in (
        "MISSING_AUTHENTICATION_TOKEN", "UNAUTHORIZED", "ACCESS_DENIED", "AUTHORIZER_FAILURE")} == {
        "MISSING_AUTHENTICATION_TOKEN": "404", "UNAUTHORIZED": "401", "ACCESS_DENIED": "403",
        "AUTHORIZER_FAILURE": "503"}
    assert responses["AUTHORIZER_FAILURE"]["responseParameters"]["gatewayresponse.header.Retry-After"].strip("'")
    body = json.loads(responses["MISSING_AUTHENTICATION_TOKEN"]["responseTemplates"]["application/json"])
    assert body["error"]["code"] == "not_found"
    assert set(body["error"]) == {"code", "message", "field", "reason", "details"}
    assert {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)


def test_package_ships_only_the_app_and_chalicelib_when_packaged(built):
    """Dev-only code (devtools' moto patches, tests, benches, the local stack) never reaches Lambda."""
    import zipfile

    with zipfile.ZipFile(built / "deployment.zip") as bundle:
        tops = {name.split("/")[0] for name in bundle.namelist()}
    assert "app.py" in tops and "chalicelib" in tops
    assert not tops & {"devtools", "tests", "bench", "infra"}, tops


def test_package_scopes_ses_to_the_operator_s_identities_and_from_addresses_when_packaged(cfn):
    """Not `identity/*`: the dispatch worker sends only from identities an operator added (issue 15 item 8)."""
    assert {"SesIdentityArns", "SesFromAddresses"} <= set(cfn["Parameters"])
    statements = [s for role in of_type(cfn, "AWS::IAM::Role").values()
                  for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    ses = [s for s in statements if any(str(a).startswith("ses:") for a in s["Action"])]
    assert ses and all(s["Resource"] == {"Ref": "SesIdentityArns"} for s in ses)
    assert all(s["Condition"] == {"StringLike": {"ses:FromAddress": {"Ref": "SesFromAddresses"}}} for s in ses)
