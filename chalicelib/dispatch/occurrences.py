"""Campaign occurrences: the due item of each scheduled send, and starting its run exactly once."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any

from chalicelib.campaigns.schedule import (
    OnceSchedule,
    RecurringSchedule,
    local_date,
    local_to_utc,
    next_occurrence,
    zone,
)
from chalicelib.campaigns.schedule_triggered import TriggeredSchedule, TriggerEvent
from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.errors import Conflict
from chalicelib.core.records import Record
from chalicelib.core.tx import TxCancelled
from chalicelib.dispatch.claims import TickPart
from chalicelib.dispatch.messages import plan_messages
from chalicelib.dispatch.model import DueItem, DueKind, Run, run_id_for, segments_for
from chalicelib.dispatch.ports import Op, WinnerPort
from chalicelib.dispatch.snapshot import PAUSED, SENDABLE, CampaignView, should_switch, view

log = logging.getLogger(__name__)
BIRTHDAY_DEFAULT_TIME = time(9, 0)


def occurrence_due(merchant_id: str, campaign_id: str, at: datetime, kind: str = "occurrence") -> DueItem:
    return DueItem(merchant_id, f"{to_iso(at)}#occurrence#{campaign_id}", DueKind.OCCURRENCE, at,
                   {"campaign_id": campaign_id, "occurrence": to_iso(at), "kind": kind}, campaign_id=campaign_id)


def birthday_at(schedule: TriggeredSchedule, tz: str, after: datetime) -> datetime:
    """Birthday campaigns are evaluated once a local day, at their time of day: the next such instant."""
    wall = schedule.time_of_day or BIRTHDAY_DEFAULT_TIME
    day = local_date(after, zone(tz))
    instant = local_to_utc(day, wall, zone(tz))
    return instant if instant > after else local_to_utc(day + timedelta(days=1), wall, zone(tz))


def first_due(merchant_id: str, campaign: CampaignView, tz: str, now: datetime) -> DueItem | None:
    """The first occurrence of an activated campaign (None for event-triggered ones and exhausted schedules)."""
    schedule = campaign.schedule
    activated = campaign.activated_at or now
    if isinstance(schedule, TriggeredSchedule):
        if schedule.event is TriggerEvent.BIRTHDAY:
            return occurrence_due(merchant_id, campaign.campaign_id,
                                  birthday_at(schedule, tz, now - timedelta(seconds=1)), "birthday")
        return None
    if isinstance(schedule, OnceSchedule | RecurringSchedule):
        at = next_occurrence(schedule, tz, min(activated, now) - timedelta(microseconds=1), activated)
        return occurrence_due(merchant_id, campaign.campaign_id, at) if at else None
    return None


def next_due(merchant_id: str, campaign: CampaignView, tz: str, after: datetime, kind: str) -> DueItem | None:
    schedule = campaign.schedule
    if isinstance(schedule, TriggeredSchedule):
        if kind != "birthday":
            return None
        return occurrence_due(merchant_id, campaign.campaign_id, birthday_at(schedule, tz, after), kind)
    if isinstance(schedule, RecurringSchedule):
        at = next_occurrence(schedule, tz, after, campaign.activated_at or after)
        return occurrence_due(merchant_id, campaign.campaign_id, at) if at else None
    return None


class OccurrenceStarter(TickPart):
    """Starts a campaign occurrence: its run, the next occurrence's due item, the plan messages."""

    winners: WinnerPort | None = None  # set by the wiring: recurring plans that switch to their experiment's winner

    def start(self, item: DueItem, now: datetime) -> int:
        """TransactWrite [claim, run (new), next occurrence (new)], then the plan messages, then done."""
        merchant_id, campaign_id = item.merchant_id, item.payload["campaign_id"]
        record = self._campaigns.get(merchant_id, campaign_id)
        if record is None or (record.status not in SENDABLE and record.status != PAUSED):
            return self._drop(item, now, "dropped")
        campaign = view(campaign_id, record.status, record.data)
        tz = self._tz(merchant_id)
        occurrence = parse_iso(item.payload["occurrence"])
        kind = item.payload.get("kind", "occurrence")
        nxt = next_due(merchant_id, campaign, tz, max(occurrence, now) if kind == "birthday" else occurrence, kind)
        if record.status == PAUSED:
            done = self._paused(item, campaign, nxt, now)
            if done and not isinstance(campaign.schedule, OnceSchedule):
                self._note_next(merchant_id, campaign_id, PAUSED, PAUSED, nxt, now)
            return done
        segments = segments_for(campaign.target)
        if item.status == "pending" and should_switch(record.data):
            record = self._switch(record, campaign, now)
        run = Run(merchant_id, run_id_for(merchant_id, campaign_id, occurrence), campaign_id, occurrence, record.data,
                  last=nxt is None and kind != "birthday", kind=kind, started_at=to_iso(now), segments_total=segments)
        ops: dict[str, Op] = {"claim": self._due.claim_op(item, now)}
        if item.status == "pending":
            ops["run"] = self._runs.put_run_op(run)
            if nxt is not None:
                ops["next"] = self._due.put_op(nxt, now)
        while True:
            try:
                self._commit(list(ops.values()))
                break
            except TxCancelled as exc:
                if any(t.startswith("claim:") for t in exc.failed):
                    return 0  # another tick took it
                if any(t.startswith("run:") for t in exc.failed):
                    ops.pop("run")  # a replay: the run exists already
                if any(t.startswith("due:") for t in exc.failed):
                    ops.pop("next")
        if kind != "birthday" or record.status == "scheduled":
            self._note_next(merchant_id, campaign_id, record.status or "running", "running", nxt, now)
        self._queues.send_plans(plan_messages(merchant_id, run.run_id, segments))
        self._due.mark_done([item], now)
        return 1

    def _switch(self, record: Record, campaign: CampaignView, now: datetime) -> Record:
        """A decided verdict becomes the campaign's `winner` (its event, shown in the report) before this run's
        snapshot is taken, so this run and every later one send the winner to everyone not held out."""
        if self.winners is None:
            return record
        found = self.winners.winner(record.merchant_id, record.id)
        if found is None:
            return record
        event = {**found, "at": to_iso(now), "type": "switched_to_winner"}
        events = [*(record.data.get("events") or []), event]
        try:
            return self._campaigns.set_status(record.merchant_id, record.id, record.status or "", now,
                                              expected_status=(record.status or "",),
                                              data_updates={"winner": event, "events": events})
        except Conflict:  # the campaign changed meanwhile (paused, cancelled): the next occurrence looks again
            log.info("campaign %s not switched to its winner: changed concurrently", campaign.campaign_id)
            return record

    def _note_next(self, merchant_id: str, campaign_id: str, status: str, new_status: str, nxt: DueItem | None,
                   now: datetime) -> None:
        """The campaign's next_run_at follows every occurrence (None once the schedule has none left); a scheduled
        campaign moves to running with its first run. A replay writes the same; a concurrent move wins."""
        try:
            self._campaigns.set_status(merchant_id, campaign_id, new_status, now, expected_status=(status,),
                                       data_updates={"next_run_at": to_iso(nxt.due_at) if nxt else None})
        except Conflict:
            log.info("campaign %s left %s before its run was noted", campaign_id, status)

    def _paused(self, item: DueItem, campaign: CampaignView, nxt: DueItem | None, now: datetime) -> int:
        """A paused once campaign's send waits for resume; a recurring one skips occurrences during the pause."""
        ops: list[Any] = [self._due.claim_op(item, now)]
        if isinstance(campaign.schedule, OnceSchedule):
            parked = DueItem(item.merchant_id, f"parked#occurrence#{campaign.campaign_id}", DueKind.PARKED, now,
                             dict(item.payload), campaign_id=campaign.campaign_id)
            ops.append(self._due.put_op(parked, now, only_new=False))
        elif nxt is not None:
            ops.append(self._due.put_op(nxt, now, only_new=False))
        try:
            self._commit(ops)
        except TxCancelled:
            return 0
        self._due.mark_done([item], now, status="skipped")
        return 1

    def _drop(self, item: DueItem, now: datetime, status: str) -> int:
        try:
            self._commit([self._due.claim_op(item, now)])
        except TxCancelled:
            return 0
        self._due.mark_done([item], now, status=status)
        return 1
