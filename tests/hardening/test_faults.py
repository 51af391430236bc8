"""Fault injection: the botocore-level injector itself, and a campaign plus orders under 20 % failing AWS calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from pynamodb.exceptions import TransactWriteError

from bench.faults import Scenario
from chalicelib import wiring
from chalicelib.core.config import get_config
from chalicelib.core.dynamo import reset_connection, transact_write
from chalicelib.dispatch.store import DispatchItem
from infra.local.faults import INTERNAL, LOST_RESPONSE, THROTTLE, FaultInjector, FaultPlan, reset_pynamodb

pytestmark = pytest.mark.slow


def _reset_clients() -> None:
    """Clients built before (or during) an injection are dropped: the next ones are built hooked (or clean)."""
    wiring.reset()
    reset_connection()
    reset_pynamodb()


@pytest.fixture
def inject(aws: None) -> Iterator[Any]:
    installed: list[FaultInjector] = []

    def install(**plan: Any) -> FaultInjector:
        injector = FaultInjector(FaultPlan(**plan)).install()
        installed.append(injector)
        _reset_clients()
        return injector

    yield install
    for injector in installed:
        injector.uninstall()
    _reset_clients()


def _table() -> str:
    return get_config().table("stats")


def _put(ddb: Any, key: str) -> str:
    try:
        ddb.put_item(TableName=_table(), Item={"pk": {"S": key}, "sk": {"S": "FAULT"}})
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    except ReadTimeoutError:
        return "ReadTimeout"
    except Exception as exc:  # connect timeouts and the like
        return type(exc).__name__
    return "ok"


def _stored(ddb: Any, key: str) -> bool:
    return "Item" in ddb.get_item(TableName=_table(), Key={"pk": {"S": key}, "sk": {"S": "FAULT"}})


def test_the_same_calls_fail_the_same_way_when_the_seed_is_the_same(inject: Any) -> None:
    outcomes = []
    for _ in range(2):
        injector = inject(rate=0.5, sticky=0.5, seed=11)
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        outcomes.append([_put(ddb, f"seed-{uuid.uuid4().hex}") for _ in range(30)])
        injector.uninstall()
    assert outcomes[0] == outcomes[1]
    assert {"ok"} < set(outcomes[0])  # some calls surfaced a failure, most did not


def test_throttled_and_failed_calls_are_not_applied_when_every_attempt_fails(inject: Any) -> None:
    injector = inject(rate=1.0, sticky=1.0, kinds=(THROTTLE, INTERNAL))
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    keys = [f"applied-{uuid.uuid4().hex}" for _ in range(6)]
    codes = {_put(ddb, k) for k in keys}
    assert codes <= {"ProvisionedThroughputExceededException", "InternalServerError"} and codes
    with injector.paused():
        assert not any(_stored(ddb, k) for k in keys)  # moto's stub never ran them
    assert sum(injector.stats.surfaced.values()) == 6 and injector.stats.retries > 6


def test_a_lost_response_is_applied_and_surfaces_as_a_read_timeout_when_every_attempt_loses_it(inject: Any) -> None:
    injector = inject(rate=1.0, sticky=1.0, kinds=(LOST_RESPONSE,))
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    key = f"lost-{uuid.uuid4().hex}"
    assert _put(ddb, key) == "ReadTimeout"
    with injector.paused():
        assert _stored(ddb, key)


def test_botocore_retries_absorb_transient_faults_when_they_are_not_sticky(inject: Any) -> None:
    injector = inject(rate=1.0, sticky=0.0, kinds=(THROTTLE, INTERNAL))
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    keys = [f"retried-{uuid.uuid4().hex}" for _ in range(5)]
    assert {_put(ddb, k) for k in keys} == {"ok"}
    with injector.paused():
        assert all(_stored(ddb, k) for k in keys)
    stats = injector.stats
    assert stats.calls["dynamodb"] == 5 and stats.retries == sum(stats.injected.values()) >= 5
    assert not stats.surfaced and stats.backoff_seconds > 0  # back-off counted, not slept


def test_sqs_sends_are_throttled_but_the_event_source_calls_are_left_alone(inject: Any) -> None:
    injector = inject(rate=1.0, sticky=1.0, kinds=(THROTTLE,), seed=3)
    sqs = boto3.client("sqs", region_name="us-east-1")
    with injector.paused():
        url = sqs.create_queue(QueueName=f"faults-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    with pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert refused.value.response["Error"]["Code"] == "ThrottlingException"
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None  # not faulted, not sent


def test_a_transaction_whose_answer_was_lost_succeeds_when_botocore_retries_it_with_its_token(inject: Any) -> None:
    """botocore sends the same ClientRequestToken on every attempt: DynamoDB answers the retry of an applied
    transaction with success. moto ignores the token, so the injector answers for it."""
    injector = inject(rate=1.0, sticky=0.0, kinds=(LOST_RESPONSE,), seed=5)
    key = f"tx-{uuid.uuid4().hex}"
    with transact_write() as tx:
        tx.save(DispatchItem(key, "A", kind="x"), condition=DispatchItem.pk.does_not_exist())
        tx.save(DispatchItem(key, "B", kind="x"), condition=DispatchItem.pk.does_not_exist())
    assert injector.stats.retries >= 1 and injector.stats.injected[LOST_RESPONSE] >= 1
    with injector.paused():
        assert {i.sk for i in DispatchItem.query(key)} == {"A", "B"}
        with pytest.raises(TransactWriteError), transact_write() as tx:  # a new transaction meets its conditions
            tx.save(DispatchItem(key, "A", kind="x"), condition=DispatchItem.pk.does_not_exist())


def test_campaign_and_orders_lose_and_duplicate_nothing_when_a_fifth_of_aws_calls_fail(inject: Any, api: Any,
                                                                                        runtime: Any,
                                                                                        clock: Any) -> None:
    """200 recipients (10 % held out) and 200 orders, half of the treated ones redeeming their coupon: the ledger,
    the wallets, the run counters, the customers' metrics and the campaign report must all come out exact."""
    injector = inject(rate=0.2, seed=7, sticky=0.1)
    result = Scenario(api, runtime, injector, 200, 200).run()
    assert result.failed() == [], [(c.name, c.expected, c.actual) for c in result.failed()][:3]
    stats = injector.stats
    assert sum(stats.faulted.values()) > 0.15 * sum(stats.calls.values()) and stats.retries > 0
    assert sum(stats.surfaced.values()) > 0  # our code saw failures, not only botocore
