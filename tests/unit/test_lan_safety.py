"""Issue 18, the sans-I/O parts: text limits, the pairing policy, admission, timer owners,
a tool's summary over its JSON, quiet sound probing, teardown of a failed turn."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtvi_edge import events as ev
from rtvi_edge import text_limits
from rtvi_edge.mqtt import commands as cmd
from rtvi_edge.rtvi.admission import Slots
from rtvi_edge.rtvi.messages import MessageError, parse_message
from rtvi_edge.rtvi.protocol import RtviProtocol
from rtvi_edge.rtvi.security import Access, Caller, Policy, load_or_create_token
from rtvi_edge.tools import router
from rtvi_edge.tools.policy import fixed_reply
from rtvi_edge.tools.registry import Tool
from rtvi_edge.tools.timers import DEVICE_OWNER, MAX_PER_OWNER, TimerService

# -- clean text (defects 3, 4) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"text": "hello \\ud800"}', "lone UTF-16 surrogate"),
        ('{"\\udfff": 1}', "lone UTF-16 surrogate"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 32"),
        ('{"id": ' + "9" * 5000 + "}", "longer than 64 digits"),
        ("{oops", "not valid JSON"),
    ],
)
def test_untrusted_json_fails_with_one_clear_error(text: str, needle: str) -> None:
    with pytest.raises(text_limits.InputError, match=needle):
        text_limits.loads(text)


def test_untrusted_json_keeps_what_is_fine() -> None:
    assert text_limits.loads('{"a": ["[[{", 1.5, -12, "\\u00e9\\ud83d\\ude00"]}') == {
        "a": ["[[{", 1.5, -12, "é😀"]
    }
    assert text_limits.clean_text("a\ud800b") == "a\ufffdb"
    assert text_limits.dumps_clean({"x": "\udc00"}).encode("utf-8")  # never raises


@pytest.mark.parametrize(
    "text",
    [
        '{"label":"rtvi-ai","type":"send-text","id":"a\\ud800","data":{"content":"x"}}',
        '{"label":"rtvi-ai","type":"send-text","id":"1","data":{"content":"hi \\udfff"}}',
        "[" * 50_000 + "]" * 50_000,
        '{"label":"rtvi-ai","type":"get-config","id":' + "1" * 4400 + "}",
    ],
)
def test_rtvi_answers_bad_text_with_an_error_response(text: str) -> None:
    with pytest.raises(MessageError):
        parse_message(text)
    proto = RtviProtocol(1 << 20)
    assert proto.receive(text) == []
    (reply,) = proto.take()
    assert b"error-response" in reply and proto.state == "connected"


def test_mqtt_commands_refuse_bad_text_as_payload_errors() -> None:
    for kind, payload in [
        ("ask", b'{"text":"hello \\ud800"}'),
        ("say", b"caf\xed\xa0\x80"),  # a surrogate encoded as UTF-8: not UTF-8 at all
        ("action", b"[" * 10_000),
        ("config/set", b'{"config": ' + b"9" * 5000 + b"}"),
        ("volume/set", b"9" * 5000),
    ]:
        with pytest.raises(cmd.PayloadError):
            cmd.parse_command(kind, payload)  # type: ignore[arg-type]


# -- pairing and origins (defect 1) --------------------------------------------------------


def test_token_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = load_or_create_token(tmp_path)
    assert len(first) >= 20 and load_or_create_token(tmp_path) == first
    mode = stat.S_IMODE(os.stat(tmp_path / "pairing-token").st_mode)
    assert mode == 0o600
    assert load_or_create_token(tmp_path, new=True) != first


def test_policy_pairs_only_the_token_or_the_device_itself() -> None:
    p = Policy("tok", ("http://phone.local",))
    lan = "192.168.1.20"

    def decide(remote: str, host: str, origin: str | None, token: str | None = None) -> Access:
        return p.decide(Caller(remote, host, origin, token))

    assert decide(lan, "pi.lan:7860", None) is Access.GUEST
    assert decide(lan, "pi.lan:7860", "http://pi.lan:7860") is Access.GUEST  # the served page
    assert decide(lan, "pi.lan:7860", "http://evil.example") is Access.FORBIDDEN_ORIGIN
    assert decide(lan, "pi.lan:7860", "http://evil.example", "tok") is Access.PAIRED
    assert decide(lan, "pi.lan:7860", None, "nope") is Access.WRONG_TOKEN
    assert decide(lan, "pi.lan:7860", "http://phone.local") is Access.GUEST
    assert decide("127.0.0.1", "127.0.0.1:7860", None) is Access.PAIRED
    assert decide("127.0.0.1", "localhost:7860", "http://localhost:7860") is Access.PAIRED
    # DNS rebinding: a loopback peer, but a foreign Host is not the device itself
    assert decide("127.0.0.1", "evil.example:7860", "http://evil.example:7860") is Access.GUEST
    assert not p.origin_configured("http://evil.example") and p.origin_configured(
        "http://phone.local/"
    )
    assert Policy("tok", (), open_device=True).decide(Caller(lan, "x", None, None)) is (
        Access.PAIRED
    )
    assert Policy("tok", (), trust_loopback=False).decide(
        Caller("127.0.0.1", "127.0.0.1:1", None, None)
    ) is (Access.GUEST)


# -- admission (defects 2, 8) ----------------------------------------------------------------


def test_slots_count_ready_sessions_only() -> None:
    slots = Slots(max_sessions=2, max_waiting=3)
    for sid in ("a", "b", "c"):
        assert slots.refuse_connect() is None
        slots.connected(sid)
    assert slots.refuse_connect() is not None  # 3 silent sockets: wait your turn
    slots.closed("c")  # its ready deadline passed
    assert slots.make_ready("a") is None and slots.make_ready("b") is None
    assert "already serves 2" in (slots.refuse_connect() or "")
    slots.connected("d")
    assert slots.make_ready("d") is not None  # raced in: refused at client-ready
    slots.closed("a")
    assert slots.refuse_connect() is None


# (the connection guard's cap and reaper: tests/unit/test_hostile_peer.py)


# -- timers (defect 6) --------------------------------------------------------------------------


async def test_timers_belong_to_their_owner(tmp_path: Path) -> None:
    svc = TimerService(tmp_path, ev.EventBus(), lambda t: None)
    svc.start()
    svc.bind("rtvi-x-1", "client:alice")
    svc.bind("rtvi-x-2", "client:bob")
    svc.add(600, "tea", "rtvi-x-1")
    assert svc.cancel("client:bob") == []  # bob cannot cancel alice's timer
    assert [t.label for t in svc.pending("client:alice")] == ["tea"]
    assert svc.pending("client:bob") == []
    for i in range(MAX_PER_OWNER):
        svc.add(600 + i, "", "rtvi-x-2")
    with pytest.raises(ValueError, match="already have"):
        svc.add(60, "", "rtvi-x-2")
    svc.add(60, "", "rtvi-x-1")  # bob's limit is his own
    assert svc.owner_of("rtvi-x-9") == "session:rtvi-x-9"  # no client id: this run only
    svc.add(30, '{"function_call": 1}', "rtvi-x-1")
    assert all("{" not in t.label for t in svc.pending())
    svc.close()


async def test_timers_saved_before_owners_belong_to_the_device(tmp_path: Path) -> None:
    old = [
        {"id": "1", "label": "oven", "seconds": 60, "due": time.time() + 60, "session_id": "rtvi-1"}
    ]
    (tmp_path / "timers.json").write_text(json.dumps(old))
    svc = TimerService(tmp_path, ev.EventBus(), lambda t: None)
    svc.start()
    (timer,) = svc.pending()
    assert timer.owner == DEVICE_OWNER
    svc.close()


def test_a_tool_summary_is_said_as_it_is_and_json_never() -> None:
    list_timers = Tool("list_timers", "Say which timers run", reply="{summary}")
    said = fixed_reply(list_timers, {"timers": [], "summary": "tea timer: 5 minutes left"})
    assert said == "tea timer: 5 minutes left"
    assert fixed_reply(list_timers, {"timers": []}) is None  # no summary: the model answers
    assert router.looks_like_json(' {"function_call": ') and not router.looks_like_json("Yes.")


# -- quiet sound probing (defect 7) ---------------------------------------------------------------


def test_probing_without_a_sound_card_prints_nothing_native() -> None:
    pytest.importorskip("pyaudio")
    code = (
        "from rtvi_edge.audio.pyaudio_io import open_pyaudio\n"
        "from rtvi_edge.config import AudioConfig\n"
        "try:\n    open_pyaudio(AudioConfig(input_device='no-such-mic'))\n"
        "except Exception as exc:\n    print('refused:', exc)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "refused:" in run.stdout, run.stdout + run.stderr
    if "sees no sound devices" not in run.stdout and "no input device" not in run.stdout:
        pytest.skip(f"this machine has a sound card: {run.stdout}")
    assert run.stderr.strip() == "", run.stderr[:2000]  # before: ~65 ALSA/JACK lines


# -- exception-safe teardown (defect 5) ------------------------------------------------------------


class _FakeWs:
    def __init__(self) -> None:
        self.closed = False
        self._never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def __aiter__(self) -> _FakeWs:
        return self

    async def __anext__(self) -> None:
        await self._never  # a client that says nothing
        raise StopAsyncIteration

    async def send_bytes(self, data: bytes) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


class _FailingConversation:
    closed = False

    async def close(self) -> None:
        raise RuntimeError("the turn failed while closing")


async def test_session_teardown_survives_a_failing_conversation_close() -> None:
    from rtvi_edge.rtvi.session import RtviSession
    from rtvi_edge.rtvi.websocket import WebSocketLink, WebSocketSink

    ws = _FakeWs()
    session = RtviSession(
        "s1",
        WebSocketLink(ws),  # type: ignore[arg-type]
        lambda s: _FailingConversation(),  # type: ignore[arg-type,return-value]
        lambda c, d: object(),  # type: ignore[arg-type,return-value]
        ev.EventBus(),
        RtviProtocol(1 << 20),
        lambda s: WebSocketSink(s, 24000),
    )
    before = asyncio.all_tasks()
    run = asyncio.create_task(session.run())
    await asyncio.sleep(0.05)
    await session.close()
    await asyncio.wait_for(run, 5)  # before: the RuntimeError escaped, tasks and socket left
    assert ws.closed
    left = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
    assert all(t.done() for t in left), left


class _LockedLlm:
    """Streams words while holding its lock, as llama.cpp's engine does."""

    model_name = "fake"

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()

    def stream_chat(self, messages: Any, params: Any, cancel: Any, stats: Any) -> Iterator[str]:
        with self.lock:
            for _ in range(200):
                if cancel.is_set():
                    return
                yield "word and more words. "

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class _BrokenTts:
    """Says the first clause (slowly, so the text queue fills), then fails."""

    sample_rate = 16000

    def __init__(self) -> None:
        self.calls = 0

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("the voice failed")
        time.sleep(0.3)
        yield b"\0\0" * 160


class _NullSink:
    sample_rate = 16000

    async def play(self, pcm: bytes) -> None:
        pass

    def buffered(self) -> float:
        return 0.0

    async def discard(self) -> None:
        pass


async def test_a_failed_turn_lets_go_of_the_llm() -> None:
    """The soak's stall: TTS failed, the LLM thread stayed paused holding the engine lock."""
    from rtvi_edge.pipeline.bot_turn import BotTurn, TurnSpec

    llm = _LockedLlm()
    turn = BotTurn(
        TurnSpec("s1", [{"role": "user", "content": "hi"}]),
        llm,  # type: ignore[arg-type]
        _BrokenTts(),  # type: ignore[arg-type]
        _NullSink(),
        lambda e: None,
    )
    with pytest.raises(RuntimeError, match="voice failed"):
        await asyncio.wait_for(turn.start(), 10)
    free = await asyncio.to_thread(llm.lock.acquire, True, 5)
    assert free, "the LLM is still held: every other session would wait forever"
    llm.lock.release()


async def test_a_paused_producer_never_waits_forever() -> None:
    """The soak's stall: the LLM paused on `go` holding its lock, and the synthesis that
    would set `go` waited for a worker thread held by LLM calls waiting on that lock."""
    import threading

    from rtvi_edge.engines.threads import iterate_in_thread

    go = threading.Event()  # cleared, and nobody will set it
    items = [i async for i in iterate_in_thread(lambda: iter(range(5)), None, go, 0.1)]
    assert items == [0, 1, 2, 3, 4]


def test_a_run_on_answer_is_cut_into_bounded_pieces() -> None:
    """The soak's +880 MiB step: one unpunctuated 160-token answer went to Piper whole."""
    from rtvi_edge.pipeline.chunker import TextChunker

    chunker = TextChunker()
    words = " ".join(f"word{i}" for i in range(200))
    pieces = chunker.push(words + " ") + chunker.flush()
    assert " ".join(pieces) == words
    assert max(len(p.split()) for p in pieces) <= 25
