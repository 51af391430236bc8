"""PynamoDB storage of the wallet table: coupon instances and their stock / per-customer counters."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.dynamo import commit, is_condition_failure, table_meta
from chalicelib.core.tx import TX_MAX_ITEMS, TxCancelled, TxOp
from chalicelib.coupons.model import CouponInstance, InstanceStatus, IssueRequest, WalletConflict

INSTANCE = "CI"
STOCK = "STOCK"
LIMIT = "LIMIT"


class OwnerIndex(GlobalSecondaryIndex["WalletItem"]):  # type: ignore[no-untyped-call]
    """gsi1: a customer's wallet `{merchant}#{customer}`, inbox `{merchant}#INBOX#{customer}`, staff tasks."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class MerchantIndex(GlobalSecondaryIndex["WalletItem"]):  # type: ignore[no-untyped-call]
    """gsi2: the merchant's issue history `{merchant}` / issued_at#id, and every staff task `{merchant}#TASKS`."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class WalletItem(Model):
    """Every item of the wallet table; `kind` tells them apart, `doc` holds the JSON body."""

    Meta = table_meta("wallet")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)
    doc = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    customer_id = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    issued = NumberAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    by_owner = OwnerIndex()
    by_merchant = MerchantIndex()


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def instance_pk(merchant_id: str, instance_id: str) -> str:
    return f"{merchant_id}#CI#{instance_id}"


def stock_pk(merchant_id: str, coupon_id: str) -> str:
    return f"{merchant_id}#CS#{coupon_id}"


def limit_pk(merchant_id: str, coupon_id: str, customer_id: str) -> str:
    return f"{merchant_id}#CL#{coupon_id}#{customer_id}"


def wallet_owner(merchant_id: str, customer_id: str) -> str:
    return f"{merchant_id}#{customer_id}"


def _item(inst: CouponInstance) -> WalletItem:
    doc = inst.to_doc()
    sort = f"{doc['issued_at']}#{inst.instance_id}"
    return WalletItem(instance_pk(inst.merchant_id, inst.instance_id), INSTANCE, kind=INSTANCE, doc=dumps(doc),
                      status=inst.status.value, customer_id=inst.customer_id, order_id=inst.order_id,
                      gsi1pk=wallet_owner(inst.merchant_id, inst.customer_id), gsi1sk=sort,
                      gsi2pk=inst.merchant_id, gsi2sk=sort)


def stock_op(merchant_id: str, coupon_id: str, units: int, stock: int, tag: str) -> TxOp:
    """Reserve `units` of a template's stock: the counter grows only while issued + units ≤ stock.

    Condition expressions cannot add, so `issued + n <= stock` is written `issued <= stock - n`.
    """
    return _counter_op(WalletItem(stock_pk(merchant_id, coupon_id), STOCK), units, stock, tag)


def limit_op(merchant_id: str, coupon_id: str, customer_id: str, units: int, limit: int, tag: str) -> TxOp:
    """Count `units` against the customer's per-customer limit of a template (issued + units ≤ limit)."""
    return _counter_op(WalletItem(limit_pk(merchant_id, coupon_id, customer_id), LIMIT), units, limit, tag)


def _counter_op(counter: WalletItem, units: int, ceiling: int, tag: str) -> TxOp:
    return TxOp("update", counter, tag, WalletItem.issued.does_not_exist() | (WalletItem.issued <= ceiling - units),
                [WalletItem.issued.add(units), WalletItem.kind.set(counter.sk)])


def instance_op(inst: CouponInstance, tag: str) -> TxOp:
    """Put an issued instance, only if its (deterministic) id is new: an issue is never written twice."""
    return TxOp("save", _item(inst), tag, WalletItem.pk.does_not_exist())


def _instance(merchant_id: str, item: WalletItem) -> CouponInstance:
    return CouponInstance.from_doc(merchant_id, json.loads(item.doc or "{}"))


class WalletStore:
    """Coupon instances and counters; every write that must not double-count is conditional."""

    def get_instances(self, merchant_id: str, instance_ids: Iterable[str]) -> dict[str, CouponInstance]:
        keys = [(instance_pk(merchant_id, i), INSTANCE) for i in dict.fromkeys(instance_ids)]
        found: dict[str, CouponInstance] = {}
        for item in WalletItem.batch_get(keys, consistent_read=True):
            inst = _instance(merchant_id, item)
            found[inst.instance_id] = inst
        return found

    def get_instance(self, merchant_id: str, instance_id: str) -> CouponInstance | None:
        return self.get_instances(merchant_id, [instance_id]).get(instance_id)

    def issue(self, req: IssueRequest) -> None:
        """Reserve stock (and the customer's allowance) and put the instances, all or nothing.

        A transaction holds TX_MAX_ITEMS items: instances past that are put afterwards, each only if absent (the
        caller completes them on a retry, keyed by the deterministic ids).
        """
        n = req.quantity
        ops = [stock_op(req.merchant_id, req.coupon_id, n, req.stock, "stock")]
        if req.per_customer_limit is not None:
            ops.append(limit_op(req.merchant_id, req.coupon_id, req.customer_id, n, req.per_customer_limit,
                                "customer_limit"))
        first = req.instances[:TX_MAX_ITEMS - len(ops)]
        try:
            commit([*ops, *(instance_op(inst, "exists") for inst in first)])
        except TxCancelled as exc:  # instances are sent before counters: an existing one is named first
            raise WalletConflict(exc.failed[0] if exc.failed else "unknown") from exc
        except TransactWriteError as exc:
            if not is_condition_failure(exc):
                raise
            raise WalletConflict("unknown") from exc  # still contended after commit's retries
        self.put_missing(req.instances[len(first):])

    def put_missing(self, instances: Iterable[CouponInstance]) -> None:
        """Put instances that are not stored yet (a completed retry leaves the stored ones alone)."""
        for inst in instances:
            try:
                _item(inst).save(condition=WalletItem.pk.does_not_exist())
            except PutError as exc:
                if not is_condition_failure(exc):
                    raise

    def replace(self, before: CouponInstance, after: CouponInstance, also: Sequence[Any] = ()) -> None:
        """Write `after` only if the stored status is still `before`'s (claim and redeem are exactly-once).

        `also` (core.tx.TxOp, e.g. the claim's risk fact) is written in the same transaction: a failed
        condition there raises WalletConflict with the operation's tag.
        """
        condition: Condition = ((WalletItem.status == before.status.value)
                                & (WalletItem.customer_id == before.customer_id))
        if also:
            try:
                commit([TxOp("save", _item(after), "status", condition), *also])
            except TxCancelled as exc:
                raise WalletConflict(exc.failed[0] if exc.failed else "status") from exc
            return
        try:
            _item(after).save(condition=condition)
        except PutError as exc:
            if is_condition_failure(exc):
                raise WalletConflict("status") from exc
            raise

    def wallet(self, merchant_id: str, customer_id: str, statuses: tuple[InstanceStatus, ...], limit: int,
               start_key: dict[str, Any] | None) -> tuple[list[CouponInstance], dict[str, Any] | None]:
        """A customer's instances, newest first, pre-filtered by stored status."""
        condition = WalletItem.status.is_in(*[s.value for s in statuses]) if statuses else None
        results = WalletItem.by_owner.query(wallet_owner(merchant_id, customer_id), scan_index_forward=False,
                                            filter_condition=condition, limit=limit, last_evaluated_key=start_key)
        found = [_instance(merchant_id, item) for item in results if item.kind == INSTANCE]
        return found, results.last_evaluated_key

    def history(self, merchant_id: str, start_iso: str, end_iso: str, limit: int,
                start_key: dict[str, Any] | None) -> tuple[list[CouponInstance], dict[str, Any] | None]:
        """The merchant's instances issued in [start, end), newest first (for the issue history)."""
        results = WalletItem.by_merchant.query(merchant_id, WalletItem.gsi2sk.between(start_iso, end_iso),
                                               scan_index_forward=False, limit=limit, last_evaluated_key=start_key)
        found = [_instance(merchant_id, item) for item in results if item.kind == INSTANCE]
        return found, results.last_evaluated_key

    def issued_counts(self, merchant_id: str, coupon_ids: Iterable[str]) -> dict[str, int]:
        """Units issued so far per template (0 when never issued)."""
        ids = list(dict.fromkeys(coupon_ids))
        counts = dict.fromkeys(ids, 0)
        prefix = f"{merchant_id}#CS#"
        for item in WalletItem.batch_get([(stock_pk(merchant_id, c), STOCK) for c in ids], consistent_read=True):
            counts[item.pk[len(prefix):]] = int(item.issued or 0)
        return counts
