"""The dependency layer (infra/layer.py): runtime packages only, botocore's models of exactly the services called."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from infra.layer import check_layer, services, slim

SITE = "python/lib/python3.13/site-packages"
SERVICES = services()
DATA = f"{SITE}/botocore/data"


def _zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, "x" * 10)
    return path


def _botocore(services: set[str] | frozenset[str]) -> list[str]:
    return [f"{SITE}/botocore/__init__.py", f"{DATA}/endpoints.json", f"{DATA}/_retry.json",
            *[f"{DATA}/{s}/2012-08-10/service-2.json.gz" for s in sorted(services)]]


def test_check_layer_refuses_development_tools_and_a_layer_without_pydantic_core(tmp_path):
    base = [f"{SITE}/pydantic_core/__init__.py", f"{SITE}/boto3/__init__.py", *_botocore(SERVICES)]
    assert check_layer(_zip(tmp_path / "clean.zip", base)) == []
    dirty = _zip(tmp_path / "dirty.zip", [*base, f"{SITE}/chalice/cli/x.py", f"{SITE}/pip/__init__.py",
                                          f"{SITE}/yaml/__init__.py"])
    assert check_layer(dirty) == [f"dirty.zip: ships {t}, a development tool" for t in ("chalice", "pip", "yaml")]
    empty = _zip(tmp_path / "empty.zip", base[1:])
    assert check_layer(empty) == [f"empty.zip: no pydantic_core under {SITE}"]


def test_check_layer_wants_botocore_models_of_exactly_the_services_the_functions_call(tmp_path):
    base = [f"{SITE}/pydantic_core/__init__.py"]
    missing = _zip(tmp_path / "missing.zip", [*base, *_botocore(SERVICES - {"sqs"})])
    assert check_layer(missing) == ["missing.zip: no botocore model for sqs, which the functions call"]
    extra = _zip(tmp_path / "extra.zip", [*base, *_botocore(SERVICES | {"ec2"})])
    assert check_layer(extra) == ["extra.zip: ships botocore's model of ec2, which no function calls"]


def test_slim_drops_the_models_of_services_no_function_calls_and_keeps_botocores_own_files(tmp_path):
    layer = _zip(tmp_path / "layer.zip", [f"{SITE}/pydantic_core/__init__.py", *_botocore(SERVICES | {"ec2", "iam"}),
                                          f"{DATA}/ec2/2016-11-15/paginators-1.json"])
    assert slim(layer) == 30
    with zipfile.ZipFile(layer) as archive:
        names = archive.namelist()
    assert sorted(names) == sorted([f"{SITE}/pydantic_core/__init__.py", *_botocore(SERVICES)])
    assert check_layer(layer) == []


def test_package_layer_creates_a_client_of_every_service_called_and_holds_only_runtime_packages_when_packaged(
        built, tmp_path):
    layer = built / "layer-deployment.zip"
    assert check_layer(layer) == []
    with zipfile.ZipFile(layer) as archive:
        archive.extractall(tmp_path)
    probe = (f"import sys; sys.path[:0] = [{str(tmp_path / SITE)!r}]\n"
             "import boto3, botocore, botocore.exceptions\n"
             f"assert botocore.__file__.startswith({str(tmp_path)!r}), botocore.__file__\n"
             f"for s in {sorted(SERVICES)!r}: boto3.client(s, region_name='us-east-1')\n"
             "try:\n    boto3.client('ec2', region_name='us-east-1')\n"
             "except botocore.exceptions.UnknownServiceError:\n    print('slim')\n")
    done = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, check=False,
                          env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"})
    assert (done.returncode, done.stdout.strip()) == (0, "slim"), done.stderr[-2000:]
