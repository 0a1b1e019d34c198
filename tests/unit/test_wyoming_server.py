"""Sans-I/O parts of the Wyoming server: framing, the connection state machine,
audio conversion, service checks. No sockets, no models."""

from __future__ import annotations

import io

import numpy as np
import pytest
from wyoming.event import Event, read_event

from rtvi_edge.errors import ConfigError, ProtocolError
from rtvi_edge.wyoming_server.audio_in import PcmFormat, ToMono16k
from rtvi_edge.wyoming_server.codec import FrameDecoder, Limits, WyomingProtocolError, encode_event
from rtvi_edge.wyoming_server.lifecycle import announce_on, check_services
from rtvi_edge.wyoming_server.protocol import MAX_ERRORS, ConnectionState, Phase, Reject, Step

ALL = frozenset({"asr", "tts", "wake", "handle"})


# -- framing ------------------------------------------------------------------------
def test_encoded_events_are_read_by_the_wyoming_package() -> None:
    event = Event("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, b"\x01\x02" * 10)
    parsed = read_event(io.BytesIO(encode_event(event)))
    assert parsed is not None
    assert (parsed.type, parsed.data["rate"], parsed.payload) == (
        "audio-chunk",
        16000,
        event.payload,
    )


def test_decoder_takes_frames_split_anywhere_and_merges_data() -> None:
    wire = encode_event(Event("synthesize", {"text": "héllo"})) + encode_event(
        Event("audio-chunk", {"rate": 8000}, b"abcd")
    )
    decoder = FrameDecoder()
    events = []
    for byte in wire:
        decoder.feed(bytes([byte]))
        while (event := decoder.next_event()) is not None:
            events.append(event)
    assert [(e.type, e.data, e.payload) for e in events] == [
        ("synthesize", {"text": "héllo"}, None),
        ("audio-chunk", {"rate": 8000}, b"abcd"),
    ]


def test_bad_json_is_skipped_and_reading_goes_on() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\xff\xfe garbage\n" + encode_event(Event("describe")))
    with pytest.raises(WyomingProtocolError) as err:
        decoder.next_event()
    assert (err.value.code, err.value.fatal) == ("bad-json", False)
    event = decoder.next_event()
    assert event is not None and event.type == "describe"


@pytest.mark.parametrize(
    ("wire", "code", "fatal"),
    [
        (b'{"type": "audio-chunk", "payload_length": 99999999}\n', "too-large", True),
        (b'{"type": "x", "data_length": -1}\n', "bad-length", True),
        (b'{"type": "x", "data_length": "ten"}\n', "bad-length", True),
        (b'{"data": {}}\n', "bad-header", False),
        (b'["describe"]\n', "bad-json", False),
        (b'{"type": "x", "data": [1]}\n', "bad-header", False),
        (b"x" * 200, "header-too-long", True),
    ],
)
def test_malformed_frames_are_named(wire: bytes, code: str, fatal: bool) -> None:
    decoder = FrameDecoder(Limits(max_header_bytes=100, max_payload_bytes=1000))
    decoder.feed(wire)
    with pytest.raises(WyomingProtocolError) as err:
        decoder.next_event()
    assert (err.value.code, err.value.fatal) == (code, fatal)
    assert isinstance(err.value, ProtocolError)


def test_data_block_that_is_not_json_is_skipped_whole() -> None:
    decoder = FrameDecoder()
    decoder.feed(b'{"type": "synthesize", "data_length": 4}\nnope' + encode_event(Event("ping")))
    with pytest.raises(WyomingProtocolError):
        decoder.next_event()
    event = decoder.next_event()
    assert event is not None and event.type == "ping"


# -- connection state machine -------------------------------------------------------
def steps(state: ConnectionState, *types: str) -> list[str]:
    out = []
    for t in types:
        r = state.on_event(t)
        out.append(r.action if isinstance(r, Step) else f"reject:{r.code}")
    return out


def test_transcribe_then_audio() -> None:
    state = ConnectionState(ALL)
    assert steps(
        state, "transcribe", "audio-start", "audio-chunk", "audio-chunk", "audio-stop"
    ) == ["request", "audio-start", "audio-chunk", "audio-chunk", "audio-stop"]
    assert state.phase is Phase.IDLE


def test_audio_steps_say_what_the_audio_is_for() -> None:
    state = ConnectionState(ALL)
    state.on_event("detect")
    assert state.on_event("audio-start") == Step("audio-start", "detect")
    assert state.on_event("audio-chunk") == Step("audio-chunk", "detect")
    # Bare audio, as other Wyoming speech-to-text servers accept it: transcribed.
    state = ConnectionState(ALL)
    assert state.on_event("audio-start") == Step("audio-start", "transcribe")


def test_out_of_order_and_wrong_events_are_rejected_without_losing_the_state() -> None:
    state = ConnectionState(ALL)
    assert steps(state, "audio-chunk", "audio-stop", "synthesize-chunk", "detection") == [
        "reject:no-audio-start",
        "reject:no-audio-start",
        "reject:no-synthesize-start",
        "reject:wrong-direction",
    ]
    assert steps(state, "nonsense", "transcribe", "audio-start", "synthesize", "transcript") == [
        "reject:unknown-event",
        "request",
        "audio-start",
        "reject:busy",
        "reject:busy",
    ]
    assert state.phase is Phase.STREAMING
    assert state.errors == 7


def test_services_that_are_off_are_refused() -> None:
    state = ConnectionState(frozenset({"tts"}))
    result = state.on_event("transcribe")
    assert isinstance(result, Reject) and result.code == "service-off"
    assert "speech to text" in result.text
    assert isinstance(state.on_event("audio-start"), Reject)  # no asr: bare audio refused
    assert state.on_event("synthesize") == Step("synthesize")


def test_streamed_synthesis_ignores_the_repeated_whole_text() -> None:
    state = ConnectionState(ALL)
    assert steps(
        state,
        "synthesize-start",
        "synthesize-chunk",
        "synthesize",
        "synthesize-stop",
        "synthesize-stop",
    ) == [
        "synthesize-start",
        "synthesize-chunk",
        "drop",
        "synthesize-stop",
        "reject:no-synthesize-start",
    ]


def test_too_many_errors() -> None:
    state = ConnectionState(ALL)
    for _ in range(MAX_ERRORS):
        state.on_event("audio-chunk")
    assert state.too_many_errors


# -- audio conversion -------------------------------------------------------------
def test_16k_mono_passes_through() -> None:
    pcm = np.arange(-100, 100, dtype=np.int16).tobytes()
    assert ToMono16k(PcmFormat(16000, 2, 1)).convert(pcm) == pcm


def test_48k_stereo_24bit_becomes_16k_mono() -> None:
    rate = 48000
    t = np.arange(rate) / rate
    tone = (np.sin(2 * np.pi * 440 * t) * 0.5 * (1 << 23)).astype(np.int32)
    frames = np.stack([tone, tone], axis=1).reshape(-1)
    raw = np.frombuffer(frames.astype("<i4").tobytes(), dtype=np.uint8).reshape(-1, 4)[:, :3]
    pcm = raw.tobytes()
    conv = ToMono16k(PcmFormat(rate, 3, 2))
    # Odd chunk sizes: partial frames wait for the next chunk.
    out = b"".join(conv.convert(pcm[i : i + 1001]) for i in range(0, len(pcm), 1001))
    out += conv.convert(b"", last=True)
    samples = np.frombuffer(out, dtype=np.int16)
    assert abs(len(samples) - 16000) < 50
    peak = np.abs(samples[2000:-2000]).max()
    assert 15000 < peak < 17500  # half scale, resampled without clipping
    assert conv.seconds_in == pytest.approx(1.0)


def test_8bit_unsigned_silence_is_silence() -> None:
    out = ToMono16k(PcmFormat(16000, 1, 1)).convert(bytes([128]) * 160)
    assert np.frombuffer(out, dtype=np.int16).tolist() == [0] * 160


@pytest.mark.parametrize(
    "data",
    [
        {"rate": 16000, "width": 5, "channels": 1},
        {"rate": 100, "width": 2, "channels": 1},
        {"rate": 16000, "width": 2, "channels": 0},
        {"rate": "16000", "width": 2, "channels": 1},
        {"width": 2, "channels": 1},
    ],
)
def test_unusable_formats_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        PcmFormat.from_data(data)


# -- config -------------------------------------------------------------------
def test_services_are_checked() -> None:
    assert check_services(("asr", "tts")) == frozenset({"asr", "tts"})
    with pytest.raises(ConfigError, match="unknown service 'stt'"):
        check_services(("stt",))


def test_announcement_follows_the_served_address() -> None:
    assert announce_on("", "0.0.0.0") == ""
    assert announce_on("", "192.168.1.40") == "192.168.1.40"
    assert announce_on("", "my-box.local") == ""
    assert announce_on("127.0.0.1", "0.0.0.0") == "127.0.0.1"
