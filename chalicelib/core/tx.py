"""The transaction kit: tagged TransactWriteItems operations, their 100-item limit and the cancellation they raise.

Stores build `TxOp`s, services gather them and hand them to `core.dynamo.commit`; the tags say which condition
failed when DynamoDB cancels the transaction. Pure: PynamoDB types appear only in annotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pynamodb.expressions.condition import Condition
    from pynamodb.expressions.update import Action
    from pynamodb.models import Model

TX_MAX_ITEMS = 100  # TransactWriteItems: at most 100 items, each named once
TX_MAX_BYTES = 3_000_000  # of its 4 MB request limit, with room for keys, names and expressions


@dataclass
class TxOp:
    """One transaction item; `tag` names it in a cancellation (e.g. `claim:<sk>`, `coupon:<customer>`).

    `model` is the PynamoDB item (for a check, one carrying the key); `actions` are its update actions.
    """

    kind: str  # check | delete | save | update
    model: Model
    tag: str
    condition: Condition | None = None
    actions: Sequence[Action] = field(default_factory=list)


class TxCancelled(Exception):
    """A transaction was cancelled; `failed` lists the tags of the operations whose condition did not hold."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__(", ".join(failed))
        self.failed = failed

    def tagged(self, prefix: str) -> list[str]:
        """The failed tags starting with `prefix`, without it."""
        return [t[len(prefix):] for t in self.failed if t.startswith(prefix)]


def join_update(ops: Sequence[TxOp], table: str, pk: str, sk: str, actions: Sequence[Action]) -> bool:
    """Add `actions` to the update of item (table, pk, sk) already in `ops`; False if there is none.

    A transaction may name an item only once, so a second fact about the same item rides in its update.
    """
    for op in ops:
        if op.kind == "update" and getattr(op.model, "pk", None) == pk and getattr(op.model, "sk", None) == sk \
                and type(op.model).Meta.table_name == table:
            op.actions = [*op.actions, *actions]
            return True
    return False
