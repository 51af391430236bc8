"""Shared fixtures: one moto world per test session, a merchant per test, the API client."""

from __future__ import annotations

import os

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "MKT_PREFIX": "test",
    "POWERTOOLS_METRICS_DISABLED": "true",  # tests/unit/test_observe.py turns them on to check them
})
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import moto
import pytest
from hypothesis import settings

from tests.support.substitutes import Substitutes

# `make test` and mutation testing explore the same examples every run (a verdict must not depend on luck);
# `make fuzz` sets MKT_HYPOTHESIS_PROFILE=fuzz for fresh random examples each run.
settings.register_profile("derandomized", derandomize=True, database=None, deadline=None)
settings.register_profile("fuzz", derandomize=False, deadline=None)
settings.load_profile(os.environ.get("MKT_HYPOTHESIS_PROFILE", "derandomized"))


@pytest.fixture(scope="session")
def aws() -> Iterator[None]:
    """One in-process moto world; tables and queues created once, tests isolate by merchant."""
    # One moto world serves the whole session, so tables grow; moto's TransactWriteItems deep-copies each table
    # per item (O(table)) and every Query sorts the whole table with slow comparisons, which made later tests
    # crawl. devtools.fastmoto answers as stock moto does without either (test_fastmoto_differential.py).
    from devtools import fastmoto
    fastmoto.install()
    with moto.mock_aws():
        from chalicelib import wiring
        wiring.reset()
        from infra.local.provision import provision
        provision()
        yield


@pytest.fixture
def clock() -> Iterator[Any]:
    """A settable fixed clock, restored to the system clock afterwards."""
    from chalicelib import wiring
    from chalicelib.core.clock import system_clock

    class Settable:
        def __init__(self) -> None:
            self.now = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)

        def set(self, now: datetime) -> None:
            self.now = now

    settable = Settable()
    wiring.set_clock(lambda: settable.now)
    yield settable
    wiring.set_clock(system_clock)


@pytest.fixture(scope="session")
def chalice_app(aws: None) -> Any:
    from app import app
    return app


@pytest.fixture(scope="session")
def api(chalice_app: Any) -> Iterator[Any]:
    from infra.local.gateway import ApiClient
    client = ApiClient(chalice_app)
    yield client


class MerchantCtx:
    """A fresh merchant with its admin token."""

    def __init__(self, merchant_id: str, token: str) -> None:
        self.id = merchant_id
        self.token = token


@pytest.fixture
def merchant(aws: None) -> MerchantCtx:
    from chalicelib import wiring
    m, issued = wiring.tenancy_service().create_merchant("Test Store")
    return MerchantCtx(m.merchant_id, issued.token)


@pytest.fixture
def other_merchant(aws: None) -> MerchantCtx:
    from chalicelib import wiring
    m, issued = wiring.tenancy_service().create_merchant("Other Store")
    return MerchantCtx(m.merchant_id, issued.token)


@pytest.fixture
def runtime(chalice_app: Any) -> Any:
    import app as handlers
    from infra.local.runtime import LocalRuntime
    rt = LocalRuntime(handlers)
    rt.purge()
    return rt


@pytest.fixture
def substitute(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Substitutes]:
    """Replace parts of the composition root for one test (see Substitutes)."""
    substitutes = Substitutes(monkeypatch)
    yield substitutes
    substitutes.undo()


@pytest.fixture
def allow_all(substitute: Substitutes) -> None:
    """Dispatch without guardrails (tests of other behaviour that would otherwise meet a cap or quiet hours)."""
    from chalicelib.dispatch.screening import AllowAll

    substitute.policy(AllowAll())


@pytest.fixture
def loopback_webhooks(aws: None) -> Iterator[None]:
    """The test-only egress escape: webhooks may reach receivers on 127.0.0.1 (wired here, never by the API)."""
    from chalicelib import wiring
    from chalicelib.core.egress import PUBLIC, EgressPolicy

    wiring.set_egress_policy(EgressPolicy.allowing("127.0.0.1/32"))
    yield
    wiring.set_egress_policy(PUBLIC)
