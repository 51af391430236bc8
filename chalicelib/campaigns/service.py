"""Campaign use cases: create, edit, list and delete definitions, and move campaigns through their lifecycle."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.audiences.builtin import BUILTIN_IDS
from chalicelib.campaigns.checks import (
    arm_bodies,
    check_body,
    check_guardrails,
    check_needs,
    check_timing,
    content_variables,
    first_run,
    loosened,
)
from chalicelib.campaigns.lifecycle import DELETABLE, EDITABLE, Action, State, resumed_state, transition
from chalicelib.campaigns.model import STAMPS, to_schedule
from chalicelib.campaigns.schedule import OnceSchedule
from chalicelib.campaigns.schedule_triggered import Schedule, TriggeredSchedule
from chalicelib.campaigns.schemas import BODY_FIELDS, AudienceTarget, CampaignIn
from chalicelib.core.clock import Clock, parse_iso, to_iso
from chalicelib.core.errors import Conflict, Invalid, NotFound, PreconditionFailed, TooLarge
from chalicelib.core.idempotency import derive_id, fingerprint
from chalicelib.core.ports import Repo
from chalicelib.core.records import AlreadyExists, Record
from chalicelib.tenancy.model import MerchantSettings

# DynamoDB items stop at 400 KB; leave room for the envelope and later stamps.
MAX_DATA_BYTES = 350_000
# A retried activate / resume (after a 5xx or a timeout) this soon after the first one re-runs the hook.
RETRY_WINDOW = timedelta(days=1)


class LifecycleHooks(Protocol):
    """The dispatch half of each lifecycle action, called after the status has changed."""

    def on_activated(self, campaign: Record) -> Any: ...

    def on_send_now(self, campaign: Record) -> Any: ...

    def on_paused(self, campaign: Record) -> Any: ...

    def on_resumed(self, campaign: Record) -> Any: ...

    def on_cancelled(self, campaign: Record) -> Any: ...


class QuotaCheck(Protocol):
    """Merchant quotas (guardrails): raises QuotaExceeded when the first send would knowably exceed one."""

    def check(self, merchant_id: str, campaign_id: str, data: dict[str, Any], first_run: datetime | None,
              now: datetime) -> None: ...

    def feasibility(self, merchant_id: str, campaign_id: str, data: dict[str, Any], now: datetime
                    ) -> list[dict[str, Any]]:
        """Warnings (never refusals) for caps under which the schedule cannot deliver every send."""
        ...


def body_of(record: Record) -> CampaignIn:
    """The definition part of a stored campaign."""
    return CampaignIn.model_validate({k: record.data[k] for k in BODY_FIELDS if k in record.data})


def _is_now(schedule: Schedule) -> bool:
    return isinstance(schedule, OnceSchedule) and schedule.at is None


class CampaignService:
    """Campaign definitions of every merchant, and their state machine."""

    def __init__(self, campaigns: Repo, coupons: Repo, contents: Repo, audiences: Repo,
                 settings_of: Callable[[str], MerchantSettings], clock: Clock,
                 hooks: Callable[[], LifecycleHooks] | None = None,
                 admission: Callable[[], QuotaCheck] | None = None) -> None:
        self._campaigns = campaigns
        self._hooks = hooks
        self._admission = admission  # merchant quotas a send would knowably exceed: 429 before any status change
        self._coupons = coupons
        self._contents = contents
        self._audiences = audiences
        self._settings_of = settings_of
        self._clock = clock

    def _check_references(self, merchant_id: str, body: CampaignIn, where: str) -> None:
        target = body.target
        if isinstance(target, AudienceTarget) and target.audience_id not in BUILTIN_IDS \
                and self._audiences.get(merchant_id, target.audience_id) is None:
            raise Invalid(f"no audience {target.audience_id}", field=f"{where}target.audience_id")
        for i, line in enumerate(body.action.coupons):
            if self._coupons.get(merchant_id, line.coupon_id) is None:
                raise Invalid(f"no coupon {line.coupon_id}", field=f"{where}action.coupons[{i}].coupon_id")
        content = body.action.content_id
        if content is not None and self._contents.get(merchant_id, content) is None:
            raise Invalid(f"no content {content}", field=f"{where}action.content_id")

    def _check_needs(self, merchant_id: str, body: CampaignIn, where: str, sending: bool) -> None:
        """Content variables the campaign cannot fill; `sending`: also the settings its sends need."""
        content = body.action.content_id
        record = self._contents.get(merchant_id, content) if content is not None else None
        check_needs(body, content_variables(record.data if record else None),
                    self._settings_of(merchant_id) if sending else None, where)

    def _check(self, merchant_id: str, body: CampaignIn, where: str, now: datetime, sending: bool = False
               ) -> tuple[Schedule, str]:
        """Everything a definition must satisfy to be stored or activated (`sending`: also what its sends need
        from the settings); returns (schedule, time zone)."""
        schedule = check_body(body, where)
        settings = self._settings_of(merchant_id)
        for arm, arm_where in arm_bodies(body, where):  # each treatment's coupons, content and channel too
            self._check_references(merchant_id, arm, arm_where)
            self._check_needs(merchant_id, arm, arm_where, sending)
        check_guardrails(body.guardrails, settings.guardrails, where)
        check_timing(schedule, settings.timezone, now, where)
        return schedule, settings.timezone

    @staticmethod
    def _check_size(data: dict[str, Any], body: CampaignIn) -> None:
        size = len(json.dumps(data, ensure_ascii=False).encode())
        if size > MAX_DATA_BYTES:
            field = "body.target.customer_ids" if body.target.kind == "customers" else "body"
            raise TooLarge(f"the campaign is {size} bytes, over {MAX_DATA_BYTES}; put long customer lists "
                           "into a list audience", field=field)

    def create(self, merchant_id: str, body: CampaignIn, idempotency_key: str | None = None) -> Record:
        """A new draft campaign; the same Idempotency-Key and body return the first one again."""
        campaign_id = derive_id("cmp", merchant_id, "campaigns", idempotency_key)
        definition = body.model_dump(mode="json")
        fp = fingerprint(definition) if idempotency_key else None
        if idempotency_key and (existing := self._campaigns.get(merchant_id, campaign_id)) is not None:
            return self._replay(existing, fp)
        now = self._clock()
        self._check(merchant_id, body, "body.", now)
        data = {**definition, **dict.fromkeys(STAMPS)}
        self._check_size(data, body)
        try:
            return self._campaigns.create(merchant_id, campaign_id, data, now, status=State.DRAFT.value,
                                          label=body.label, name=body.name, idem_fp=fp)
        except AlreadyExists as exc:
            return self._replay(exc.existing, fp)

    @staticmethod
    def _replay(existing: Record, fp: str | None) -> Record:
        if fp is None or existing.idem_fp != fp:
            raise Conflict("this Idempotency-Key already created a campaign with a different body",
                           field="header.Idempotency-Key")
        return existing

    def get(self, merchant_id: str, campaign_id: str) -> Record:
        record = self._campaigns.get(merchant_id, campaign_id)
        if record is None:
            raise NotFound(f"no campaign {campaign_id}", field="path.campaign_id")
        return record

    def list(self, merchant_id: str, limit: int, start_key: dict[str, Any] | None, *, status: str | None = None,
             label: str | None = None, name: str | None = None, schedule_kind: str | None = None,
             channel: str | None = None) -> tuple[list[Record], dict[str, Any] | None]:
        """A page of campaigns; status and label are filtered by DynamoDB, the name (contained, case-insensitive),
        schedule kind and channel on the body as the pages are read (000 营销管理's search)."""
        if name is None and schedule_kind is None and channel is None:
            return self._campaigns.list(merchant_id, limit=limit, start_key=start_key, status=status, label=label)
        needle = name.casefold() if name is not None else None

        def where(record: Record) -> bool:
            data = record.data
            return ((needle is None or needle in str(data.get("name", "")).casefold())
                    and (schedule_kind is None or (data.get("schedule") or {}).get("kind") == schedule_kind)
                    and (channel is None or (data.get("action") or {}).get("channel") == channel))

        return self._campaigns.list(merchant_id, limit=limit, start_key=start_key, status=status, label=label,
                                    where=where)

    def editable(self, merchant_id: str, campaign_id: str, expected_version: int | None) -> Record:
        """The campaign if a PATCH may change it: 404, then 412 when If-Match is stale, then 409 by state."""
        record = self._current(merchant_id, campaign_id, expected_version)
        if State(record.status or State.DRAFT) not in EDITABLE:
            raise Conflict(f"campaign is {record.status}; only draft and scheduled campaigns can be edited",
                           field="status")
        return record

    def _current(self, merchant_id: str, campaign_id: str, expected_version: int | None) -> Record:
        record = self.get(merchant_id, campaign_id)
        if expected_version is not None and expected_version != record.version:
            raise PreconditionFailed(f"version {expected_version} is stale; current is {record.version}",
                                     field="header.If-Match")
        return record

    def update(self, merchant_id: str, record: Record, body: CampaignIn) -> Record:
        """Replace the definition of `record` (from editable()) with `body`, unless it changed meanwhile."""
        now = self._clock()
        schedule, tz = self._check(merchant_id, body, "body.", now)
        data = {**record.data, **body.model_dump(mode="json")}
        if record.status == State.SCHEDULED:
            if isinstance(schedule, TriggeredSchedule) or _is_now(schedule):
                raise Invalid("a scheduled campaign needs a calendar schedule with a time; use send-now to send now",
                              field="body.schedule")
            run = first_run(schedule, tz, now)
            data["next_run_at"] = to_iso(run) if run else None
            data["loosened"] = loosened(data.get("guardrails"), self._settings_of(merchant_id).guardrails)
            if self._admission is not None:
                data["warnings"] = self._admission().feasibility(merchant_id, record.id, data, now)
        self._check_size(data, body)
        return self._campaigns.update(merchant_id, record.id, data, now, expected_version=record.version,
                                      status=record.status, label=body.label, name=body.name)

    def delete(self, merchant_id: str, campaign_id: str, expected_version: int | None) -> None:
        record = self._current(merchant_id, campaign_id, expected_version)
        if State(record.status or State.DRAFT) not in DELETABLE:
            raise Conflict(f"campaign is {record.status}; cancel it first (only draft, ended and cancelled "
                           "campaigns can be deleted)", field="status")
        self._campaigns.delete(merchant_id, campaign_id, expected_version=record.version)

    def _move(self, record: Record, new: State, stamps: dict[str, Any], hook: str | None = None) -> Record:
        moved = self._campaigns.set_status(record.merchant_id, record.id, new.value, self._clock(),
                                           expected_status=(record.status or State.DRAFT.value,), data_updates=stamps)
        if hook is not None and self._hooks is not None:
            getattr(self._hooks(), hook)(moved)
        return moved

    def apply(self, merchant_id: str, campaign_id: str, action: Action, stamps: dict[str, Any] | None = None,
              hook: str | None = None) -> Record:
        """Any table transition with extra data (also the dispatch pipeline's start_run and finish)."""
        record = self.get(merchant_id, campaign_id)
        return self._move(record, transition(record.status or State.DRAFT, action), stamps or {}, hook)

    def activate(self, merchant_id: str, campaign_id: str) -> Record:
        """draft → scheduled; once-now and triggered campaigns go straight on to running."""

        def move() -> Record:
            record = self.get(merchant_id, campaign_id)
            new = transition(record.status or State.DRAFT, Action.ACTIVATE)
            now = self._clock()
            schedule, tz = self._check(merchant_id, body_of(record), "", now, sending=True)
            if _is_now(schedule) or isinstance(schedule, TriggeredSchedule):
                new = transition(new, Action.START_RUN)
            run = first_run(schedule, tz, now)
            warnings: list[dict[str, Any]] = []
            if self._admission is not None:
                self._admission().check(merchant_id, campaign_id, record.data, run, now)
                warnings = self._admission().feasibility(merchant_id, campaign_id, record.data, now)
            stamps = {"activated_at": to_iso(now), "next_run_at": to_iso(run) if run else None,
                      "loosened": loosened(record.data.get("guardrails"), self._settings_of(merchant_id).guardrails),
                      "warnings": warnings}
            return self._move(record, new, stamps, "on_activated")

        return self._retry_safe(move, merchant_id, campaign_id, "activated_at", (State.SCHEDULED, State.RUNNING),
                                "on_activated")

    def pause(self, merchant_id: str, campaign_id: str) -> Record:
        """running or scheduled (before it starts) → paused; the state it left is kept for resume."""
        record = self.get(merchant_id, campaign_id)
        return self._move(record, transition(record.status or State.DRAFT, Action.PAUSE),
                          {"paused_at": to_iso(self._clock()), "paused_from": record.status}, "on_paused")

    def resume(self, merchant_id: str, campaign_id: str) -> Record:
        """paused → running, or → scheduled when it was paused before it started."""
        record = self.get(merchant_id, campaign_id)
        self._check_needs(merchant_id, body_of(record), "", sending=True)

        def move() -> Record:
            current = self.get(merchant_id, campaign_id)
            transition(current.status or State.DRAFT, Action.RESUME)  # 409 unless paused
            return self._move(current, resumed_state(current.data.get("paused_from")),
                              {"resumed_at": to_iso(self._clock())}, "on_resumed")

        return self._retry_safe(move, merchant_id, campaign_id, "resumed_at", (State.RUNNING, State.SCHEDULED),
                                "on_resumed")

    def _retry_safe(self, move: Callable[[], Record], merchant_id: str, campaign_id: str, stamp: str,
                    reached: tuple[State, ...], hook: str) -> Record:
        """The status moves first and the hook writes the dispatch work after it: when the hook failed (or its
        answer was lost), the merchant's retry finds the status already moved (409). Before answering so, run the
        hook again — it is idempotent — so the campaign never stays running with nothing scheduled."""
        try:
            return move()
        except Conflict:
            record = self.get(merchant_id, campaign_id)
            at = record.data.get(stamp)
            if (self._hooks is not None and record.status in reached and isinstance(at, str)
                    and self._clock() - parse_iso(at) <= RETRY_WINDOW):
                getattr(self._hooks(), hook)(record)
            raise

    def cancel(self, merchant_id: str, campaign_id: str) -> Record:
        return self._stamped(merchant_id, campaign_id, Action.CANCEL, "cancelled_at", "on_cancelled")

    def finish(self, merchant_id: str, campaign_id: str) -> Record:
        return self._stamped(merchant_id, campaign_id, Action.FINISH, "ended_at")

    def _stamped(self, merchant_id: str, campaign_id: str, action: Action, stamp: str, hook: str | None = None
                 ) -> Record:
        return self.apply(merchant_id, campaign_id, action, {stamp: to_iso(self._clock())}, hook)

    def send_now(self, merchant_id: str, campaign_id: str, key: str | None = None) -> Record:
        """Ask the dispatch pipeline for an immediate run (a once campaign's run moves to now).

        The run's instant is the stored request instant, so the dispatch hook can run again without a second
        send. With an Idempotency-Key, a retry within a day (its answer lost, or its hook failed) re-runs the
        hook for that request's instant and answers the campaign: one send however often it is retried.
        """
        record = self.get(merchant_id, campaign_id)
        clock = self._clock()
        # Keys are remembered for RETRY_WINDOW (like any idempotency key, a key replayed later is a new request).
        keys = {k: at for k, at in (record.data.get("send_now_keys") or {}).items()
                if isinstance(at, str) and clock - parse_iso(at) <= RETRY_WINDOW}
        if key is not None and key in keys:
            if self._hooks is not None and record.status == State.RUNNING:  # a cancelled campaign stays quiet
                self._hooks().on_send_now(replace(record, data={**record.data, "send_now_requested_at": keys[key]}))
            return record
        new = transition(record.status or State.DRAFT, Action.SEND_NOW)
        schedule = to_schedule(record.data["schedule"])
        if isinstance(schedule, TriggeredSchedule):
            raise Conflict("a triggered campaign sends when its event happens; it has nothing to send now",
                           field="schedule.kind")
        if isinstance(schedule, OnceSchedule) and record.status == State.RUNNING:
            raise Conflict("campaign is running; a once campaign sends only once", field="status")
        self._check_needs(merchant_id, body_of(record), "", sending=True)
        if self._admission is not None:
            self._admission().check(merchant_id, campaign_id, record.data, None, self._clock())
        now = to_iso(clock)
        stamps: dict[str, Any] = {"send_now_requested_at": now,
                                  "send_now_keys": {**keys, key: now} if key is not None else keys}
        if isinstance(schedule, OnceSchedule):
            stamps["next_run_at"] = now
        return self._move(record, new, stamps, "on_send_now")
