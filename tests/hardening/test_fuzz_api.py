"""Schemathesis against the served OpenAPI document: no 5xx, JSON errors naming the field, answers as documented."""

from __future__ import annotations

import time
from typing import Any

from schemathesis import GenerationMode

from tests.support.fuzz import Fuzzer, Identity, report, scale
from tests.support.world import seed_world

MIN_REQUESTS = 1_000
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE


def test_generated_requests_break_no_promise_when_sent_with_any_role_or_a_bad_foreign_or_missing_key(
        api: Any, merchant: Any, other_merchant: Any, runtime: Any, clock: Any) -> None:
    world = seed_world(api, merchant, runtime, clock.now)
    revoked = api.post("/v1/keys", {"role": "operator"}, token=merchant.token).json
    assert api.delete(f"/v1/keys/{revoked['key_id']}", token=merchant.token).status == 200
    document = api.get("/v1/openapi.json").json
    fuzzer = Fuzzer(api, document, derandomize=scale() == 1)
    started = time.monotonic()

    # A's objects are read by others first; the admin run (which may delete them) comes after.
    foreign = Identity("foreign", f"Bearer {other_merchant.token}", owned=world.ids,
                       forbidden=frozenset(world.secrets()))
    fuzzer.run(foreign, {POSITIVE: 3})
    readonly = api.post("/v1/keys", {"role": "readonly"}, token=merchant.token).json["api_key"]
    for identity in (Identity("staff", f"Bearer {world.staff_token}", owned=world.ids, role="staff"),
                     Identity("readonly", f"Bearer {readonly}", owned=world.ids, role="readonly")):
        fuzzer.run(identity, {POSITIVE: 1})
    # The admin may revoke the operator key it is given, never its own or the staff key used above.
    owner = Identity("admin", f"Bearer {merchant.token}", owned={**world.ids, "key_id": world.ids["key_id"][1:]})
    fuzzer.run(owner, {POSITIVE: 9, NEGATIVE: 6})
    key_id = world.ids["key_id"][0]
    for identity in (Identity("wrong secret", f"Bearer mkt.{merchant.id}.{key_id}.not-the-secret", rejected=True),
                     Identity("revoked", f"Bearer {revoked['api_key']}", rejected=True),
                     Identity("garbage", "Bearer %%%", rejected=True),
                     Identity("missing", None, rejected=True)):
        fuzzer.run(identity, {POSITIVE: 1, NEGATIVE: 1})

    elapsed = time.monotonic() - started
    print(report(fuzzer))
    print(f"{fuzzer.total} generated requests in {elapsed:.1f}s over {len(fuzzer.sent)} operations")
    assert not fuzzer.findings, report(fuzzer)
    assert fuzzer.labels() == set(fuzzer.sent), f"operations never exercised: {fuzzer.labels() - set(fuzzer.sent)}"
    assert fuzzer.total >= MIN_REQUESTS * scale(), report(fuzzer)
