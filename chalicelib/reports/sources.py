"""Adapters from the dispatch run store and the coupons wallet store to the reports ports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from chalicelib.core.clock import Clock, parse_iso, to_iso
from chalicelib.core.reasons import INTERNAL, public_reason
from chalicelib.coupons.model import CouponInstance
from chalicelib.coupons.terms import effective_status
from chalicelib.reports.model import CHANNEL_BACKOFF, QUIET_HOURS, CouponFact, Delivery, DeliveryStatus

RUN_PAGE = 100


class RunReader(Protocol):
    """The part of dispatch's RunStore reports read (runs by campaign, chunks with their ledger)."""

    def list_runs(self, merchant_id: str, campaign_id: str, limit: int, start_key: dict[str, Any] | None
                  ) -> tuple[list[Any], dict[str, Any] | None]: ...

    def chunks_of(self, merchant_id: str, run_id: str) -> list[Any]: ...


class WalletReader(Protocol):
    """The part of the coupons WalletStore reports read."""

    def get_instances(self, merchant_id: str, instance_ids: Iterable[str]) -> dict[str, CouponInstance]: ...

    def history(self, merchant_id: str, start_iso: str, end_iso: str, limit: int,
                start_key: dict[str, Any] | None) -> tuple[list[CouponInstance], dict[str, Any] | None]: ...


def _text(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def delivery_of(run_id: str, customer_id: str, entry: Any, chunk_state: str, started: datetime | None) -> Delivery:
    """A ledger entry (dispatch.model.Entry or None) folded into a report status with a public reason code."""
    if entry is None:
        why = "cancelled" if chunk_state == "cancelled" else "pending"
        return Delivery(run_id, customer_id, DeliveryStatus.NOT_SENT, why, (), started)
    outcome = _text(entry.outcome)
    at = parse_iso(entry.at) if getattr(entry, "at", None) else started
    instances = tuple(getattr(entry, "instances", ()) or ())
    waiting = {"deferred": QUIET_HOURS, "retry": CHANNEL_BACKOFF}.get(outcome)
    if waiting is not None:  # the ledger keeps the release instant as the entry's reason
        until = parse_iso(entry.reason) if entry.reason else None
        return Delivery(run_id, customer_id, DeliveryStatus.DEFERRED, waiting, instances, at, until=until)
    mapping = {"succeeded": DeliveryStatus.REACHED, "held_out": DeliveryStatus.HELD_OUT,
               "suppressed": DeliveryStatus.SUPPRESSED, "failed": DeliveryStatus.FAILED}
    status = mapping.get(outcome, DeliveryStatus.NOT_SENT)
    reason: str | None
    if status in (DeliveryStatus.REACHED, DeliveryStatus.HELD_OUT):
        reason = None
    elif status is DeliveryStatus.NOT_SENT:  # a waiting entry's reason is its instant: the outcome says why
        reason = public_reason("not_sent", outcome)
    else:
        reason = public_reason(status.value, entry.reason) or INTERNAL
    return Delivery(run_id, customer_id, status, reason, instances, at)


class DispatchDeliveries:
    """Deliveries from dispatch's runs (gsi1 by campaign, newest first) and chunks (recipients + ledger map)."""

    def __init__(self, runs: RunReader) -> None:
        self._runs = runs

    def deliveries(self, merchant_id: str, campaign_id: str, start: datetime | None, end: datetime | None
                   ) -> list[Delivery]:
        out: list[Delivery] = []
        key: dict[str, Any] | None = None
        while True:
            runs, key = self._runs.list_runs(merchant_id, campaign_id, RUN_PAGE, key)
            for run in runs:  # newest first: stop at the first run started before the range
                started = parse_iso(run.started_at) if getattr(run, "started_at", "") else run.occurrence
                if start is not None and started < start:
                    return out
                if end is not None and started >= end:
                    continue
                for chunk in self._runs.chunks_of(merchant_id, run.run_id):
                    state = _text(chunk.state)
                    for recipient in chunk.recipients:
                        cid = recipient.customer_id
                        out.append(replace(delivery_of(run.run_id, cid, chunk.ledger.get(cid), state, started),
                                           arm=getattr(chunk, "arm", None)))
            if key is None:
                return out


def coupon_fact(inst: CouponInstance, now: datetime) -> CouponFact:
    return CouponFact(inst.instance_id, inst.coupon_id, inst.terms.name, inst.customer_id,
                      effective_status(inst, now).value, inst.issued_at, inst.campaign_id, inst.run_id,
                      inst.claimed_at, inst.valid_until, inst.redeemed_at, inst.order_id)


class WalletCouponFacts:
    """Coupon instances from the wallet store, with their effective (clock-computed) status."""

    def __init__(self, wallet: WalletReader, clock: Clock) -> None:
        self._wallet = wallet
        self._clock = clock

    def instances(self, merchant_id: str, instance_ids: Iterable[str]) -> dict[str, CouponFact]:
        ids = sorted(set(instance_ids))
        if not ids:
            return {}
        now = self._clock()
        return {i: coupon_fact(inst, now) for i, inst in self._wallet.get_instances(merchant_id, ids).items()}

    def history(self, merchant_id: str, start: datetime, end: datetime, limit: int,
                start_key: dict[str, Any] | None) -> tuple[list[CouponFact], dict[str, Any] | None]:
        found, last = self._wallet.history(merchant_id, to_iso(start), to_iso(end), limit, start_key)
        now = self._clock()
        return [coupon_fact(i, now) for i in found], last
