"""The base of every pydantic model in chalicelib: its validator and serializer are built on first use.

Building them at class creation cost each function's cold start a third of `import boto3` in CPU for models most
functions never use (a worker never validates an API body); with `defer_build` a model is built the first time it
validates, dumps or describes itself, once per process, and behaves the same after.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

DEFERRED = ConfigDict(defer_build=True)


class Model(BaseModel):
    model_config = DEFERRED
