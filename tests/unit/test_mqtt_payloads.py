"""Events → MQTT messages, the outbox, system metrics: without a broker."""

from __future__ import annotations

import json

from rtvi_edge import events as ev
from rtvi_edge.mqtt import payloads as p
from rtvi_edge.mqtt.outbox import Outbox
from rtvi_edge.mqtt.system import SystemSampler, read_temperature
from rtvi_edge.mqtt.topics import Topics

T = Topics.for_device("kitchen")
B = "rtvi-edge/kitchen"


def body(message: p.Publish) -> object:
    return json.loads(message.payload)


def test_state_and_config_of_the_local_conversation_are_retained() -> None:
    m = p.EventMapper(T)
    assert m.map(ev.StateChanged(session_id="local", state="speaking")) == [
        p.Publish(f"{B}/state", '{"state":"speaking"}', retain=True, qos=0)
    ]
    assert m.map(ev.StateChanged(session_id="rtvi-1", state="speaking")) == []
    cfg = [{"service": "tts", "options": [{"name": "speed", "value": 1.0}]}]
    [msg] = m.map(ev.ConfigChanged(session_id="local", config=cfg))
    assert msg.topic == f"{B}/config" and msg.retain and body(msg) == cfg
    assert m.map(ev.ConfigChanged(session_id="rtvi-1", config=cfg)) == []


def test_final_transcripts_only_and_the_last_one_retained() -> None:
    m = p.EventMapper(T)
    assert m.map(ev.UserTranscription(session_id="local", text="wha", final=False)) == []
    event, last = m.map(ev.UserTranscription(session_id="local", text="what time", final=True))
    # events at QoS 1 (kept by paho over a reconnect); retained values at QoS 0, since
    # every reconnect publishes the latest again
    assert (event.topic, event.retain, event.qos) == (f"{B}/event/user_transcript", False, 1)
    assert last.qos == 0
    assert (last.topic, last.retain) == (f"{B}/last_transcript", True)
    assert body(event) == body(last) == {"session": "local", "text": "what time"}
    # another session's transcript is an event, not the device's last transcript
    [only] = m.map(ev.UserTranscription(session_id="rtvi-1", text="hi", final=True))
    assert only.topic == f"{B}/event/user_transcript"


def test_the_answer_is_sent_whole_when_the_turn_ends() -> None:
    m = p.EventMapper(T)
    m.map(ev.UserTranscription(session_id="local", text="hi", final=True))
    assert m.map(ev.BotOutput(session_id="local", text="Hello.", spoken=False)) == []
    assert m.map(ev.BotOutput(session_id="local", text="Hello.", spoken=True)) == []
    m.map(ev.BotOutput(session_id="local", text="Bye.", spoken=False))
    answer, last, metrics = m.map(
        ev.TurnMetrics(session_id="local", voice_to_voice=0.5123, stt=0.2, llm_model="m")
    )
    assert answer.topic == f"{B}/event/bot_answer" and not answer.retain
    assert last.topic == f"{B}/last_answer" and last.retain
    assert body(answer) == {"session": "local", "text": "Hello. Bye."}
    assert metrics.topic == f"{B}/metrics" and metrics.retain
    data = body(metrics)
    assert isinstance(data, dict)
    assert data["voice_to_voice_ms"] == 512 and data["stt_ms"] == 200
    assert data["llm_first_token_ms"] is None and data["llm_model"] == "m"
    # a turn without an answer has metrics only
    assert [x.topic for x in m.map(ev.TurnMetrics(session_id="local"))] == [f"{B}/metrics"]


def test_an_interrupted_answer_is_not_reported_as_the_answer() -> None:
    m = p.EventMapper(T)
    m.map(ev.BotOutput(session_id="local", text="A long story", spoken=False))
    [msg] = m.map(ev.BotInterrupted(session_id="local", spoken_text="A long"))
    assert msg.topic == f"{B}/event/interrupted"
    assert body(msg) == {"session": "local", "spoken_text": "A long"}
    assert [x.topic for x in m.map(ev.TurnMetrics(session_id="local"))] == [f"{B}/metrics"]


def test_timer_wake_and_error_events() -> None:
    m = p.EventMapper(T)
    [timer] = m.map(
        ev.TimerEvent(
            session_id="local", timer_id="t1", label="tea", action="fired", seconds=60, due=1.5
        )
    )
    assert timer.topic == f"{B}/event/timer" and not timer.retain
    assert body(timer) == {
        "session": "local",
        "id": "t1",
        "label": "tea",
        "action": "fired",
        "seconds": 60,
        "due": 1.5,
    }
    [wake] = m.map(ev.WakeDetected(session_id="local", source="wake_word", name="okay_nabu"))
    assert body(wake) == {"session": "local", "source": "wake_word", "name": "okay_nabu"}
    [err] = m.map(ev.ErrorEvent(session_id="local", message="boom"))
    assert err.topic == f"{B}/event/error"
    assert body(err) == {"session": "local", "fatal": False, "error": "boom"}
    assert m.map(ev.UserStartedSpeaking(session_id="local")) == []


def test_snapshots() -> None:
    assert p.availability(T, online=True) == p.retained(f"{B}/availability", "online")
    assert p.mute(T, True).payload == "ON" and p.mute(T, False).payload == "OFF"
    assert [p.volume(T, g).payload for g in (0.0, 0.404, 1.0, 1.7, -1)] == [
        "0",
        "40",
        "100",
        "100",
        "0",
    ]
    assert all(
        x.retain and x.qos == 0 for x in (p.mute(T, True), p.volume(T, 1), p.state(T, "idle"))
    )


# -- outbox -----------------------------------------------------------------------------
def test_outbox_keeps_the_latest_retained_value_and_sends_it_again_after_reconnect() -> None:
    box = Outbox(max_events=8)
    box.put(p.Publish("a", "1", retain=True))
    box.put(p.Publish("b", "1", retain=True))
    box.put(p.Publish("a", "2", retain=True))
    assert [(m.topic, m.payload) for m in box.take(10)] == [("a", "2"), ("b", "1")]
    box.put(p.Publish("a", "2", retain=True))  # unchanged: nothing to send
    assert box.take(10) == []
    box.put(p.Publish("a", "2", retain=True), force=True)
    assert [m.topic for m in box.take(10)] == ["a"]
    box.reconnected()
    assert [(m.topic, m.payload) for m in box.take(0)] == [("a", "2"), ("b", "1")]


def test_outbox_events_are_bounded_oldest_dropped_and_counted() -> None:
    box = Outbox(max_events=3)
    for i in range(5):
        box.put(p.Publish("e", str(i)))
    assert box.dropped == 2 and box.pending_events == 3
    assert [m.payload for m in box.take(2)] == ["2", "3"]  # at most `room` events
    box.put(p.Publish("r", "x", retain=True))
    assert [m.payload for m in box.take(0)] == ["x"]  # retained values are not windowed
    assert [m.payload for m in box.take(5)] == ["4"]
    box.reconnected()
    assert [m.topic for m in box.take(5)] == ["r"]  # events are not sent twice


# -- system metrics ---------------------------------------------------------------------
def test_system_sample() -> None:
    data = SystemSampler().sample()
    assert {"cpu_percent", "process_cpu_percent", "rss_mb", "memory_percent", "load_1m"} <= set(
        data
    )
    assert data["rss_mb"] > 1
    temperature = read_temperature()
    assert temperature is None or -40 < temperature < 150
    assert ("temperature_c" in data) == (temperature is not None)
