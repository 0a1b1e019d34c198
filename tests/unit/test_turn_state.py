"""The conversation's one transition function, and its state's one representation:
what RTVI, MQTT and Home Assistant show is the same value."""

from __future__ import annotations

import json

import pytest

from rtvi_edge import events as ev
from rtvi_edge.events import BotState
from rtvi_edge.mqtt import payloads
from rtvi_edge.mqtt.discovery import discovery_messages
from rtvi_edge.mqtt.topics import Topics
from rtvi_edge.pipeline.turn_state import TurnEvent, next_state
from rtvi_edge.pipeline.turn_tracker import TurnTracker
from rtvi_edge.rtvi.outbound import _server_message

S, E = BotState, TurnEvent


@pytest.mark.parametrize(
    ("state", "event", "after"),
    [
        (S.IDLE, E.USER_STARTED, S.LISTENING),
        (S.LISTENING, E.USER_SILENT, S.IDLE),
        (S.LISTENING, E.TURN_STARTED, S.THINKING),
        (S.THINKING, E.BOT_SPEAKING, S.SPEAKING),
        (S.SPEAKING, E.TURN_ENDED, S.IDLE),
        (S.SPEAKING, E.TURN_ENDED_USER_SPEAKING, S.LISTENING),
        (S.SPEAKING, E.USER_STARTED, S.LISTENING),  # barge-in
        (S.IDLE, E.UNMUTED, S.IDLE),
        (S.MUTED, E.UNMUTED, S.IDLE),
    ],
)
def test_transitions(state: BotState, event: TurnEvent, after: BotState) -> None:
    assert next_state(state, event, muted=False) is after


@pytest.mark.parametrize("event", [e for e in TurnEvent if e is not TurnEvent.UNMUTED])
def test_muted_wins_over_everything_but_unmuting(event: TurnEvent) -> None:
    assert next_state(S.SPEAKING, event, muted=True) is S.MUTED


@pytest.mark.parametrize("state", list(BotState))
def test_every_client_sees_the_state_as_it_is(state: BotState) -> None:
    """No translation table: the state a remote pipeline reports is the state the
    conversation enters, publishes, and RTVI and MQTT show."""
    seen: list[ev.Event] = []
    tracker = TurnTracker("s", lambda: False, seen.append, lambda: None)
    tracker.remote(state)
    assert tracker.state is state
    published = ev.StateChanged(session_id="s", state=state)
    ((mtype, data),) = _server_message(published)
    assert mtype == "server-message" and json.loads(json.dumps(data))["state"] == state.value
    topics = Topics.for_device("d", "", "homeassistant")
    assert json.loads(payloads.state(topics, state).payload) == {"state": state.value}


def test_home_assistant_is_offered_exactly_these_states() -> None:
    topics = Topics.for_device("d", "", "homeassistant")
    sensors = [
        json.loads(m.payload) for m in discovery_messages(topics, "d", "Device", None)
        if m.topic.endswith("/assist_state/config")
    ]  # fmt: skip
    assert sensors and sensors[0]["options"] == [s.value for s in BotState]
