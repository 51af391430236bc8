"""`make package`: chalice's SAM template merged with infra/stack, the real SAM transform, cfn-lint on its output.

1. infra/stack writes build/merge-template.json (infra/template.yml plus everything derived from code);
   `chalice package --merge-template` merges it into its SAM template by logical id (a deep merge of mappings;
   lists are replaced) and builds build/deployment.zip and build/layer-deployment.zip.
2. The swagger is gated (infra/stack/api.py: 405s answered by API Gateway, the authorizer's validation and cache)
   and checked (verify); the result is build/sam.json, the template `make deploy` ships.
3. The zips are named by content (build/artifacts.json) and the template pointed at S3 as `aws cloudformation
   package` would; aws-sam-translator, the transform CloudFormation runs, turns it into build/cfn.json offline
   (it rejects what CloudFormation would reject), and cfn-lint checks that CloudFormation template.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource

from chalicelib.core.resources import QUEUES
from infra.bytecode import precompile
from infra.layer import check_layer, slim
from infra.stack.functions import FUNCTIONS, RUNTIME, function_id, role_id
from infra.stack.template import merge_template

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
STAGE = "dev"  # the chalice stage packaged; the deployment stage is the template's Stage parameter
REGION = "us-east-1"
DEPLOY_PYTHON = ROOT / ".venv-deploy" / "bin" / "python"
ARTIFACTS = ("deployment.zip", "layer-deployment.zip")
PLACEHOLDER_BUCKET = "artifacts-bucket"  # the offline transform's; `make deploy` uses the real one
TEMPLATE_URL_LIMIT = 1_000_000  # CloudFormation's limit for a template read from S3 (the inline one is 51,200)
VISIBILITY_PER_TIMEOUT = 6  # AWS: an SQS event source's visibility timeout >= 6x the function timeout

# chalice packages for the interpreter running it: the runtime, the layer's site-packages path and the
# wheels' ABI all come from it, and its pip download of Lambda wheels passes no --python-version, so on
# another interpreter it finds no cp313 wheel (aws/chalice#937). chalice runs pinned to RUNTIME, and
# check_layer() inspects what it built.
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


def load_stage() -> dict[str, Any]:
    """The stage of .chalice/config.json, with the app's name."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {"app_name": config["app_name"], **config["stages"][STAGE]}


def check_config(stage: dict[str, Any]) -> list[str]:
    """Mistakes AWS would only report at deploy time, or that its guidance warns of."""
    functions = stage.get("lambda_functions", {})
    problems = [f"{f}: not in .chalice/config.json lambda_functions" for f in FUNCTIONS if f not in functions]
    for queue in QUEUES:
        timeout = functions.get(f"{queue.name}_worker", {}).get("lambda_timeout", stage.get("lambda_timeout", 60))
        if queue.visibility_timeout < VISIBILITY_PER_TIMEOUT * timeout:
            problems.append(f"queue {queue.name}: visibility timeout {queue.visibility_timeout}s < "
                            f"{VISIBILITY_PER_TIMEOUT} x the function's {timeout}s")
    return problems


def verify(template: dict[str, Any]) -> list[str]:
    """What the merge must have produced: a logical id chalice renamed would otherwise slip through."""
    resources = template["Resources"]
    functions = {k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function"}
    known = {function_id(f) for f in FUNCTIONS}
    problems = [f"{f}: a Lambda missing from FUNCTIONS in infra/stack/functions.py" for f in sorted(functions - known)]
    problems += [f"{k}: merged onto nothing (chalice renamed it?)" for k, v in resources.items() if "Type" not in v]
    for name in sorted(functions & known):
        props = resources[name]["Properties"]
        if props.get("Runtime") != RUNTIME:
            problems.append(f"{name}: runtime {props.get('Runtime')}")
        problems += [f"{name}.{e}: merged onto no event (chalice renamed it?)"
                     for e, event in props.get("Events", {}).items() if "Type" not in event]
    roles = {role_id(f) for f in FUNCTIONS}
    if used := {resources[f]["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions} - roles:
        problems.append(f"functions use roles with no policy of ours: {sorted(used)}")
    # cfn-lint skips its IAM action check under the SAM transform (SAM issue #3633): do it here.
    iam = load_resource(AdditionalSpecs, "Policies.json")
    for name, resource in resources.items():
        for policy in resource.get("Properties", {}).get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
                    service, _, verb = action.lower().partition(":")
                    if verb not in iam.get(service, {}).get("Actions", {}):
                        problems.append(f"{name}: IAM has no action {action}")
    return problems


def artifact_keys() -> dict[str, str]:
    """Each zip's S3 key, named by its content (a changed zip is a new key, so CloudFormation updates the code)."""
    keys = {}
    for name in ARTIFACTS:
        digest = hashlib.sha256((BUILD / name).read_bytes()).hexdigest()[:20]
        keys[name] = f"precision-marketing/{digest}-{name}"
    return keys


def with_artifacts(template: dict[str, Any], bucket: str, keys: dict[str, str]) -> dict[str, Any]:
    """The template with CodeUri / ContentUri pointing at the uploaded zips (what `cloudformation package` does)."""
    out: dict[str, Any] = json.loads(json.dumps(template))
    for resource in out["Resources"].values():
        props = resource.get("Properties", {})
        for field in ("CodeUri", "ContentUri"):
            if isinstance(props.get(field), str) and props[field].startswith("./"):
                props[field] = f"s3://{bucket}/{keys[props[field][2:]]}"
    return out


def transform(sam: Path, out: Path) -> tuple[int, str]:
    """aws-sam-translator over a SAM template whose code is in S3 (infra/transform.py, in the deploy venv)."""
    if not DEPLOY_PYTHON.exists():
        return 1, f"no {DEPLOY_PYTHON.relative_to(ROOT)}: run `make deploy-venv` (make package does)"
    return run([str(DEPLOY_PYTHON), str(ROOT / "infra" / "transform.py"), str(sam), str(out), f"AWS::Region={REGION}"])


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


INPUTS = ("app.py", "chalicelib", "infra", "requirements.txt", "requirements-deploy.txt", ".chalice/config.json")
OUTPUTS = ("sam.json", "cfn.json", "artifacts.json", *ARTIFACTS)


def inputs_digest() -> str:
    """SHA-256 over every file the build reads (a test that needs build/ reuses an up-to-date one)."""
    digest = hashlib.sha256()
    for top in INPUTS:
        path = ROOT / top
        for file in sorted([path] if path.is_file() else path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """`--if-stale`: do nothing when build/ was made from the same inputs (tests use it)."""
    BUILD.mkdir(exist_ok=True)
    with (BUILD / ".package.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # runs in parallel (pytest -n) share build/ and chalice's zip cache
        stamp, digest = BUILD / ".inputs.sha256", inputs_digest()
        fresh = stamp.exists() and stamp.read_text() == digest and all((BUILD / o).exists() for o in OUTPUTS)
        if "--if-stale" in (argv or []) and fresh:
            print(f"build/ is up to date ({digest[:12]}): SAM transform and cfn-lint passed on these inputs")
            return 0
        stamp.unlink(missing_ok=True)
        code = package()
        if code == 0:
            stamp.write_text(digest)
        return code


def chalice_package() -> list[str]:
    """Steps 1: build/merge-template.json, then chalice's template and zips (build/sam.json as chalice wrote it)."""
    merge = BUILD / "merge-template.json"
    merge.write_text(json.dumps(merge_template(), indent=2, sort_keys=True) + "\n")
    env = {**os.environ, "AWS_DEFAULT_REGION": REGION}
    env.pop("AWS_PROFILE", None)
    code, out = run([sys.executable, "-c", _CHALICE, RUNTIME, "--project-dir", str(ROOT), "package",
                     "--stage", STAGE, "--merge-template", str(merge), str(BUILD)], env)
    layer = BUILD / "layer-deployment.zip"
    if code == 0:
        print(f"layer: dropped {slim(layer) / 1e6:.1f} MB of botocore models no function calls")
    problems = check_layer(layer) if code == 0 else ["chalice package failed"]
    if "Could not install dependencies" in out or problems:
        # chalice caches the layer by requirements.txt: drop a bad one so that the next run rebuilds it.
        for cached in (ROOT / ".chalice" / "deployments").glob(f"managed-layer-*-{RUNTIME}*.zip"):
            cached.unlink()
        return problems or ["chalice could not get a Lambda wheel for every dependency"]
    return []


def gate(template: dict[str, Any]) -> dict[str, int]:
    """Step 2: the API's swagger gated (infra/stack/api.py), from the app chalice packaged."""
    from app import app
    from infra.stack.api import gate_swagger

    return gate_swagger(template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"], app)


def package() -> int:
    started = time.monotonic()
    if problems := check_config(load_stage()) or chalice_package():
        return fail(problems)
    output = BUILD / "sam.json"
    template = json.loads(output.read_text())
    counts = gate(template)
    if problems := verify(template):
        return fail(problems)
    output.write_text(json.dumps(template, indent=2, sort_keys=True) + "\n")
    if output.stat().st_size > TEMPLATE_URL_LIMIT:
        return fail([f"{output.name} is {output.stat().st_size} bytes, over CloudFormation's {TEMPLATE_URL_LIMIT}"])
    compiled = {name: precompile(BUILD / name, RUNTIME) for name in ARTIFACTS}
    if not any(compiled.values()):
        print(f"package: this is Python {sys.version.split()[0]}, not {RUNTIME}: the zips ship sources only "
              "(Lambda compiles them on every cold start); `make package` on python3.13 precompiles them")
    keys = artifact_keys()
    (BUILD / "artifacts.json").write_text(json.dumps(keys, indent=2) + "\n")
    staged = BUILD / "sam-s3.json"
    staged.write_text(json.dumps(with_artifacts(template, PLACEHOLDER_BUCKET, keys), indent=2) + "\n")
    transformed = BUILD / "cfn.json"
    if transform(staged, transformed)[0]:
        return fail(["the SAM transform rejected the template"])
    # Nothing is ignored, informational checks included: any finding (exit 2, 4 or 8) fails the build.
    if run([str(Path(sys.executable).parent / "cfn-lint"), "--regions", REGION, "--include-checks", "I", "--",
            str(transformed), str(ROOT / "infra" / "account.yml")])[0]:
        return fail(["cfn-lint reported findings on the transformed template or infra/account.yml"])
    print(f"API: {counts['methods']} methods, {counts['mock_405']} answered 405 by API Gateway, "
          f"{counts['lambda_public']} public routes reach Lambda without the authorizer")
    print("precompiled: " + ", ".join(f"{n} {c} .pyc" for n, c in compiled.items()))
    print(f"SAM transform and cfn-lint: no findings. {output.relative_to(ROOT)} and {transformed.relative_to(ROOT)} "
          f"ready in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
