"""The RTVI protocol core, byte for byte, including bad input of every kind."""

import json

import pytest

from rtvi_edge import events as ev
from rtvi_edge.errors import ProtocolError
from rtvi_edge.rtvi import frames
from rtvi_edge.rtvi import messages as m
from rtvi_edge.rtvi.protocol import AudioIn, ProtocolState, RequestIn, RtviProtocol
from tests.helpers import replies
from tests.helpers import rtvi_frame as msg


def test_client_ready_then_bot_ready_echoes_id() -> None:
    p = RtviProtocol(1 << 20, about={"library": "rtvi-edge"})
    [req] = p.receive(msg("client-ready", {"version": "2.1.0", "about": {"library": "x"}}, "abc"))
    assert isinstance(req, RequestIn) and isinstance(req.message, m.ClientReady)
    p.bot_ready("abc", [])
    [ready] = replies(p)
    assert ready == {
        "label": "rtvi-ai",
        "type": "bot-ready",
        "id": "abc",
        "data": {"version": m.PROTOCOL_VERSION, "about": {"library": "rtvi-edge"}},
    }
    assert p.state == "ready"


def test_old_clients_get_config_in_bot_ready() -> None:
    p = RtviProtocol(1 << 20)
    p.receive(msg("client-ready", {}))
    p.bot_ready("1", [{"service": "tts", "options": []}])
    assert replies(p)[0]["data"]["config"] == [{"service": "tts", "options": []}]


@pytest.mark.parametrize("version", ["3.0.0", "banana", "2.x", 2, ""])
def test_a_bad_or_unknown_version_is_reported_and_still_gets_bot_ready(version: object) -> None:
    p = RtviProtocol(1 << 20)
    [req] = p.receive(msg("client-ready", {"version": version}, "cr"))
    [reply] = replies(p)
    assert reply["type"] == "error-response" and reply["id"] == "cr"
    assert repr(version)[:3].strip("'") in reply["data"]["error"]
    assert p.state is ProtocolState.READY
    assert isinstance(req, RequestIn)
    p.bot_ready("cr", [])
    [ready] = replies(p)
    assert ready["type"] == "bot-ready" and ready["data"]["version"] == m.PROTOCOL_VERSION


def test_audio_frames_pass_through() -> None:
    p = RtviProtocol(1 << 20)
    [item] = p.receive(frames.encode_audio(b"\x00\x01" * 256, 16000, 1))
    assert item == AudioIn(b"\x00\x01" * 256, 16000, 1)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (frames.encode_message("{not json"), "not valid JSON"),
        (frames.encode_message("[1,2]"), "JSON object"),
        (msg("client-ready", label="other"), "label"),
        (msg("teleport"), "unknown message type 'teleport'"),
        (msg("send-text", {"content": 5}), "'content' must be a string"),
        (msg("send-text", {}), "missing field 'content'"),
        (
            msg("send-text", {"content": "x", "options": {"run_immediately": "yes"}}),
            "'run_immediately' must be a boolean",
        ),
        (msg("update-config", {"config": "x"}), "'config' must be a list"),
        (msg("action", {"service": "tts"}), "missing field 'action'"),
        (msg("client-message", {"d": {}}), "missing field 't'"),
        (frames.encode_message('{"label":"rtvi-ai","type":"x","data":[1]}'), "must be an object"),
        (b"\xff\xff\xff", "malformed frame"),
        (frames.encode_audio(b"\x00" * 3, 16000), "odd number of bytes"),
        (b"\x0a\x04\x1a\x02hi", "'text' is not accepted"),
    ],
)
def test_bad_input_gets_error_response_and_connection_stays(data: bytes, needle: str) -> None:
    p = RtviProtocol(1 << 20)
    assert p.receive(data) == []
    [reply] = replies(p)
    assert reply["type"] == "error-response"
    assert needle in reply["data"]["error"]
    assert p.state != "closed"
    # still serving
    assert p.receive(msg("get-config"))[0] == RequestIn(m.GetConfig("1"))


def test_error_response_echoes_request_id() -> None:
    p = RtviProtocol(1 << 20)
    p.receive(msg("send-text", {"content": 1}, "req-9"))
    assert replies(p)[0]["id"] == "req-9"


def test_huge_payload_is_refused() -> None:
    p = RtviProtocol(1024)
    assert p.receive(msg("send-text", {"content": "x" * 5000})) == []
    assert "over the limit" in replies(p)[0]["data"]["error"]


def test_text_websocket_messages_are_accepted_as_json() -> None:
    p = RtviProtocol(1 << 20)
    [req] = p.receive(json.dumps({"label": "rtvi-ai", "type": "describe-config", "id": "7"}))
    assert req == RequestIn(m.DescribeConfig("7"))


def test_client_message_maps_to_service_request() -> None:
    p = RtviProtocol(1 << 20)
    [req] = p.receive(
        msg(
            "client-message",
            {
                "t": "action",
                "d": {
                    "service": "tts",
                    "action": "say",
                    "arguments": [{"name": "text", "value": "hi"}],
                },
            },
        )
    )
    assert isinstance(req, RequestIn) and isinstance(req.message, m.ClientMessage)
    assert m.service_request(req.message) == m.Action(
        "1", "tts", "say", [{"name": "text", "value": "hi"}]
    )


def test_events_become_rtvi_messages() -> None:
    p = RtviProtocol(1 << 20)
    p.receive(msg("client-ready", {"version": "2.1.0"}))
    p.take()
    sid = "s"
    for e in [
        ev.UserStartedSpeaking(session_id=sid),
        ev.UserTranscription(session_id=sid, text="hi", final=False, timestamp="t"),
        ev.BotLlmText(session_id=sid, text="Hel"),
        ev.BotStartedSpeaking(session_id=sid),
        ev.BotOutput(session_id=sid, text="Hello.", spoken=False),
        ev.BotInterrupted(session_id=sid, spoken_text="Hel"),
        ev.TurnMetrics(session_id=sid, llm_ttfb=0.1, voice_to_voice=0.5, llm_model="m"),
        ev.FunctionCallStarted(
            session_id=sid,
            function_name="f",
            tool_call_id="c",
            arguments={"a": 1},
            client_side=True,
        ),
        ev.StateChanged(session_id=sid, state="idle"),
    ]:
        p.event(e)
    out = replies(p)
    types = [r["type"] for r in out]
    assert types == [
        "user-started-speaking",
        "user-transcription",
        "bot-llm-text",
        "bot-started-speaking",
        "bot-output",
        "bot-interrupted",
        "metrics",
        "llm-function-call-started",
        "llm-function-call-in-progress",
        "server-message",
    ]
    assert out[1]["data"] == {"text": "hi", "final": False, "timestamp": "t", "user_id": ""}
    assert out[6]["data"]["ttfb"] == [{"processor": "llm", "model": "m", "value": 0.1}]
    assert out[8]["data"] == {"function_name": "f", "tool_call_id": "c", "arguments": {"a": 1}}
    assert out[9]["data"] == {"type": "state", "state": "idle"}


def test_protocol_state_moves_only_by_its_transitions() -> None:
    p = RtviProtocol(1 << 20)
    assert p.state is ProtocolState.CONNECTED
    p.receive(msg("client-ready", {"version": "2.1.0"}))
    assert p.state is ProtocolState.READY
    p.receive(msg("client-ready", {"version": "2.1.0"}))  # again: still ready
    assert p.state is ProtocolState.READY
    p.close()
    assert p.state is ProtocolState.CLOSED
    assert p.receive(msg("get-config")) == []  # closed: nothing more is read
    with pytest.raises(ProtocolError, match="cannot go from closed to ready"):
        p.advance(ProtocolState.READY)
