"""The campaign state machine: states, lifecycle actions and the one transition table (pure)."""

from __future__ import annotations

from enum import StrEnum

from chalicelib.core.errors import Conflict


class State(StrEnum):
    """Stored campaign statuses (SPEC §6, plus draft for created-but-not-activated)."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"
    CANCELLED = "cancelled"


class Action(StrEnum):
    """What can happen to a campaign; start_run and finish come from the dispatch pipeline."""

    ACTIVATE = "activate"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    SEND_NOW = "send_now"
    START_RUN = "start_run"
    FINISH = "finish"


S, A = State, Action
TABLE: dict[tuple[State, Action], State] = {
    (S.DRAFT, A.ACTIVATE): S.SCHEDULED,
    (S.SCHEDULED, A.START_RUN): S.RUNNING,
    # A recurring campaign stays running between occurrences: each occurrence starts a run.
    (S.RUNNING, A.START_RUN): S.RUNNING,
    (S.SCHEDULED, A.SEND_NOW): S.RUNNING,
    (S.RUNNING, A.SEND_NOW): S.RUNNING,
    (S.RUNNING, A.PAUSE): S.PAUSED,
    # 001: a plan can be paused before it starts (未开始 → 暂停中); resume returns it to where it was paused from
    # (resumed_state), so a plan that never ran is scheduled again.
    (S.SCHEDULED, A.PAUSE): S.PAUSED,
    (S.PAUSED, A.RESUME): S.RUNNING,
    (S.SCHEDULED, A.CANCEL): S.CANCELLED,
    (S.RUNNING, A.CANCEL): S.CANCELLED,
    (S.PAUSED, A.CANCEL): S.CANCELLED,
    # The schedule can run out whatever the state (e.g. end_date passes while paused).
    (S.SCHEDULED, A.FINISH): S.ENDED,
    (S.RUNNING, A.FINISH): S.ENDED,
    (S.PAUSED, A.FINISH): S.ENDED,
}
TERMINAL: frozenset[State] = frozenset({S.ENDED, S.CANCELLED})
EDITABLE: frozenset[State] = frozenset({S.DRAFT, S.SCHEDULED})
DELETABLE: frozenset[State] = frozenset({S.DRAFT, S.ENDED, S.CANCELLED})
# Campaigns the dispatch pipeline acts on (a paused one keeps its place but sends nothing).
LIVE: frozenset[State] = frozenset({S.SCHEDULED, S.RUNNING, S.PAUSED})


def allowed_from(action: Action) -> tuple[State, ...]:
    """The states `action` may start from, in declaration order."""
    return tuple(s for s in State if (s, action) in TABLE)


def transition(state: State | str, action: Action | str) -> State:
    """The state after `action`; Conflict (409) naming the current state when it is not allowed."""
    current, act = State(state), Action(action)
    new = TABLE.get((current, act))
    if new is None:
        allowed = ", ".join(allowed_from(act)) or "no state"
        raise Conflict(f"campaign is {current.value}; {act.value} is allowed only from {allowed}", field="status")
    return new


def resumed_state(paused_from: object) -> State:
    """Where resume takes a paused campaign: scheduled when it was paused before it started, else running."""
    return S.SCHEDULED if paused_from == S.SCHEDULED.value else S.RUNNING
