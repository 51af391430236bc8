"""PynamoDB storage of runs, plan segments and chunks (with their delivery ledger) in the dispatch table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.dynamo import is_condition_failure, table_meta
from chalicelib.core.tx import TxOp
from chalicelib.dispatch.codec import (
    decode_grants,
    decode_ledger,
    decode_recipient,
    dumps,
    encode_grants,
    encode_ledger,
    encode_recipient,
)
from chalicelib.dispatch.model import Chunk, ChunkState, Run, RunStatus
from chalicelib.dispatch.tally import tallied_of, tally_bits

RUN_SK = "RUN"


class CompactJSON(JSONAttribute):
    """JSON stored without padding and with UTF-8 as is: DynamoDB bills every byte of the item."""

    def serialize(self, value: Any) -> str:
        return dumps(value)


class ByGsi1(GlobalSecondaryIndex["DispatchItem"]):  # type: ignore[no-untyped-call]
    """gsi1: due buckets `DUE#{minute}` and a campaign's runs `{merchant}#CAMPAIGN#{id}`."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ByGsi2(GlobalSecondaryIndex["DispatchItem"]):  # type: ignore[no-untyped-call]
    """gsi2: a campaign's pending due work `{merchant}#CAMPAIGN#{id}#DUE` (cancel and resume find it)."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class DispatchItem(Model):
    """Every item of the dispatch table; which attributes are set depends on the item (run, chunk, due...)."""

    Meta = table_meta("dispatch")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    campaign_id = UnicodeAttribute(null=True)
    arm = UnicodeAttribute(null=True)  # chunks: the A/B treatment every recipient of the chunk gets
    payload = JSONAttribute(null=True)
    recipients = CompactJSON(null=True)
    ledger = CompactJSON(null=True)
    base = NumberAttribute(null=True)  # chunks: epoch seconds the ledger's instants are counted from
    grants = UnicodeAttribute(null=True)  # chunks: the campaign's coupons, from which instance ids derive
    tallied = UnicodeAttribute(null=True)  # chunks: the final entries reports counted (dispatch.tally)
    due_at = UnicodeAttribute(null=True)
    lease_until = UnicodeAttribute(null=True)
    owner = UnicodeAttribute(null=True)
    attempts = NumberAttribute(null=True)
    receives = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    planned = NumberAttribute(null=True)
    chunks_total = NumberAttribute(null=True)
    segments_done = NumberAttribute(null=True)
    cursor = UnicodeAttribute(null=True)
    seg_chunks = NumberAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    by_gsi1 = ByGsi1()
    by_gsi2 = ByGsi2()


def run_pk(merchant_id: str, run_id: str) -> str:
    return f"{merchant_id}#RUN#{run_id}"


def campaign_runs_key(merchant_id: str, campaign_id: str) -> str:
    return f"{merchant_id}#CAMPAIGN#{campaign_id}"


def chunk_sk(chunk_id: str) -> str:
    return f"CHUNK#{chunk_id}"


def segment_sk(segment: int) -> str:
    return f"SEG#{segment:02d}"


class LeaseRefused(Exception):
    """The chunk cannot be leased now: `why` is done, cancelled, leased or missing; `chunk` is a settled one."""

    def __init__(self, why: str, chunk: Chunk | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.chunk = chunk


def run_item(run: Run) -> DispatchItem:
    return DispatchItem(run_pk(run.merchant_id, run.run_id), RUN_SK, kind="run", status=run.status.value,
                        campaign_id=run.campaign_id, payload=_payload(run), planned=run.planned,
                        chunks_total=run.chunks_total, segments_done=run.segments_done, updated_at=run.started_at,
                        gsi1pk=campaign_runs_key(run.merchant_id, run.campaign_id),
                        gsi1sk=f"{run.started_at}#{run.run_id}")


def _run(item: DispatchItem) -> Run:
    payload = item.payload or {}
    merchant_id, _, run_id = item.pk.split("#", 2)
    return Run(merchant_id, run_id, item.campaign_id or "", parse_iso(payload["occurrence"]),
               payload.get("snapshot") or {}, RunStatus(item.status or "planning"), int(item.planned or 0),
               int(item.chunks_total or 0), int(payload.get("segments_total", 0)), int(item.segments_done or 0),
               bool(payload.get("last")), payload.get("kind", "occurrence"), (item.gsi1sk or "").split("#")[0],
               payload.get("completed_at"), payload.get("extra") or {})


def _ledger(chunk: Chunk) -> dict[str, str]:
    return encode_ledger(chunk.merchant_id, chunk.run_id, chunk.recipients, chunk.ledger, chunk.base or 0,
                         chunk.grants)


def chunk_item(chunk: Chunk, now: datetime) -> DispatchItem:
    if chunk.base is None:
        chunk.base = int(now.timestamp())
    return DispatchItem(run_pk(chunk.merchant_id, chunk.run_id), chunk_sk(chunk.chunk_id), kind="chunk",
                        status=chunk.state.value, campaign_id=chunk.campaign_id, arm=chunk.arm,
                        recipients=[encode_recipient(r) for r in chunk.recipients], ledger=_ledger(chunk),
                        base=chunk.base, grants=encode_grants(chunk.grants) or None, attempts=0, receives=0,
                        updated_at=to_iso(now), tallied=tally_bits(chunk.recipients, chunk.tallied) or None)


def _chunk(item: DispatchItem) -> Chunk:
    merchant_id, _, run_id = item.pk.split("#", 2)
    recipients = [decode_recipient(d) for d in item.recipients or ()]
    base, grants = int(item.base or 0), decode_grants(item.grants)
    return Chunk(merchant_id, run_id, item.sk.removeprefix("CHUNK#"), recipients,
                 decode_ledger(merchant_id, run_id, recipients, item.ledger or {}, base, grants),
                 ChunkState(item.status or "ready"), item.owner, int(item.attempts or 0), int(item.receives or 0),
                 item.last_error, item.campaign_id or "", arm=item.arm, grants=grants, base=base,
                 tallied=tallied_of(recipients, item.tallied))


def _tally_condition(chunk: Chunk) -> Any:
    """The stored tallied set is still the one `chunk` holds."""
    bits = tally_bits(chunk.recipients, chunk.tallied)
    return DispatchItem.tallied == bits if bits else DispatchItem.tallied.does_not_exist()


class RunStore:
    """Runs, plan segments and chunks; every write that must happen once is conditional."""

    # -- runs -----------------------------------------------------------------------------------
    def get_run(self, merchant_id: str, run_id: str) -> Run | None:
        try:
            return _run(DispatchItem.get(run_pk(merchant_id, run_id), RUN_SK, consistent_read=True))
        except DispatchItem.DoesNotExist:
            return None

    def list_runs(self, merchant_id: str, campaign_id: str, limit: int, start_key: dict[str, Any] | None
                  ) -> tuple[list[Run], dict[str, Any] | None]:
        results = DispatchItem.by_gsi1.query(campaign_runs_key(merchant_id, campaign_id), scan_index_forward=False,
                                             limit=limit, last_evaluated_key=start_key)
        runs = [_run(i) for i in results]
        return runs, (results.last_evaluated_key if len(runs) >= limit else None)

    def set_run_status(self, run: Run, status: RunStatus, now: datetime, expected: Iterable[RunStatus]) -> bool:
        item = DispatchItem(run_pk(run.merchant_id, run.run_id), RUN_SK)
        payload = dict(_payload(run), completed_at=to_iso(now))
        try:
            item.update(actions=[DispatchItem.status.set(status.value), DispatchItem.payload.set(payload)],
                        condition=DispatchItem.status.is_in(*[s.value for s in expected]))
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def put_run_op(self, run: Run) -> TxOp:
        return TxOp("save", run_item(run), f"run:{run.run_id}", DispatchItem.pk.does_not_exist())

    def plan_op(self, run: Run, planned_before: int, added: int, chunks: int, segment_done: bool) -> TxOp:
        actions: list[Any] = [DispatchItem.planned.add(added), DispatchItem.chunks_total.add(chunks)]
        if segment_done:
            actions.append(DispatchItem.segments_done.add(1))
        if run.status is RunStatus.PLANNING and segment_done and run.segments_done + 1 >= run.segments_total:
            actions.append(DispatchItem.status.set(RunStatus.SENDING.value))
        return TxOp("update", DispatchItem(run_pk(run.merchant_id, run.run_id), RUN_SK), f"run:{run.run_id}",
                    DispatchItem.planned == planned_before, actions)

    # -- segments -------------------------------------------------------------------------------
    def get_run_and_segment(self, merchant_id: str, run_id: str, segment: int
                            ) -> tuple[Run | None, dict[str, Any] | None]:
        pk = run_pk(merchant_id, run_id)
        run, seg = None, None
        for item in DispatchItem.batch_get([(pk, RUN_SK), (pk, segment_sk(segment))], consistent_read=True):
            if item.sk == RUN_SK:
                run = _run(item)
            else:
                seg = dict(item.payload or {}, cursor=item.cursor, count=int(item.seg_chunks or 0), done=item.status)
        return run, seg

    def segment_op(self, merchant_id: str, run_id: str, segment: int, prev_count: int | None, cursor: str | None,
                   count: int, done: bool, sent: list[str]) -> TxOp:
        """The segment's progress; `prev_count` (None: first write) is its optimistic lock."""
        item = DispatchItem(run_pk(merchant_id, run_id), segment_sk(segment), kind="segment",
                            status="done" if done else "planning", cursor=cursor, seg_chunks=count,
                            payload={"last_chunks": sent})
        condition = DispatchItem.pk.does_not_exist() if prev_count is None else DispatchItem.seg_chunks == prev_count
        return TxOp("save", item, f"segment:{segment}", condition)

    # -- chunks ---------------------------------------------------------------------------------
    def put_chunk_op(self, chunk: Chunk, now: datetime) -> TxOp:
        return TxOp("save", chunk_item(chunk, now), f"chunk:{chunk.chunk_id}", DispatchItem.pk.does_not_exist())

    def lease(self, merchant_id: str, run_id: str, chunk_id: str, owner: str, now: datetime, receives: int,
              lease_seconds: int) -> Chunk:
        """Take the chunk for this worker (not done, and nobody holds a live lease); returns it with its ledger."""
        item = DispatchItem(run_pk(merchant_id, run_id), chunk_sk(chunk_id))
        open_state = DispatchItem.status.is_in(ChunkState.READY.value, ChunkState.WAITING.value,
                                               ChunkState.PARKED.value)
        free = DispatchItem.owner.does_not_exist() | (DispatchItem.lease_until < to_iso(now))
        try:
            item.update(actions=[DispatchItem.owner.set(owner),
                                 DispatchItem.lease_until.set(to_iso(now + timedelta(seconds=lease_seconds))),
                                 DispatchItem.receives.set(receives)],
                        condition=DispatchItem.pk.exists() & open_state & free)
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            current = self.get_chunk(merchant_id, run_id, chunk_id)
            if current is None:
                raise LeaseRefused("missing") from exc
            if current.state in (ChunkState.DONE, ChunkState.CANCELLED):
                raise LeaseRefused(current.state.value, current) from exc
            if current.owner == owner:
                return current  # our own update applied, its answer was lost and botocore's retry found it held
            raise LeaseRefused("leased") from exc
        return _chunk(item)

    def get_chunk(self, merchant_id: str, run_id: str, chunk_id: str) -> Chunk | None:
        try:
            return _chunk(DispatchItem.get(run_pk(merchant_id, run_id), chunk_sk(chunk_id), consistent_read=True))
        except DispatchItem.DoesNotExist:
            return None

    def chunk_commit_op(self, chunk: Chunk, owner: str, state: ChunkState, now: datetime, release: bool) -> TxOp:
        """Record the ledger (whole map: the lease holder read it) and the state, only while holding the lease."""
        actions: list[Any] = [DispatchItem.ledger.set(_ledger(chunk)),
                              DispatchItem.status.set(state.value), DispatchItem.updated_at.set(to_iso(now))]
        if release:
            actions += [DispatchItem.owner.remove(), DispatchItem.lease_until.remove()]
        return TxOp("update", DispatchItem(run_pk(chunk.merchant_id, chunk.run_id), chunk_sk(chunk.chunk_id)),
                    f"chunk:{chunk.chunk_id}", DispatchItem.owner == owner, actions)

    def record_failure(self, merchant_id: str, run_id: str, chunk_id: str, owner: str, error: str,
                       now: datetime) -> None:
        """attempts+1 and last_error; the lease is released so the redelivery can start at once."""
        item = DispatchItem(run_pk(merchant_id, run_id), chunk_sk(chunk_id))
        try:
            item.update(actions=[DispatchItem.attempts.add(1), DispatchItem.last_error.set(error[:500]),
                                 DispatchItem.owner.remove(), DispatchItem.lease_until.remove(),
                                 DispatchItem.updated_at.set(to_iso(now))],
                        condition=DispatchItem.owner == owner)
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise

    def chunks_of(self, merchant_id: str, run_id: str) -> list[Chunk]:
        items = DispatchItem.query(run_pk(merchant_id, run_id), DispatchItem.sk.startswith("CHUNK#"))
        return [_chunk(i) for i in items]

    def upsert_run_op(self, run: Run, added: int, chunks: int) -> TxOp:
        return upsert_run_op(run, added, chunks)

    def delivery_marker_op(self, merchant_id: str, run_id: str, customer_id: str) -> TxOp:
        return delivery_marker_op(merchant_id, run_id, customer_id)

    def join_tally(self, ops: Sequence[TxOp], chunk: Chunk, tallied: frozenset[str]) -> None:
        tag = f"chunk:{chunk.chunk_id}"
        op = next(o for o in ops if o.tag == tag and o.kind == "update")
        op.actions = [*op.actions, DispatchItem.tallied.set(tally_bits(chunk.recipients, tallied))]
        op.condition = _tally_condition(chunk) if op.condition is None else op.condition & _tally_condition(chunk)

    def tally_op(self, chunk: Chunk, tallied: frozenset[str]) -> TxOp:
        return TxOp("update", DispatchItem(run_pk(chunk.merchant_id, chunk.run_id), chunk_sk(chunk.chunk_id)),
                    f"tally:{chunk.chunk_id}", DispatchItem.pk.exists() & _tally_condition(chunk),
                    [DispatchItem.tallied.set(tally_bits(chunk.recipients, tallied))])


def _payload(run: Run) -> dict[str, Any]:
    return {"snapshot": run.snapshot, "occurrence": to_iso(run.occurrence), "segments_total": run.segments_total,
            "last": run.last, "kind": run.kind, "extra": run.extra}



def upsert_run_op(run: Run, added: int, chunks: int) -> TxOp:
    """A triggered campaign's run of the day: created by its first touches, counters added by each batch."""
    d = DispatchItem
    actions = [d.kind.set(d.kind | "run"), d.status.set(d.status | RunStatus.SENDING.value),
               d.campaign_id.set(d.campaign_id | run.campaign_id), d.payload.set(d.payload | _payload(run)),
               d.segments_done.set(d.segments_done | 0), d.gsi1pk.set(d.gsi1pk | campaign_runs_key(
                   run.merchant_id, run.campaign_id)), d.gsi1sk.set(d.gsi1sk | f"{run.started_at}#{run.run_id}"),
               d.planned.add(added), d.chunks_total.add(chunks)]
    return TxOp("update", DispatchItem(run_pk(run.merchant_id, run.run_id), RUN_SK), f"run:{run.run_id}", None,
                actions)


def delivery_marker_op(merchant_id: str, run_id: str, customer_id: str) -> TxOp:
    """One (run, customer) across chunks: triggered runs gather a day's touches from many ticks."""
    return TxOp("save", DispatchItem(run_pk(merchant_id, run_id), f"D#{customer_id}", kind="delivery"),
                f"dup:{customer_id}", DispatchItem.pk.does_not_exist())
