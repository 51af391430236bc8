"""Campaign state machine: the transition table, example paths, and properties over random action sequences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.campaigns.lifecycle import (
    DELETABLE,
    EDITABLE,
    TABLE,
    TERMINAL,
    Action,
    State,
    allowed_from,
    resumed_state,
    transition,
)
from chalicelib.core.errors import Conflict

states = st.sampled_from(list(State))
actions = st.sampled_from(list(Action))


def run(state: State, steps: list[Action]) -> list[State]:
    """Apply each action that is allowed; return the visited states."""
    seen = [state]
    for action in steps:
        try:
            state = transition(state, action)
        except Conflict:
            continue
        seen.append(state)
    return seen


def test_spec_path_when_campaign_is_activated_run_paused_resumed_and_finished() -> None:
    path = [Action.ACTIVATE, Action.START_RUN, Action.PAUSE, Action.RESUME, Action.FINISH]
    assert run(State.DRAFT, path) == [State.DRAFT, State.SCHEDULED, State.RUNNING, State.PAUSED, State.RUNNING,
                                      State.ENDED]


@pytest.mark.parametrize("state", [State.SCHEDULED, State.RUNNING, State.PAUSED])
def test_cancel_is_allowed_when_campaign_is_live(state: State) -> None:
    assert transition(state, Action.CANCEL) is State.CANCELLED


@pytest.mark.parametrize("state", [State.DRAFT, State.ENDED, State.CANCELLED])
def test_cancel_is_conflict_when_campaign_is_not_live(state: State) -> None:
    with pytest.raises(Conflict):
        transition(state, Action.CANCEL)


def test_send_now_moves_to_running_when_scheduled_or_running() -> None:
    assert transition(State.SCHEDULED, Action.SEND_NOW) is State.RUNNING
    assert transition(State.RUNNING, Action.SEND_NOW) is State.RUNNING
    with pytest.raises(Conflict):
        transition(State.PAUSED, Action.SEND_NOW)


def test_conflict_names_current_state_and_allowed_states_when_pausing_a_draft() -> None:
    with pytest.raises(Conflict) as info:
        transition("draft", "pause")
    assert info.value.field == "status"
    assert "campaign is draft" in info.value.reason and "running" in info.value.reason


def test_strings_are_accepted_when_they_name_states_and_actions() -> None:
    assert transition("draft", "activate") is State.SCHEDULED
    with pytest.raises(ValueError):
        transition("nonsense", "activate")


def test_edit_and_delete_sets_when_compared_to_spec() -> None:
    assert {State.DRAFT, State.SCHEDULED} == EDITABLE
    assert {State.DRAFT, State.ENDED, State.CANCELLED} == DELETABLE
    assert allowed_from(Action.PAUSE) == (State.SCHEDULED, State.RUNNING)  # 001: 未开始 → 暂停中 too
    assert allowed_from(Action.RESUME) == (State.PAUSED,)
    assert allowed_from(Action.ACTIVATE) == (State.DRAFT,)


def test_resume_returns_a_plan_paused_before_it_started_to_scheduled_and_any_other_to_running() -> None:
    assert resumed_state("scheduled") is State.SCHEDULED
    assert resumed_state("running") is State.RUNNING
    assert resumed_state(None) is State.RUNNING  # paused before paused_from was kept: it was running


@given(states, actions)
def test_transition_is_total_when_any_state_meets_any_action(state: State, action: Action) -> None:
    try:
        new = transition(state, action)
    except Conflict as exc:
        assert (state, action) not in TABLE
        assert f"campaign is {state.value}" in exc.reason
    else:
        assert TABLE[(state, action)] is new


@given(st.sampled_from(sorted(TERMINAL)), st.lists(actions, max_size=20))
def test_no_path_leaves_ended_or_cancelled_when_any_actions_follow(state: State, steps: list[Action]) -> None:
    assert set(run(state, steps)) == {state}


@given(states, st.lists(actions, max_size=30))
def test_nothing_returns_to_draft_when_a_campaign_has_been_activated(state: State, steps: list[Action]) -> None:
    visited = run(state, steps)
    assert State.DRAFT not in visited[1:]


@given(states, actions)
def test_pause_only_from_scheduled_or_running_and_resume_only_from_paused(state: State, action: Action) -> None:
    try:
        new = transition(state, action)
    except Conflict:
        return
    if new is State.PAUSED and state is not State.PAUSED:
        assert action is Action.PAUSE and state in (State.SCHEDULED, State.RUNNING)
    if action is Action.RESUME:
        assert state is State.PAUSED and new is State.RUNNING
    if new is State.CANCELLED:
        assert action is Action.CANCEL
    if new is State.ENDED:
        assert action is Action.FINISH


def test_every_state_is_reachable_from_draft_when_the_table_is_walked() -> None:
    reachable = {State.DRAFT}
    frontier = [State.DRAFT]
    while frontier:
        current = frontier.pop()
        for (src, _), dst in TABLE.items():
            if src is current and dst not in reachable:
                reachable.add(dst)
                frontier.append(dst)
    assert reachable == set(State)


@given(st.lists(actions, max_size=40))
def test_terminal_states_are_sinks_when_reached_by_random_sequences(steps: list[Action]) -> None:
    visited = run(State.DRAFT, steps)
    for index, state in enumerate(visited):
        if state in TERMINAL:
            assert visited[index:] == [state]
