"""RTVI as each client generation expects it, message by message: 2.x (client-js 1.12+),
1.x (1.6+ speak 1.1; older 1.0) and 0.x. Byte-level through RtviProtocol."""

from __future__ import annotations

from typing import Any

import pytest

from rtvi_edge import events as ev
from rtvi_edge.rtvi import messages as m
from rtvi_edge.rtvi.protocol import RtviProtocol, negotiate
from tests.helpers import replies
from tests.helpers import rtvi_frame as msg

SID = "s"


def ready(version: str | None) -> RtviProtocol:
    p = RtviProtocol(1 << 20, about={"library": "rtvi-edge"})
    p.receive(msg("client-ready", {} if version is None else {"version": version}, "cr"))
    p.bot_ready("cr", [{"service": "tts", "options": []}])
    return p


def sent(p: RtviProtocol, *events: ev.Event) -> list[tuple[str, Any]]:
    p.take()
    for e in events:
        p.event(e)
    return [(r["type"], r.get("data")) for r in replies(p)]


def call(client_side: bool = True) -> ev.FunctionCallStarted:
    return ev.FunctionCallStarted(
        session_id=SID,
        function_name="get_weather",
        tool_call_id="call_1",
        arguments={"city": "Paris"},
        client_side=client_side,
    )


# -- version negotiation ------------------------------------------------------------
@pytest.mark.parametrize(
    ("declared", "answered", "config_in_bot_ready"),
    [
        ("2.1.0", "2.1.0", False),
        ("2.0.0", "2.1.0", False),  # pipecat: a 2.x client gets the server's version
        ("2.7.1", "2.1.0", False),
        ("1.4.0", "1.4.0", False),  # a 1.x client its own: it keeps its 1.x paths
        ("1.2.0", "1.2.0", False),
        ("1.0.0", "1.0.0", False),
        ("0.3.0", "0.3.0", True),
        (None, "0.3.0", True),  # 0.x clients sent no version
    ],
)
def test_bot_ready_answers_with_the_negotiated_version(
    declared: str | None, answered: str, config_in_bot_ready: bool
) -> None:
    p = ready(declared)
    [reply] = replies(p)  # no error-response for a good (or absent) version
    assert reply["type"] == "bot-ready" and reply["id"] == "cr"
    assert reply["data"]["version"] == answered
    assert reply["data"]["about"] == {"library": "rtvi-edge"}
    assert ("config" in reply["data"]) is config_in_bot_ready


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("9.0.0", "9.0.0 is not known here"),
        ("two", "unparseable protocol version 'two'"),
        ("2.1.0.4", "unparseable"),
        (2.1, "must be a string"),
        ({"major": 2}, "must be a string"),
    ],
)
def test_negotiate_reports_what_is_wrong_and_serves_the_current_version(
    raw: object, needle: str
) -> None:
    version, problem = negotiate(raw)
    assert version == m.parse_version(m.PROTOCOL_VERSION)
    assert problem is not None and needle in problem


def test_a_bad_version_gets_its_error_then_bot_ready() -> None:
    p = ready("banana")
    out = replies(p)
    assert [r["type"] for r in out] == ["error-response", "bot-ready"]
    assert all(r["id"] == "cr" for r in out)
    assert "banana" in out[0]["data"]["error"]
    assert out[1]["data"]["version"] == m.PROTOCOL_VERSION


def test_parse_version_forms() -> None:
    assert m.parse_version("2.1.0") == (2, 1, 0)
    assert m.parse_version("1.1") == (1, 1, 0)
    assert m.parse_version("1.1.0-beta.1") == (1, 1, 0)
    assert m.format_version((0, 3, 0)) == "0.3.0"


# -- function calls: exactly one message a client runs its handler on ------------------------
@pytest.mark.parametrize(
    ("version", "handler_message", "key"),
    [
        ("2.1.0", "llm-function-call-in-progress", "arguments"),
        ("1.4.0", "llm-function-call-in-progress", "arguments"),
        ("1.2.0", "llm-function-call-in-progress", "arguments"),  # client-js 1.6
        ("1.0.0", "llm-function-call", "args"),
        (None, "llm-function-call", "args"),
    ],
)
def test_a_client_function_call_is_sent_once(
    version: str | None, handler_message: str, key: str
) -> None:
    out = sent(ready(version), call())
    assert out == [
        ("llm-function-call-started", {"function_name": "get_weather"}),
        (
            handler_message,
            {"function_name": "get_weather", "tool_call_id": "call_1", key: {"city": "Paris"}},
        ),
    ]


def test_a_device_function_call_has_no_handler_message() -> None:
    out = sent(ready("2.1.0"), call(client_side=False))
    assert [t for t, _ in out] == ["llm-function-call-started"]


def test_function_call_stopped_with_its_result_once() -> None:
    p = ready("2.1.0")
    stopped = ev.FunctionCallStopped(
        session_id=SID,
        function_name="get_weather",
        tool_call_id="call_1",
        result={"t": 21},
        cancelled=False,
    )
    out = sent(p, call(), stopped, stopped)
    assert out[-1] == (
        "llm-function-call-stopped",
        {
            "function_name": "get_weather",
            "tool_call_id": "call_1",
            "cancelled": False,
            "result": {"t": 21},
        },
    )
    assert [t for t, _ in out].count("llm-function-call-stopped") == 1
    assert p.outbound.was_stopped("call_1") and not p.outbound.was_stopped("call_2")


# -- bot output --------------------------------------------------------------------------
def turn(*texts: str) -> list[ev.Event]:
    """The events of one spoken answer, as bot_turn publishes them."""
    out: list[ev.Event] = [ev.BotStartedSpeaking(session_id=SID)]
    for text in texts:
        out.append(ev.BotOutput(session_id=SID, text=text, spoken=False))
        words = text.split()
        out.append(
            ev.BotSpeechProgress(
                session_id=SID,
                text=text,
                accumulated_text=words[0],
                remaining_text=" ".join(words[1:]),
            )
        )
        out.append(ev.BotOutput(session_id=SID, text=text, spoken=True))
    out.append(ev.BotStoppedSpeaking(session_id=SID))
    return out


def test_v2_bot_output_is_one_segment_per_sentence_new_in_progress_completed() -> None:
    out = sent(ready("2.1.0"), *turn("Paris is sunny.", "It is warm today."))
    outputs = [d for t, d in out if t == "bot-output"]
    assert [(d["segment_id"], d["spoken_status"]) for d in outputs] == [
        (1, "new"),
        (1, "in-progress"),
        (1, "completed"),
        (2, "new"),
        (2, "in-progress"),
        (2, "completed"),
    ]
    assert outputs[0] == {
        "text": "Paris is sunny.",
        "segment_id": 1,
        "will_be_spoken": True,
        "spoken_status": "new",
        "spoken": False,
        "spoken_progress": {"accumulated_text": "", "remaining_text": "Paris is sunny."},
        "output_type": "sentence",
        "text_type": "sentence",
        "aggregated_by": "sentence",
    }
    assert outputs[1]["spoken_progress"] == {
        "accumulated_text": "Paris",
        "remaining_text": "is sunny.",
    }
    assert outputs[2]["spoken"] is True and outputs[2]["spoken_progress"] == {
        "accumulated_text": "Paris is sunny.",
        "remaining_text": "",
    }
    assert "bot-transcription" not in [t for t, _ in out]  # deprecated: not for 2.x


def test_v2_text_only_output_is_new_and_never_spoken() -> None:
    out = sent(
        ready("2.1.0"),
        ev.BotOutput(session_id=SID, text="Four.", spoken=False, will_be_spoken=False),
    )
    assert out == [
        (
            "bot-output",
            {
                "text": "Four.",
                "segment_id": 1,
                "will_be_spoken": False,
                "spoken_status": "new",
                "spoken": False,
                "output_type": "sentence",
                "text_type": "sentence",
                "aggregated_by": "sentence",
            },
        )
    ]


def test_v1_bot_output_keeps_the_1x_shape() -> None:
    out = sent(ready("1.4.0"), *turn("Paris is sunny."))
    assert out == [
        ("bot-started-speaking", None),
        ("bot-output", {"text": "Paris is sunny.", "spoken": False, "aggregated_by": "sentence"}),
        ("bot-transcription", {"text": "Paris is sunny."}),
        ("bot-output", {"text": "Paris is sunny.", "spoken": True, "aggregated_by": "sentence"}),
        ("bot-stopped-speaking", None),
    ]


@pytest.mark.parametrize("version", ["1.0.0", None])
def test_clients_before_1_1_get_bot_transcription_only(version: str | None) -> None:
    out = sent(ready(version), *turn("Paris is sunny."))
    assert [t for t, _ in out] == [
        "bot-started-speaking",
        "bot-transcription",
        "bot-stopped-speaking",
    ]


# -- interruption ------------------------------------------------------------------------
def test_interruption_order_and_what_it_stopped() -> None:
    p = ready("2.1.0")
    sent(
        p,
        ev.BotLlmStarted(session_id=SID),
        ev.BotTtsStarted(session_id=SID),
        call(),
        ev.BotStartedSpeaking(session_id=SID),
        ev.BotOutput(session_id=SID, text="Once upon a time.", spoken=False),
    )
    out = sent(
        p,
        ev.BotInterrupted(session_id=SID, spoken_text="Once"),
        ev.BotStoppedSpeaking(session_id=SID),
        # stragglers of the cut-off turn: nothing is reported twice
        ev.BotLlmStopped(session_id=SID),
        ev.BotOutput(session_id=SID, text="Once upon a time.", spoken=True),
        ev.FunctionCallStopped(
            session_id=SID,
            function_name="get_weather",
            tool_call_id="call_1",
            result=None,
            cancelled=True,
        ),
    )
    assert out == [
        ("bot-interrupted", None),
        (
            "llm-function-call-stopped",
            {"function_name": "get_weather", "tool_call_id": "call_1", "cancelled": True},
        ),
        ("bot-llm-stopped", None),
        ("bot-tts-stopped", None),
        ("bot-stopped-speaking", None),
    ]
    assert p.outbound.was_stopped("call_1")


def test_an_uninterrupted_turn_stops_each_stage_once() -> None:
    out = sent(
        ready("2.1.0"),
        ev.BotLlmStarted(session_id=SID),
        ev.BotLlmStopped(session_id=SID),
        ev.BotTtsStarted(session_id=SID),
        ev.BotTtsStopped(session_id=SID),
        ev.BotInterrupted(session_id=SID, spoken_text=""),
    )
    assert [t for t, _ in out] == [
        "bot-llm-started",
        "bot-llm-stopped",
        "bot-tts-started",
        "bot-tts-stopped",
        "bot-interrupted",
    ]


# -- the rest of the server → client messages ---------------------------------------------
def test_metrics_tokens_are_flat_as_pipecat_sends_them() -> None:
    [(mtype, data)] = sent(
        ready("2.1.0"),
        ev.TurnMetrics(
            session_id=SID, llm_model="smol", prompt_tokens=30, completion_tokens=12, characters=5
        ),
    )
    assert mtype == "metrics"
    assert data["tokens"] == [{"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}]
    assert data["characters"] == [{"processor": "tts", "model": "", "value": 5}]


def test_final_user_text_is_also_user_llm_text() -> None:
    out = sent(
        ready("2.1.0"),
        ev.UserTranscription(session_id=SID, text="hel", final=False, timestamp="t"),
        ev.UserTranscription(session_id=SID, text="hello", final=True, timestamp="t"),
    )
    assert [t for t, _ in out] == ["user-transcription", "user-transcription", "user-llm-text"]
    assert out[2][1] == {"text": "hello"}


def test_user_mute_started_and_stopped() -> None:
    out = sent(
        ready("2.1.0"),
        ev.UserMuted(session_id=SID, muted=True, reason="half-duplex"),
        ev.UserMuted(session_id=SID, muted=False, reason="half-duplex"),
    )
    assert out == [("user-mute-started", None), ("user-mute-stopped", None)]


def test_device_happenings_are_server_messages() -> None:
    out = sent(
        ready("2.1.0"),
        ev.TimerEvent(
            session_id=SID, timer_id="t1", label="tea", action="fired", seconds=60.0, due=1.5
        ),
        ev.WakeDetected(session_id=SID, source="wake_word", name="hey_jarvis"),
        ev.StateChanged(session_id=SID, state="muted"),
        ev.ConfigChanged(session_id=SID, config=[{"service": "tts", "options": []}]),
    )
    assert out == [
        (
            "server-message",
            {
                "type": "timer",
                "action": "fired",
                "timer_id": "t1",
                "label": "tea",
                "seconds": 60.0,
                "due": 1.5,
            },
        ),
        ("server-message", {"type": "wake", "source": "wake_word", "name": "hey_jarvis"}),
        ("server-message", {"type": "state", "state": "muted"}),
        ("server-message", {"type": "config", "config": [{"service": "tts", "options": []}]}),
    ]


def test_client_input_events_are_not_echoed_to_the_client() -> None:
    assert sent(ready("2.1.0"), ev.ClientInput(session_id=SID, kind="dtmf", name="1")) == []


def test_sentences_known_before_speech_go_out_once_it_starts_and_not_if_cut_off() -> None:
    p = ready("1.1.0")
    early = [
        ev.BotOutput(session_id=SID, text="One.", spoken=False),
        ev.BotOutput(session_id=SID, text="Two.", spoken=False),
    ]
    assert sent(p, *early) == []  # held: pipecat sends text once its speech has started
    out = sent(
        p,
        ev.BotStartedSpeaking(session_id=SID),
        ev.BotOutput(session_id=SID, text="One.", spoken=True),
        ev.BotOutput(session_id=SID, text="Two.", spoken=True),
        ev.BotStoppedSpeaking(session_id=SID),
    )
    assert [
        (t, d and d.get("spoken"), d and d["text"]) for t, d in out if t != "bot-transcription"
    ] == [
        ("bot-started-speaking", None, None),
        ("bot-output", False, "One."),
        ("bot-output", False, "Two."),
        ("bot-output", True, "One."),
        ("bot-output", True, "Two."),
        ("bot-stopped-speaking", None, None),
    ]
    # An answer cut off before its speech started leaves nothing behind.
    sent(p, ev.BotOutput(session_id=SID, text="Three.", spoken=False))
    out = sent(
        p,
        ev.BotInterrupted(session_id=SID, spoken_text=""),
        ev.BotStartedSpeaking(session_id=SID),
    )
    assert [t for t, _ in out] == ["bot-interrupted", "bot-started-speaking"]
