"""Pure: a customer's activity document as stored items — inline JSON, or compressed pieces over several items.

A heavy customer (a restaurant's walk-in "guest" account with thousands of orders a quarter) outgrows one
400 KB item. Up to INLINE_MAX bytes of JSON the activity item holds the document as text, as always; above it the
document is zlib-compressed (a third to a fifth of the bytes, so of the units every write and read of it pays)
and cut into pieces of PIECE_BYTES: the first rides in the activity item (`{c}#A`),
the rest in part items `{c}#A.01`, `{c}#A.02` ... of the same item collection (they sort between the activity
and the profile item, so a shard's Query reads them in place). Every piece carries the activity's revision: a
reader that sees pieces of two revisions (a Query is not isolated from a transaction in flight) reads again.
A document beyond MAX_PIECES pieces cannot be written in one transaction (4 MB) and is refused by name.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

INLINE_MAX = 32_000  # JSON bytes kept as plain text; above, compression cuts the units every write and read pays
PIECE_BYTES = 300_000  # compressed bytes a part item holds (DynamoDB's item limit is 400 KB)
MAX_PIECES = 10  # 3 MB compressed: with the other customers' items a transaction stays under its 4 MB
PART_MARK = "."  # part sk `{customer}#A.{nn}`: after `{customer}#A`, before `{customer}#P`


class ActivityTooLarge(ValueError):
    """The activity document does not fit MAX_PIECES items even compressed (the customer's records fail alone)."""


@dataclass(frozen=True)
class Stored:
    """The activity as its items hold it: `text` (inline JSON) or `pieces` (compressed, the first in the item)."""

    text: str | None
    pieces: tuple[bytes, ...] = ()

    @property
    def parts(self) -> int:
        """Part items beside the activity item."""
        return max(0, len(self.pieces) - 1)

    @property
    def size(self) -> int:
        """Bytes of document the items hold (what a write of them is billed for, keys aside)."""
        return len(self.text.encode()) if self.text is not None else sum(len(p) for p in self.pieces)


def encode(doc: Mapping[str, Any]) -> Stored:
    """The stored form of an activity document (ActivityTooLarge past MAX_PIECES compressed pieces)."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    raw = text.encode()
    if len(raw) <= INLINE_MAX:
        return Stored(text)
    packed = zlib.compress(raw, 6)
    pieces = tuple(packed[i:i + PIECE_BYTES] for i in range(0, len(packed), PIECE_BYTES))
    if len(pieces) > MAX_PIECES:
        raise ActivityTooLarge(f"activity of {len(raw):,} bytes compresses to {len(packed):,}: more than "
                               f"{MAX_PIECES} items of {PIECE_BYTES:,}")
    return Stored(None, pieces)


def decode(text: str | None, pieces: Sequence[bytes]) -> dict[str, Any]:
    """Inverse of encode (`text` when the activity item holds JSON, else every piece in order)."""
    if pieces:
        loaded: dict[str, Any] = json.loads(zlib.decompress(b"".join(pieces)))
        return loaded
    loaded = json.loads(text or "{}")
    return loaded


def part_sk(customer_id: str, activity: str, n: int) -> str:
    """The sort key of the activity's n-th part item (n from 1)."""
    return f"{customer_id}#{activity}{PART_MARK}{n:02d}"
