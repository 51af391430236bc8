"""TransactWriteItems with tagged operations, so a cancelled transaction says which condition failed."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from chalicelib.core.dynamo import is_condition_failure, transact_write
from chalicelib.dispatch.model import TxCancelled

CONFLICT_RETRIES = 3
# PynamoDB sends condition checks, then deletes, then puts, then updates: cancellation reasons follow it.
_RANK = {"check": 0, "delete": 1, "save": 2, "update": 3}


@dataclass
class TxOp:
    """One transaction item; `tag` names it in a cancellation (e.g. `claim:<sk>`, `coupon:<customer>`)."""

    kind: str  # check | delete | save | update
    model: Any
    tag: str
    condition: Condition | None = None
    actions: list[Any] = field(default_factory=list)


def join_update(ops: Sequence[TxOp], table: str, pk: str, sk: str, actions: list[Any]) -> bool:
    """Add `actions` to the update of item (table, pk, sk) already in `ops`; False if there is none.

    A transaction may name an item only once, so a second fact about the same item rides in its update.
    """
    for op in ops:
        if op.kind == "update" and getattr(op.model, "pk", None) == pk and getattr(op.model, "sk", None) == sk \
                and type(op.model).Meta.table_name == table:
            op.actions = [*op.actions, *actions]
            return True
    return False


def commit(ops: Sequence[TxOp]) -> None:
    """Write `ops` (≤ 100) all or nothing; raise TxCancelled naming the failed conditions.

    A cancellation only for TransactionConflict (another transaction held one of the items, e.g. a merchant's
    quota counter that every chunk writes) wrote nothing: the same transaction is sent again a few times after
    a jittered pause before the error goes to the caller's retry.
    """
    if not ops:
        return
    ordered = sorted(ops, key=lambda op: _RANK[op.kind])
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            _write(ordered)
            return
        except TransactWriteError as exc:
            if not is_condition_failure(exc):
                raise
            reasons = list(exc.cancellation_reasons or [])
            failed = [ordered[i].tag for i, r in enumerate(reasons)
                      if r is not None and r.code == "ConditionalCheckFailed" and i < len(ordered)]
            if not failed and any(r is not None and r.code == "TransactionConflict" for r in reasons):
                if attempt < CONFLICT_RETRIES:
                    time.sleep(random.uniform(0.02, 0.08) * 2 ** attempt)
                    continue
                raise  # still contended: let the caller's retry take it
            raise TxCancelled(failed) from exc


def _write(ordered: Sequence[TxOp]) -> None:
    with transact_write() as tx:
        for op in ordered:
            if op.kind == "save":
                tx.save(op.model, condition=op.condition)
            elif op.kind == "update":
                tx.update(op.model, actions=op.actions, condition=op.condition, add_version_condition=False)
            elif op.kind == "delete":
                tx.delete(op.model, condition=op.condition, add_version_condition=False)
            else:
                cls: type[Model] = type(op.model)
                tx.condition_check(cls, op.model.pk, op.model.sk, condition=op.condition)
