"""Campaign counters and the recipient index in the stats table: the writes (transaction ops) and bounded reads.

Counters: `{m}#CDAY#{campaign}` / `T#{shard}` (the campaign's totals) and `D#{day}#{shard}` (per local day,
also under gsi1 `{m}#CDAYS` / `{day}#{campaign}#{shard}` for the dashboard); SHARDS items each, so concurrent
writers rarely hold the same item. Recipient index: `{m}#RX#{campaign}#{status}` / `{run started}#{run}#{chunk}#
{tally}`, rows of settled deliveries (delivery_counts.encode_rows), also under gsi1 `{m}#RX#{campaign}` for the
list of every status. Counter attributes are named at run time, so reads use the low-level client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pynamodb.attributes import UnicodeAttribute
from pynamodb.expressions.operand import Path
from pynamodb.models import Model

from chalicelib.core.config import get_config
from chalicelib.core.dynamo import table_meta
from chalicelib.core.tx import TxOp
from chalicelib.reports.delivery_counts import Figures, summed

SHARDS = 4
TOTAL = "T#"
DAY = "D#"
INDEX_PAGE = 4  # index items per Query request while filling a page of recipients
ROWS_MAX_BYTES = 300_000  # one index item's rows, far below DynamoDB's 400 KB with its keys
_DESERIALIZE = TypeDeserializer()


class ReportItem(Model):
    """Counter and index items of the stats table (attributes beyond these are counters, named at run time)."""

    Meta = table_meta("stats")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)
    campaign_id = UnicodeAttribute(null=True)
    run_id = UnicodeAttribute(null=True)
    day = UnicodeAttribute(null=True)
    rows = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)


def counters_pk(merchant_id: str, campaign_id: str) -> str:
    return f"{merchant_id}#CDAY#{campaign_id}"


def index_pk(merchant_id: str, campaign_id: str, status: str) -> str:
    return f"{merchant_id}#RX#{campaign_id}#{status}"


def all_index_pk(merchant_id: str, campaign_id: str) -> str:
    return f"{merchant_id}#RX#{campaign_id}"


def counter_ops(merchant_id: str, campaign_id: str, shard: int, by_day: Mapping[str, Mapping[str, int]],
                total: Mapping[str, int], tag: str) -> list[TxOp]:
    """ADD `total` to the campaign's totals item and each day's increments to its day item (one shard)."""
    ops = []
    for day, values in sorted(by_day.items()):
        actions: list[Any] = [Path([name]).add(int(n)) for name, n in sorted(values.items()) if n]
        if not actions:
            continue
        actions += [ReportItem.kind.set("CDAY"), ReportItem.campaign_id.set(campaign_id), ReportItem.day.set(day),
                    ReportItem.gsi1pk.set(f"{merchant_id}#CDAYS"),
                    ReportItem.gsi1sk.set(f"{day}#{campaign_id}#{shard}")]
        ops.append(TxOp("update", ReportItem(counters_pk(merchant_id, campaign_id), f"{DAY}{day}#{shard}"),
                        f"{tag}:day:{day}", None, actions))
    actions = [Path([name]).add(int(n)) for name, n in sorted(total.items()) if n]
    if actions:
        actions += [ReportItem.kind.set("CTOTAL"), ReportItem.campaign_id.set(campaign_id)]
        ops.append(TxOp("update", ReportItem(counters_pk(merchant_id, campaign_id), f"{TOTAL}{shard}"),
                        f"{tag}:total", None, actions))
    return ops


def index_op(merchant_id: str, campaign_id: str, status: str, sk: str, run_id: str, rows: str, tag: str) -> TxOp:
    """One index item (its key is unique to the tally that writes it: writing it again writes the same)."""
    item = ReportItem(index_pk(merchant_id, campaign_id, status), sk, kind="RX", campaign_id=campaign_id,
                      run_id=run_id, rows=rows, gsi1pk=all_index_pk(merchant_id, campaign_id),
                      gsi1sk=f"{sk}#{status}")
    return TxOp("save", item, tag, None)


def plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """A low-level item as Python values (numbers as int)."""
    out: dict[str, Any] = {}
    for name, typed in item.items():
        value = _DESERIALIZE.deserialize(typed)
        out[name] = int(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, bool) else value
    return out


class TallyReader:
    """Bounded reads of the counters and the index (one Query per partition, paged)."""

    def __init__(self, dynamodb: Any) -> None:
        self._db = dynamodb
        self._table = get_config().table("stats")

    def _query(self, **kwargs: Any) -> Iterable[dict[str, Any]]:
        key: dict[str, Any] | None = None
        while True:
            page = self._db.query(TableName=self._table, **kwargs, **({"ExclusiveStartKey": key} if key else {}))
            yield from (plain(i) for i in page.get("Items", []))
            key = page.get("LastEvaluatedKey")
            if not key:
                return

    def totals(self, merchant_id: str, campaign_id: str) -> Figures:
        return summed(self._query(
            KeyConditionExpression="pk = :p AND begins_with(sk, :t)", ConsistentRead=True,
            ExpressionAttributeValues={":p": {"S": counters_pk(merchant_id, campaign_id)}, ":t": {"S": TOTAL}}))

    def days(self, merchant_id: str, campaign_id: str, low: str, high: str) -> dict[str, Figures]:
        """Per local day in [low, high] (ISO days), shards summed."""
        by_day: dict[str, list[dict[str, Any]]] = {}
        for item in self._query(
                KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b", ConsistentRead=True,
                ExpressionAttributeValues={":p": {"S": counters_pk(merchant_id, campaign_id)},
                                           ":a": {"S": f"{DAY}{low}"}, ":b": {"S": f"{DAY}{high}#~"}}):
            by_day.setdefault(str(item["sk"]).split("#")[1], []).append(item)
        return {day: summed(items) for day, items in sorted(by_day.items())}

    def merchant_days(self, merchant_id: str, low: str, high: str) -> dict[str, Figures]:
        """Every campaign's counters over local days [low, high], by campaign (one gsi1 Query)."""
        by_campaign: dict[str, list[dict[str, Any]]] = {}
        for item in self._query(
                IndexName="gsi1", KeyConditionExpression="gsi1pk = :p AND gsi1sk BETWEEN :a AND :b",
                ExpressionAttributeValues={":p": {"S": f"{merchant_id}#CDAYS"}, ":a": {"S": low},
                                           ":b": {"S": f"{high}~"}}):
            by_campaign.setdefault(str(item.get("campaign_id") or ""), []).append(item)
        return {c: summed(items) for c, items in by_campaign.items()}

    def index_items(self, merchant_id: str, campaign_id: str, status: str | None, start: str | None
                    ) -> Iterable[dict[str, Any]]:
        """Index items from sort key `start` on (inclusive), in order, a few per request (one status, or every
        status through gsi1, whose sort key is the item's followed by its status: `position_key`)."""
        index: dict[str, Any]
        if status is None:
            index, pk, sk, value = {"IndexName": "gsi1"}, "gsi1pk", "gsi1sk", all_index_pk(merchant_id, campaign_id)
        else:
            index, pk, sk, value = {"ConsistentRead": True}, "pk", "sk", index_pk(merchant_id, campaign_id, status)
        values: dict[str, Any] = {":p": {"S": value}}
        condition = f"{pk} = :p"
        if start:  # a sort key is never empty: the first page has no range condition
            condition += f" AND {sk} >= :a"
            values[":a"] = {"S": start}
        kwargs: dict[str, Any] = {**index, "KeyConditionExpression": condition, "ExpressionAttributeValues": values}
        yield from self._query(Limit=INDEX_PAGE, **kwargs)


def position_key(item: Mapping[str, Any], status: str | None) -> str:
    """The sort key an index item is read by (its own, or gsi1's when every status is listed)."""
    return str(item["sk"] if status is not None else item["gsi1sk"])
