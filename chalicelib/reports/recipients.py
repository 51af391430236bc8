"""A campaign's recipients page by page from its recipient index: O(limit) items read whatever the campaign's size.

Rows are deliveries (one per run and customer, final outcomes only: a recipient still in flight appears once
its outcome is final), in index order: by run start, chunk and tally, customers sorted within an index item.
`?status=` reads that status's partition; no status reads gsi1 (every status, same order). `?status=converted`
lists customers with a counted attributed order (sorted by id), each with the reach the reach log recorded.
A cursor is the position after the page's last row: `{index sort key}|{rows of that item already returned}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from chalicelib.core.errors import Invalid
from chalicelib.dispatch.model import Run
from chalicelib.dispatch.snapshot import CouponGrant, view
from chalicelib.reports.delivery_counts import decode_rows
from chalicelib.reports.delivery_log import derived_ids
from chalicelib.reports.model import Attribution, CouponFact, Delivery, DeliveryStatus
from chalicelib.reports.ports import CouponSource, ReachPort, RecipientIndex, RunSource, StatsPort
from chalicelib.reports.schemas import CouponState, RecipientOut
from chalicelib.reports.tally_store import position_key

CONVERTED = "converted"


def parse_position(after: str | None) -> tuple[str | None, int]:
    """(index sort key, rows of it already returned) from a cursor's position (400 when it is not one of ours)."""
    if after is None:
        return None, 0
    key, sep, done = after.rpartition("|")
    if not sep or not key or not done.isdigit():
        raise Invalid("cursor is not one this API issued", field="query.cursor")
    return key, int(done)


class RecipientPages:
    """Pages of a campaign's recipients (index rows, then the page's attributions, churns and coupons)."""

    def __init__(self, index: RecipientIndex, runs: RunSource, stats: StatsPort, reaches: ReachPort,
                 coupons: CouponSource) -> None:
        self._index = index
        self._runs = runs
        self._stats = stats
        self._reaches = reaches
        self._coupons = coupons

    def page(self, merchant_id: str, campaign_id: str, status: str | None, after: str | None, limit: int | None
             ) -> tuple[list[RecipientOut], str | None]:
        """One page (every row when `limit` is None) and the position after it when more follow."""
        if status == CONVERTED:
            found, last = self._converted(merchant_id, campaign_id, after, limit)
        else:
            found, last = self._delivered(merchant_id, campaign_id, status, after, limit)
        return self._rows(merchant_id, campaign_id, found), last

    def _delivered(self, merchant_id: str, campaign_id: str, status: str | None, after: str | None,
                   limit: int | None) -> tuple[list[Delivery], str | None]:
        start, done = parse_position(after)
        out: list[Delivery] = []
        position: str | None = None
        for key, n, delivery in self._walk(merchant_id, campaign_id, status, start, done):
            if limit is not None and len(out) == limit:
                return out, position  # one row beyond the page exists: the cursor points after the page
            out.append(delivery)
            position = f"{key}|{n + 1}"
        return out, None

    def _walk(self, merchant_id: str, campaign_id: str, status: str | None, start: str | None, done: int
              ) -> Iterator[tuple[str, int, Delivery]]:
        runs: dict[str, Run | None] = {}
        for item in self._index.index_items(merchant_id, campaign_id, status, start):
            key = position_key(item, status)
            run_id = str(item.get("run_id") or "")
            row_status = DeliveryStatus(str(item["pk"]).rsplit("#", 1)[1])
            if run_id not in runs:
                runs[run_id] = self._runs.get_run(merchant_id, run_id)
            grants = _grants(runs[run_id])
            units = sum(g.quantity for g in grants)
            rows = decode_rows(str(item.get("rows") or "[]"), row_status, units)
            for n in range(done if key == start else 0, len(rows)):
                row = rows[n]
                instances = derived_ids(merchant_id, run_id, row.customer_id, grants) if row.derived else row.instances
                at = datetime.fromtimestamp(row.at, UTC) if row.at is not None else None
                yield key, n, Delivery(run_id, row.customer_id, row_status, row.reason, instances, at)

    def _converted(self, merchant_id: str, campaign_id: str, after: str | None, limit: int | None
                   ) -> tuple[list[Delivery], str | None]:
        """Customers with a counted attributed order, by id, with the reach of the attributed run (reach log)."""
        by_customer: dict[str, list[Attribution]] = {}
        for a in self._stats.attributions(merchant_id, campaign_id):
            if a.counted:
                by_customer.setdefault(a.customer_id, []).append(a)
        ids = sorted(c for c in by_customer if after is None or c > after)
        page = ids if limit is None else ids[:limit]
        reaches = self._reaches.get_many(merchant_id, page)
        runs: dict[str, Run | None] = {}
        out = []
        for cid in page:
            latest = max(by_customer[cid], key=lambda a: a.paid_at)
            mine = [r for r in reaches.get(cid, []) if r.campaign_id == campaign_id]
            reach = next((r for r in mine if r.run_id == latest.run_id), mine[-1] if mine else None)
            held = reach.held_out if reach is not None else latest.arm.value == "control"
            run_id = reach.run_id if reach else latest.run_id
            coupons = reach.coupon_instance_ids if reach else ()
            if not coupons and not held:  # the reach log keeps no coupon ids: a delivery's derive from its key
                if run_id not in runs:
                    runs[run_id] = self._runs.get_run(merchant_id, run_id)
                coupons = derived_ids(merchant_id, run_id, cid, _grants(runs[run_id]))  # only issued ones are found
            out.append(Delivery(run_id, cid, DeliveryStatus.HELD_OUT if held else DeliveryStatus.REACHED, None,
                                coupons, reach.at if reach else None))
        more = limit is not None and len(ids) > limit
        return out, (page[-1] if more and page else None)

    def _rows(self, merchant_id: str, campaign_id: str, found: list[Delivery]) -> list[RecipientOut]:
        if not found:
            return []
        ids = [d.customer_id for d in found]
        attrs = self._stats.attributions_of(merchant_id, campaign_id, ids)
        churns = self._stats.churns_of(merchant_id, campaign_id, ids)
        facts = self._coupons.instances(merchant_id, {i for d in found for i in d.coupon_instance_ids})
        return [recipient_row(d, [a for a in attrs.get(d.customer_id, []) if a.run_id == d.run_id], facts,
                              churns.get(d.customer_id, [])) for d in found]


def _grants(run: Run | None) -> tuple[CouponGrant, ...]:
    return view(run.campaign_id, "running", run.snapshot).coupons if run is not None else ()


def recipient_row(d: Delivery, attrs: list[Attribution], facts: dict[str, CouponFact], churned: list[str]
                  ) -> RecipientOut:
    """One delivery with its run's attributed orders (counted and reversed), coupons' states and churn."""
    counted = [a for a in attrs if a.counted]
    coupons = [CouponState(instance_id=i, coupon_id=facts[i].coupon_id, status=facts[i].status)
               for i in d.coupon_instance_ids if i in facts]
    return RecipientOut(customer_id=d.customer_id, status=d.status.value, reason=d.reason, run_id=d.run_id,
                        at=d.at, coupons=coupons, orders=len(counted), amount_fen=sum(a.amount_fen for a in counted),
                        discount_fen=sum(a.discount_fen for a in counted),
                        reversed_orders=len(attrs) - len(counted), churned=churned)

