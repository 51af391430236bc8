"""PynamoDB storage of audience member snapshots (per-shard id chunks), RFM median cache, resumable segment reads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from fractions import Fraction

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.core.clock import to_iso
from chalicelib.core.dynamo import table_meta
from chalicelib.customers.store import shard_of

CHUNK_BYTES = 300_000  # id chunks stay well under the 400 KB item limit
MEDIAN_TTL = timedelta(days=3)


class AudienceAux(Model):
    """Definitions-table items beside AUDIENCE#{id}: `AUDMEM#{id}#{shard}#{n}` id chunks, `AUDMEDIAN#{as_of}`."""

    Meta = table_meta("definitions")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ids = UnicodeAttribute(null=True)  # newline-joined, sorted customer ids
    n = NumberAttribute(null=True)
    median = UnicodeAttribute(null=True)  # "num/den", or "" when no customer purchased within 180 d
    expires_at = NumberAttribute(null=True)


def _prefix(audience_id: str, shard: int | None = None) -> str:
    return f"AUDMEM#{audience_id}#" + ("" if shard is None else f"{shard:02d}#")


def _pack(ids: list[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for cid in ids:
        if chunk and size + len(cid) + 1 > CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(cid)
        size += len(cid) + 1
    if chunk:
        yield chunk


class MemberStore:
    """Member ids of frozen and list audiences, chunked per customer shard so one segment reads only its own."""

    def __init__(self, shards: int) -> None:
        self.shards = shards

    def shard_of(self, customer_id: str) -> int:
        return shard_of(customer_id, self.shards)

    def replace(self, merchant_id: str, audience_id: str, customer_ids: Iterable[str]) -> int:
        """Store exactly these ids (BatchWriteItem, 25 chunks per request); returns how many distinct ids."""
        by_shard: dict[int, list[str]] = {}
        for cid in set(customer_ids):
            by_shard.setdefault(self.shard_of(cid), []).append(cid)
        written: set[str] = set()
        with AudienceAux.batch_write() as batch:
            for shard, ids in sorted(by_shard.items()):
                for n, chunk in enumerate(_pack(sorted(ids))):
                    sk = f"{_prefix(audience_id, shard)}{n:04d}"
                    written.add(sk)
                    batch.save(AudienceAux(merchant_id, sk, ids="\n".join(chunk), n=len(chunk)))
            for old in self._chunk_keys(merchant_id, audience_id):
                if old not in written:
                    batch.delete(AudienceAux(merchant_id, old))
        return sum(len(ids) for ids in by_shard.values())

    def _chunk_keys(self, merchant_id: str, audience_id: str) -> list[str]:
        query = AudienceAux.query(merchant_id, AudienceAux.sk.startswith(_prefix(audience_id)),
                                  attributes_to_get=["pk", "sk"])
        return [item.sk for item in query]

    def iter_ids(self, merchant_id: str, audience_id: str, shard: int, after: str | None = None
                 ) -> Iterator[list[str]]:
        """Sorted id chunks of one shard, only ids after `after` (a paging position)."""
        for item in AudienceAux.query(merchant_id, AudienceAux.sk.startswith(_prefix(audience_id, shard))):
            ids = item.ids.split("\n") if item.ids else []
            if after is not None:
                if ids and ids[-1] <= after:
                    continue
                ids = [cid for cid in ids if cid > after]
            if ids:
                yield ids

    def all_ids(self, merchant_id: str, audience_id: str) -> set[str]:
        found: set[str] = set()
        for shard in range(self.shards):
            for ids in self.iter_ids(merchant_id, audience_id, shard):
                found.update(ids)
        return found

    def delete(self, merchant_id: str, audience_id: str) -> None:
        with AudienceAux.batch_write() as batch:
            for sk in self._chunk_keys(merchant_id, audience_id):
                batch.delete(AudienceAux(merchant_id, sk))


class MedianCache:
    """The RFM median of a merchant at one as_of second, shared by the segments of one evaluation."""

    def get(self, merchant_id: str, as_of: datetime) -> tuple[bool, Fraction | None]:
        try:
            item = AudienceAux.get(merchant_id, f"AUDMEDIAN#{to_iso(as_of)}")
        except AudienceAux.DoesNotExist:
            return False, None
        return True, Fraction(item.median) if item.median else None

    def put(self, merchant_id: str, as_of: datetime, median: Fraction | None) -> None:
        AudienceAux(merchant_id, f"AUDMEDIAN#{to_iso(as_of)}", median="" if median is None else str(median),
                    expires_at=int((as_of + MEDIAN_TTL).timestamp())).save()
