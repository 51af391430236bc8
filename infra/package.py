"""`make package`: `chalice package` merged with a template generated from code, then cfn-lint on the result.

The merge template (build/merge-template.json) is infra/template.yml plus what this module derives:
tables and queues from chalicelib.core.resources, one least-privilege policy per Lambda role, the
python3.13 runtime, event-source settings chalice cannot express, and API Gateway responses taken
from infra/local/gateway.py. chalice merges it into its SAM template by logical id (a deep merge of
mappings; lists are replaced). Output: build/sam.json, build/deployment.zip, build/layer-deployment.zip.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource
from chalice.package import YAMLTemplateSerializer
from chalice.utils import to_cfn_resource_name

from chalicelib.core.resources import QUEUES, STREAM_RETRIES, TABLES, QueueSpec, TableSpec, table_spec

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
STAGE = "dev"
RUNTIME = "python3.13"
REGION = "us-east-1"
DLQ_RETENTION = 1_209_600  # 14 days, the SQS maximum: time to look at a poison message
QUEUE_RETENTION = 345_600  # 4 days, the SQS default, said out loud
# Pollers per SQS mapping. Reserved concurrency would make Lambda throttle deliveries, and throttled
# receives count toward maxReceiveCount (healthy messages end up in the DLQ); a mapping's maximum
# concurrency caps the pollers instead. Sized for SES/SNS send rates and DynamoDB bursts.
MAX_POLLERS = {"plan": 4, "dispatch": 10}
# Every Lambda chalice makes; verify() fails on one missing here (it would get no policy).
FUNCTIONS = ("api_handler", "api_key_authorizer", "tick", "plan_worker", "dispatch_worker", "activity_stream")
# Capabilities beyond the tables and enqueueing; a function needs an entry once its code calls one.
SENDS_MESSAGES = {"dispatch_worker"}  # SES e-mail, SNS SMS (chalicelib/channels)
WRITES_EXPORTS = {"api_handler"}  # S3 CSV exports (chalicelib/reports/export.py)
# Transactions are authorised per contained action: IAM has no TransactWriteItems/TransactGetItems.
TABLE_ACTIONS = [f"dynamodb:{a}" for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query",
                                          "BatchGetItem", "BatchWriteItem", "ConditionCheckItem")]
QUEUE_CONSUMER = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]

# chalice packages for the interpreter running it (3.11 here): the runtime, the layer's site-packages
# path and the wheels' ABI all come from it, and its pip download of Lambda wheels passes no
# --python-version, so it finds no cp313 wheel (aws/chalice#937: "use a virtualenv of the Lambda's
# version"). Overriding only the template's Runtime would ship cp311 pydantic-core to python3.13, so
# chalice runs pinned to RUNTIME, and check_layer() inspects what it built.
_CHALICE = """\
import sys
from chalice import cli, config
from chalice.deploy import packager
runtime = sys.argv.pop(1)
config.Config.lambda_python_version = property(lambda self: runtime)
execute = packager.PipRunner._execute
def pinned(self, command, args, env_vars=None, shim=None):
    if command == "download" and "--abi" in args:
        args = ["--python-version", runtime.removeprefix("python"), *args]
    return execute(self, command, args, env_vars, shim)
packager.PipRunner._execute = pinned
sys.argv[0] = "chalice"
sys.exit(cli.main())
"""


def cfn(name: str) -> str:
    """chalice's logical-id spelling of a name (`plan_worker` → `PlanWorker`)."""
    return str(to_cfn_resource_name(name))


ROLES = {f: ("APIHandler" if f == "api_handler" else cfn(f), cfn(f"{f}_role")) for f in FUNCTIONS}


def table_id(spec: TableSpec) -> str:
    return f"{cfn(spec.name)}Table"


def queue_id(name: str) -> str:
    return f"{cfn(name[:-4])}DeadLetterQueue" if name.endswith("-dlq") else f"{cfn(name)}Queue"


def stream_table() -> TableSpec:
    (spec,) = [t for t in TABLES if t.stream]
    return spec


def load_stage() -> dict[str, Any]:
    """The stage of .chalice/config.json, with the app's name."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {"app_name": config["app_name"], **config["stages"][STAGE]}


def _att(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def _sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def _keys(hash_key: str, range_key: str) -> list[dict[str, str]]:
    return [{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": range_key, "KeyType": "RANGE"}]


def _table(spec: TableSpec, prefix: str) -> dict[str, Any]:
    names = {spec.hash_key, spec.range_key} | {k for i in spec.indexes for k in (i.hash_key, i.range_key)}
    props: dict[str, Any] = {
        "TableName": f"{prefix}-{spec.name}", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": "S"} for k in sorted(names)],
        "KeySchema": _keys(spec.hash_key, spec.range_key),
        "TimeToLiveSpecification": {"AttributeName": spec.ttl_attribute, "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
    if spec.indexes:
        props["GlobalSecondaryIndexes"] = [{"IndexName": i.name, "KeySchema": _keys(i.hash_key, i.range_key),
                                            "Projection": {"ProjectionType": "ALL"}} for i in spec.indexes]
    if spec.stream:
        props["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    # Merchant data outlives the stack: a stack delete or a replacing update keeps the table.
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": props}


def _queue(name: str, retention: int, **props: Any) -> dict[str, Any]:
    # Queued work is transient (the tables hold the truth and the claims): deleted with the stack.
    return {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"QueueName": name, "MessageRetentionPeriod": retention, "SqsManagedSseEnabled": True,
                           **props}}


def _queues(spec: QueueSpec, prefix: str) -> dict[str, Any]:
    dlq = queue_id(spec.dlq_name)
    redrive = {"deadLetterTargetArn": _att(dlq), "maxReceiveCount": spec.max_receive_count}
    return {dlq: _queue(f"{prefix}-{spec.dlq_name}", DLQ_RETENTION),
            queue_id(spec.name): _queue(f"{prefix}-{spec.name}", QUEUE_RETENTION,
                                        VisibilityTimeout=spec.visibility_timeout, RedrivePolicy=redrive)}


def _function(function: str) -> dict[str, Any]:
    """Overrides of one AWS::Serverless::Function: runtime, the bucket's name, its event source."""
    props: dict[str, Any] = {"Runtime": RUNTIME,
                             "Environment": {"Variables": {"MKT_EXPORT_BUCKET": {"Ref": "ExportBucket"}}}}
    for queue in QUEUES:
        if function == f"{queue.name}_worker":
            props["Events"] = {f"{cfn(function)}SqsEventSource": {"Properties": {
                # chalice writes {"Fn::Sub": "arn:...:<name>"}: the deep merge can only replace that key's
                # value. Referring to the queue also makes CloudFormation create it before the mapping.
                "Queue": _sub(f"${{{queue_id(queue.name)}.Arn}}"),
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": MAX_POLLERS[queue.name]}}}}
    if function == "activity_stream":
        props["Events"] = {f"{cfn(function)}DynamodbEventSource": {"Properties": {
            "Stream": _att(table_id(stream_table()), "StreamArn"),  # app.py passes a placeholder
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": STREAM_RETRIES, "BisectBatchOnFunctionError": True,
            "DestinationConfig": {"OnFailure": {"Destination": _att("ActivityStreamDeadLetterQueue")}}}}}
    return {"Properties": props}


def _allow(sid: str, actions: list[str], resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource, **extra}


def role_policy(function: str, stage: dict[str, Any]) -> dict[str, Any]:
    """The one inline policy of a Lambda's role. `*` only where IAM has no resource type (see the Sids)."""
    logs = f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/" \
           f"{stage['app_name']}-{STAGE}-*"
    statements = [_allow("Logs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], _sub(logs))]
    if function == "api_key_authorizer":  # it only looks up the presented key (TenancyService.authenticate)
        statements.append(_allow("ReadKeys", ["dynamodb:GetItem"], _att(table_id(table_spec("definitions")))))
        return {"Version": "2012-10-17", "Statement": statements}
    indexes = [_sub(f"${{{table_id(t)}.Arn}}/index/*") for t in TABLES if t.indexes]
    namespace = stage["environment_variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    statements += [
        _allow("Tables", TABLE_ACTIONS, [_att(table_id(t)) for t in TABLES] + indexes),
        _allow("EnqueueWork", ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
               [_att(queue_id(q.name)) for q in QUEUES]),
        # PutMetricData has no resource type; the namespace condition scopes it.
        _allow("MetricsInOwnNamespace", ["cloudwatch:PutMetricData"], "*",
               Condition={"StringEquals": {"cloudwatch:namespace": namespace}}),
    ]
    statements += [_allow("ConsumeOwnQueue", QUEUE_CONSUMER, _att(queue_id(q.name)))
                   for q in QUEUES if function == f"{q.name}_worker"]
    if function == "activity_stream":
        streamed = table_id(stream_table())
        statements += [
            _allow("ReadActivityStream", ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                          "dynamodb:GetShardIterator"], _att(streamed, "StreamArn")),
            _allow("ListStreamsHasNoResourceType", ["dynamodb:ListStreams"], "*"),
            _allow("StreamOnFailureDestination", ["sqs:SendMessage"], _att("ActivityStreamDeadLetterQueue")),
        ]
    if function in WRITES_EXPORTS:
        statements.append(_allow("Exports", ["s3:PutObject", "s3:GetObject"], _sub("${ExportBucket.Arn}/exports/*")))
    if function in SENDS_MESSAGES:
        statements += [
            _allow("SendEmail", ["ses:SendEmail", "ses:SendRawEmail"],
                   _sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*")),
            # An SMS goes to a phone number, which has no ARN: Publish needs `*`, and topics are denied.
            _allow("SmsToPhoneNumbersHaveNoArn", ["sns:Publish"], "*"),
            {"Sid": "NoTopics", "Effect": "Deny", "Action": "sns:Publish",
             "Resource": _sub("arn:${AWS::Partition}:sns:*:*:*")},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


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
        "ResponseParameters": {"gatewayresponse.header.Retry-After": f"'{headers['Retry-After']}'"}}
    for kind, code, fixed in (("REQUEST_TOO_LARGE", "too_large", 413), ("DEFAULT_4XX", "bad_request", None),
                              ("DEFAULT_5XX", "internal_error", None)):
        # $context.error.messageString is API Gateway's message, already quoted as a JSON string.
        shape: dict[str, Any] = {"error": {"code": code, "message": "M", "field": None, "reason": "M", "details": []}}
        template = json.dumps(shape).replace('"M"', "$context.error.messageString")
        responses[kind] = {"ResponseTemplates": {"application/json": template}}
        if fixed:
            responses[kind]["StatusCode"] = str(fixed)
    return responses


def merge_template(stage: dict[str, Any]) -> dict[str, Any]:
    """infra/template.yml plus everything derived from code."""
    prefix = stage["environment_variables"]["MKT_PREFIX"]
    template: dict[str, Any] = YAMLTemplateSerializer().load_template((ROOT / "infra" / "template.yml").read_text())
    resources = template.setdefault("Resources", {})
    resources.update({table_id(spec): _table(spec, prefix) for spec in TABLES})
    for queue in QUEUES:
        resources.update(_queues(queue, prefix))
    resources["ActivityStreamDeadLetterQueue"] = _queue(f"{prefix}-activity-stream-dlq", DLQ_RETENTION)
    for function, (function_id, role_id) in ROLES.items():
        resources[function_id] = _function(function)
        resources[role_id] = {"Properties": {"Policies": [
            {"PolicyName": f"{role_id}Policy", "PolicyDocument": role_policy(function, stage)}]}}
    resources["ManagedLayer"] = {"Properties": {"CompatibleRuntimes": [RUNTIME]}}
    resources["RestAPI"] = {"Properties": {"GatewayResponses": gateway_responses()}}
    return template


def check_config(stage: dict[str, Any]) -> list[str]:
    """Mistakes AWS would only report at deploy time."""
    functions = stage.get("lambda_functions", {})
    problems = [f"{f}: not in .chalice/config.json lambda_functions" for f in FUNCTIONS if f not in functions]
    for queue in QUEUES:  # Lambda refuses a mapping whose queue hides messages for less than the timeout
        timeout = functions.get(f"{queue.name}_worker", {}).get("lambda_timeout", stage.get("lambda_timeout", 60))
        if queue.visibility_timeout < timeout:
            problems.append(f"queue {queue.name}: visibility timeout {queue.visibility_timeout}s < {timeout}s")
    return problems


def verify(template: dict[str, Any]) -> list[str]:
    """What the merge must have produced: a logical id chalice renamed would otherwise slip through."""
    resources = template["Resources"]
    functions = {k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function"}
    known = {function_id for function_id, _ in ROLES.values()}
    problems = [f"{f}: a Lambda missing from FUNCTIONS in infra/package.py" for f in sorted(functions - known)]
    problems += [f"{k}: merged onto nothing (chalice renamed it?)" for k, v in resources.items() if "Type" not in v]
    for name in sorted(functions & known):
        props = resources[name]["Properties"]
        if props.get("Runtime") != RUNTIME:
            problems.append(f"{name}: runtime {props.get('Runtime')}")
        problems += [f"{name}.{e}: merged onto no event (chalice renamed it?)"
                     for e, event in props.get("Events", {}).items() if "Type" not in event]
    # cfn-lint skips its IAM action check (W3037) under the SAM transform (SAM issue #3633): do it here.
    iam = load_resource(AdditionalSpecs, "Policies.json")
    for name, resource in resources.items():
        for policy in resource.get("Properties", {}).get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
                    service, _, verb = action.lower().partition(":")
                    if verb not in iam.get(service, {}).get("Actions", {}):
                        problems.append(f"{name}: IAM has no action {action}")
    return problems


def check_layer(layer: Path) -> list[str]:
    """Every compiled module in the dependency layer must be built for RUNTIME, under its path."""
    tag = "cpython-" + RUNTIME.removeprefix("python").replace(".", "")
    with zipfile.ZipFile(layer) as archive:
        names = archive.namelist()
    problems = [f"{layer.name}: {n} is not for {RUNTIME}" for n in names
                if ".cpython-" in n and n.endswith(".so") and tag not in n]
    if not any(n.startswith(f"python/lib/{RUNTIME}/site-packages/pydantic_core/") for n in names):
        problems.append(f"{layer.name}: no pydantic_core under python/lib/{RUNTIME}/site-packages")
    return problems


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a command from the project root, echoing its output; returns (exit code, output)."""
    print("$", " ".join(["chalice", *argv[4:]] if argv[1:2] == ["-c"] else argv), flush=True)
    done = subprocess.run(argv, cwd=ROOT, env=env, check=False, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(done.stdout, end="", flush=True)
    return done.returncode, done.stdout


def fail(problems: list[str]) -> int:
    print("\n".join(f"package: {p}" for p in problems), file=sys.stderr)
    return 1


def main() -> int:
    BUILD.mkdir(exist_ok=True)
    with (BUILD / ".package.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # runs in parallel (pytest -n) share build/ and chalice's zip cache
        return package()


def package() -> int:
    started = time.monotonic()
    stage = load_stage()
    if problems := check_config(stage):
        return fail(problems)
    merge = BUILD / "merge-template.json"
    merge.write_text(json.dumps(merge_template(stage), indent=2, sort_keys=True) + "\n")
    env = {**os.environ, "AWS_DEFAULT_REGION": REGION, "MKT_PREFIX": stage["environment_variables"]["MKT_PREFIX"]}
    env.pop("AWS_PROFILE", None)
    code, out = run([sys.executable, "-c", _CHALICE, RUNTIME, "--project-dir", str(ROOT), "package",
                     "--stage", STAGE, "--merge-template", str(merge), str(BUILD)], env)
    problems = check_layer(BUILD / "layer-deployment.zip") if code == 0 else ["chalice package failed"]
    if "Could not install dependencies" in out or problems:
        # chalice caches the layer by requirements.txt: drop a bad one so that the next run rebuilds it.
        for cached in (ROOT / ".chalice" / "deployments").glob(f"managed-layer-*-{RUNTIME}*.zip"):
            cached.unlink()
        return fail(problems or ["chalice could not get a Lambda wheel for every dependency"])
    output = BUILD / "sam.json"
    if problems := verify(json.loads(output.read_text())):
        return fail(problems)
    # Nothing is ignored, informational checks included: any finding (exit 2, 4 or 8) fails the build.
    if run([str(Path(sys.executable).parent / "cfn-lint"), "--regions", REGION, "--include-checks", "I", "--",
            str(output)])[0]:
        return fail(["cfn-lint reported findings"])
    print(f"cfn-lint: no findings. {output.relative_to(ROOT)} ready in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
