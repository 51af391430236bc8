"""Cold start, counted rather than timed: what a function's first import loads (bench/coldstart.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after `code` (from the project root, as the zip lays it out)."""
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": ""})
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_coldstart_the_authorizers_import_loads_neither_pydantic_nor_the_wiring_nor_the_app():
    loaded = _loaded_after("import chalicelib.core.authorizer")
    assert "boto3" in loaded  # the probe did import it
    assert not {m for m in loaded if m.split(".")[0] in ("pydantic", "pydantic_core", "app", "pynamodb")}
    assert not {m for m in loaded if m.startswith("chalicelib.") and m.split(".")[1] not in ("core",)}
    assert not {m for m in loaded if m.startswith("chalicelib.wiring")}


def test_coldstart_every_pydantic_model_of_chalicelib_is_built_on_first_use_when_the_app_is_imported():
    import app  # noqa: F401  (every blueprint, handler and the wiring behind them)

    def subclasses(cls: type[BaseModel]) -> list[type[BaseModel]]:
        return [s for c in cls.__subclasses__() for s in (c, *subclasses(c))]

    ours = [m for m in subclasses(BaseModel) if m.__module__.startswith("chalicelib")]
    assert len(ours) > 60  # the walk saw them
    assert [m.__qualname__ for m in ours if not m.model_config.get("defer_build")] == []


def test_coldstart_a_deferred_model_validates_and_describes_itself_as_before_on_first_use():
    from chalicelib.core.basemodel import Model

    class Probe(Model):
        count: int = 0

    assert not Probe.__pydantic_complete__
    assert Probe.model_validate({"count": "3"}).count == 3
    assert Probe.__pydantic_complete__ and Probe.model_json_schema()["properties"]["count"]["type"] == "integer"


def test_coldstart_importing_the_app_builds_no_model_of_chalicelib_when_nothing_has_run_yet():
    """Nothing at import asks a model for its schema (a batch's item documentation is made when a document is)."""
    probe = ("import app\nfrom pydantic import BaseModel\n"
             "def subs(c): return [s for x in c.__subclasses__() for s in (x, *subs(x))]\n"
             "built = [m.__qualname__ for m in subs(BaseModel)\n"
             "         if m.__module__.startswith('chalicelib') and m.__pydantic_complete__]\n"
             "print(json.dumps(built))")
    done = subprocess.run([sys.executable, "-c", "import json\n" + probe], cwd=ROOT, capture_output=True, text=True,
                          check=True, env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": ""})
    assert json.loads(done.stdout.splitlines()[-1]) == []
