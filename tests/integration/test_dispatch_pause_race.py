"""A pause that lands between a chunk's lease and its issue transaction parks the chunk without recording anyone
as sent: after resume every recipient gets exactly one coupon."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import wiring
from chalicelib.core.dynamo import commit
from chalicelib.core.tx import TxOp
from chalicelib.dispatch.adapters import CustomerPages, SqsQueues, campaign_gate
from chalicelib.dispatch.coupon_issuer import CouponIssuer
from chalicelib.dispatch.deliver import DeliverService
from chalicelib.dispatch.due_store import DueStore
from chalicelib.dispatch.model import Chunk, ChunkState, Outcome, Recipient, Run, RunStatus
from chalicelib.dispatch.screening import AllowAll
from chalicelib.dispatch.store import RunStore
from tests.support.dispatch import make_coupon, wallet_counts

NOW = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)


def test_a_chunk_parked_by_a_racing_pause_records_nobody_as_sent_when_resumed_later(api, merchant):
    coupon = make_coupon(api, merchant)
    campaigns = wiring.repo("CAMPAIGN")
    data = {"name": "race", "target": {"kind": "customers", "customer_ids": ["x"]},
            "action": {"channel": "wallet", "coupons": [{"coupon_id": coupon, "quantity": 1}]},
            "schedule": {"kind": "once", "at": None}}
    campaigns.create(merchant.id, "cmp_race", data, NOW, status="running")
    pauses = {"armed": True}

    def racing_commit(ops: Sequence[TxOp]) -> None:
        if pauses["armed"] and any(op.tag.startswith("campaign:") for op in ops):
            pauses["armed"] = False  # the merchant pauses while this worker is between lease and issue
            campaigns.set_status(merchant.id, "cmp_race", "paused", NOW, expected_status=("running",))
        commit(ops)

    service = DeliverService(RunStore(), racing_commit, DueStore(), SqsQueues(wiring.client("sqs")), campaigns,
                             campaign_gate, CustomerPages(wiring.customer_store()),
                             CouponIssuer(wiring.cached_coupon, wiring.wallet_store(), lambda m: "Asia/Shanghai"),
                             _no_channel,
                             AllowAll(), lambda m: "Asia/Shanghai")
    ids = [f"p{i:02d}" for i in range(15)]
    run = Run(merchant.id, "run_race", "cmp_race", NOW, data, RunStatus.SENDING, started_at="2026-12-04T04:00:00Z")
    chunk = Chunk(merchant.id, run.run_id, "0000001", [Recipient(c, consent=frozenset({"wallet"})) for c in ids],
                  campaign_id="cmp_race")
    store = RunStore()
    commit([store.put_run_op(run), store.put_chunk_op(chunk, NOW)])

    assert service.deliver_chunk(merchant.id, run.run_id, chunk.chunk_id, "w1", 1, NOW) == "parked"
    parked = store.get_chunk(merchant.id, run.run_id, chunk.chunk_id)
    assert parked is not None and parked.state is ChunkState.PARKED
    assert parked.ledger == {}  # nothing was issued, so nobody may count as sent
    assert sum(wallet_counts(merchant.id, ids).values()) == 0

    campaigns.set_status(merchant.id, "cmp_race", "running", NOW, expected_status=("paused",))
    later = NOW + timedelta(minutes=3)
    assert service.deliver_chunk(merchant.id, run.run_id, chunk.chunk_id, "w2", 1, later) == "done"
    done = store.get_chunk(merchant.id, run.run_id, chunk.chunk_id)
    assert done is not None and {e.outcome for e in done.ledger.values()} == {Outcome.SUCCEEDED}
    assert wallet_counts(merchant.id, ids) == dict.fromkeys(ids, 1)


def _no_channel(name: str) -> Any:
    raise AssertionError(f"a wallet campaign needs no channel adapter, asked for {name}")
