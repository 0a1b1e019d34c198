"""Issue 18 against the real daemon: a stranger on the LAN, silent sockets, bad text over
RTVI (the real client where it matters) and MQTT (a real broker), timers and their owners
across a restart, HTTP read timeouts and the connection cap."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from rtvi_edge import events as ev
from rtvi_edge.config import RtviConfig
from rtvi_edge.rtvi import frames
from rtvi_edge.rtvi.server import RtviServer
from tests.integration.daemon_harness import next_message, rtvi, running_daemon
from tests.integration.mqtt_watcher import js
from tests.integration.rtvi_client import run_client
from tests.integration.test_mqtt import BASE, setup

pytestmark = pytest.mark.integration

READY = {"version": "2.1.0", "about": {"library": "t"}}


async def ready_ws(
    http: aiohttp.ClientSession, port: int, query: str = "", about: dict[str, Any] | None = None
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws{query}")
    await ws.send_bytes(rtvi("client-ready", {**READY, "about": about or {}}, "r"))
    assert (await next_message(ws))["type"] == "bot-ready"
    return ws


async def until(
    ws: aiohttp.ClientWebSocketResponse, pred: Any, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = await next_message(ws, max(0.1, deadline - time.monotonic()))
        if pred(msg):
            return msg


def raw_frame(text: str) -> bytes:
    """A message frame with any text, lone surrogates kept (as a buggy client sends them)."""
    data = text.encode("utf-8", "surrogatepass")
    inner = b"\x0a" + bytes([len(data)]) + data
    return b"\x22" + bytes([len(inner)]) + inner


# -- 1: a stranger cannot change the device --------------------------------------------------
async def test_a_stranger_on_the_lan_cannot_change_the_device(tmp_path: Path) -> None:
    # trust_loopback off: this test's loopback client stands for a phone on the LAN
    async with (
        running_daemon(tmp_path, rtvi={"trust_loopback": False}) as daemon,
        aiohttp.ClientSession() as http,
    ):
        port = daemon.rtvi.port
        base = f"http://127.0.0.1:{port}"
        token = (tmp_path / "pairing-token").read_text().strip()
        assert len(token) >= 20  # made at first start, secure by default
        cfg = tmp_path / "cli.toml"
        cfg.write_text(f'[device]\nstate_dir = "{tmp_path}"\n')
        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "rtvi_edge", "--config", str(cfg), "token"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert cli.stdout.strip() == token

        evil = {"Origin": "http://evil.example"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{base}/ws", headers=evil)
        assert refused.value.status == 403
        start = await http.post(f"{base}/start", json={}, headers=evil)
        assert start.status == 403 and "Access-Control-Allow-Origin" not in start.headers
        pre = await http.options(f"{base}/start", headers=evil)
        assert "Access-Control-Allow-Origin" not in pre.headers  # no Origin is ever echoed

        guest = await ready_ws(http, port)
        change = [{"service": "vad", "options": [{"name": "engine", "value": "energy"}]}]
        await guest.send_bytes(rtvi("update-config", {"config": change}, "u1"))
        reply = await next_message(guest)
        assert reply["type"] == "error-response" and "pairing token" in reply["data"]["error"]
        say = {"service": "tts", "action": "say", "arguments": [{"name": "text", "value": "hi"}]}
        await guest.send_bytes(rtvi("action", say, "a1"))
        reply = await next_message(guest)
        assert reply["type"] == "error-response" and "pairing token" in reply["data"]["error"]
        assert daemon.config.vad.engine == "silero"
        assert not (tmp_path / "device-config.json").exists()
        await guest.close()

        paired = await ready_ws(http, port, f"?token={token}")
        errors = []
        for path in ("/etc/passwd", "/no/such/model.gguf"):
            item = [{"service": "llm", "options": [{"name": "model", "value": path}]}]
            await paired.send_bytes(rtvi("update-config", {"config": item}, "m"))
            reply = await next_message(paired, 120)
            assert reply["type"] == "error-response", reply
            errors.append(reply["data"]["error"])
        assert errors[0] == errors[1]  # no file-existence oracle
        await paired.close()

        page = await (await http.get(f"{base}/")).text()
        assert token not in page  # a LAN page must be paired by typing the token
        daemon.rtvi.policy.trust_loopback = True  # now: the browser on the device itself
        shown = await http.get(f"{base}/")
        assert token in await shown.text() and shown.headers["Cache-Control"] == "no-store"
        assert (await http.get(f"{base}/no/such/page")).status == 404


# -- 2, 3, 4: silent sockets, nothing before client-ready, bad text over RTVI ------------------
async def test_silent_sockets_do_not_lock_out_a_real_client(tmp_path: Path) -> None:
    rtvi_cfg = {"ready_timeout_secs": 15.0, "max_sessions": 2}
    async with (
        running_daemon(tmp_path, rtvi=rtvi_cfg) as daemon,
        aiohttp.ClientSession() as http,
    ):
        port = daemon.rtvi.port
        url = f"ws://127.0.0.1:{port}/ws"
        silent = [await http.ws_connect(f"http://127.0.0.1:{port}/ws") for _ in range(4)]
        await silent[0].send_bytes(rtvi("get-config", None, "early"))
        early = await next_message(silent[0])
        assert early["type"] == "error-response" and "client-ready first" in early["data"]["error"]

        real = await run_client({"wsUrl": url, "steps": [{"do": "connect"}]}, timeout=60)
        assert real.ok and real.of("botReady"), real.failure()

        # Bad text: each answered with an error-response, the session kept.
        ws = await ready_ws(http, port)
        bad = [
            raw_frame('{"label":"rtvi-ai","type":"get-config","id":"x\ud800"}'),
            rtvi("send-text", {"content": "hello \ud800"}, "s1"),
            frames.encode_message("[" * 50_000 + "]" * 50_000),
            frames.encode_message(
                '{"label":"rtvi-ai","type":"get-config","id":' + "7" * 5000 + "}"
            ),
        ]
        for data in bad:
            await ws.send_bytes(data)
            reply = await next_message(ws)
            assert reply["type"] == "error-response", reply
        await ws.send_bytes(rtvi("get-config", None, "still-here"))
        assert (await next_message(ws))["id"] == "still-here"

        # Full (2 ready sessions): the real client's connect() fails, before any upgrade.
        other = await ready_ws(http, port)
        full = await run_client({"wsUrl": url, "steps": [{"do": "connect"}]}, timeout=60)
        assert not full.ok and not full.of("botReady")
        (step,) = full.steps()
        assert not step["ok"] and "Failed to connect" in step["error"]  # connect() rejected
        assert len(daemon.rtvi.slots.ready) == 2

        # The silent sockets are closed at their deadline, with a reason.
        for sock in silent:
            reasons = []
            while True:
                msg = await sock.receive(timeout=30)
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                frame = frames.decode_frame(msg.data)
                if isinstance(frame, frames.MessageFrame):
                    reasons.append(json.loads(frame.data))
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert any("no client-ready" in str(r.get("data")) for r in reasons), reasons
        await ws.close()
        await other.close()


# -- 3, 4 over MQTT: answered, and the conversation is not poisoned ----------------------------
async def test_bad_text_over_mqtt_is_answered_and_does_not_poison(tmp_path: Path) -> None:
    async with setup(tmp_path) as (_daemon, _broker, w):
        await w.wait(f"{BASE}/availability", lambda p: p == "online")

        def asking(n: int) -> Properties:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = "test/reply"
            props.CorrelationData = str(n).encode()
            return props

        bad = [
            ("ask", '{"text":"hello \\ud800"}'),
            ("action", "[" * 100_000),
            ("config/set", '{"config": [' + "9" * 5000 + "]}"),
        ]
        for n, (kind, payload) in enumerate(bad):
            w.clear()
            await w.publish(f"{BASE}/{kind}", payload, asking(n))
            reply = js(await w.wait("test/reply"))
            assert "error" in reply, reply
            event = js(await w.wait(f"{BASE}/event/error"))
            assert event["command"] == kind
        w.clear()
        await w.publish(f"{BASE}/ask", "What is two plus two?", asking(9))
        reply = js(await w.wait("test/reply", timeout=180))
        assert "answer" in reply and "error" not in reply, reply


# -- 6: timers find their owner, also after a restart ----------------------------------------------
async def test_timers_belong_to_their_client_across_a_restart(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon, aiohttp.ClientSession() as http:
        port = daemon.rtvi.port
        alice = await ready_ws(http, port, about={"client_id": "alice"})
        bob = await ready_ws(http, port, "?client_id=bob")

        async def ask(ws: aiohttp.ClientWebSocketResponse, text: str) -> str:
            await ws.send_bytes(
                rtvi("send-text", {"content": text, "options": {"audio_response": False}})
            )
            said = [(await until(ws, lambda m: m["type"] == "bot-output"))["data"]["text"]]
            while True:  # the rest of the answer, chunk by chunk, until it goes quiet
                try:
                    msg = await next_message(ws, 2.0)
                except TimeoutError:
                    return " ".join(said)
                if msg["type"] == "bot-output":
                    said.append(msg["data"]["text"])

        await ask(alice, "Set a timer for 10 minutes.")
        (timer,) = daemon.timers.pending()
        assert timer.owner == "client:alice"
        await ask(bob, "Cancel the timer.")
        assert len(daemon.timers.pending()) == 1  # bob cannot cancel alice's timer
        assert "no timers" in (await ask(bob, "How much time is left?")).lower()
        left = await ask(alice, "How much time is left?")
        assert "left" in left and "{" not in left
        await alice.close()
        await bob.close()
    # A restart: the timer is due in a moment, and bob happens to connect first.
    saved = json.loads((tmp_path / "timers.json").read_text())
    saved[0]["due"] = time.time() + 3
    (tmp_path / "timers.json").write_text(json.dumps(saved))
    async with running_daemon(tmp_path) as daemon, aiohttp.ClientSession() as http:
        sub = daemon.bus.subscribe()
        bob = await ready_ws(http, daemon.rtvi.port, "?client_id=bob")
        deadline = time.monotonic() + 60
        announced = None
        while announced is None and time.monotonic() < deadline:
            event = await asyncio.wait_for(sub.get(), 60)
            if isinstance(event, ev.BotOutput) and "timer is done" in event.text:
                announced = event
        assert announced is not None and announced.session_id == "local"  # on the device
        await bob.send_bytes(rtvi("get-config", None, "after"))
        msg = await until(bob, lambda m: m.get("id") == "after" or "timer" in json.dumps(m))
        assert msg.get("id") == "after"  # nothing about alice's timer reached bob
        await bob.close()
        sub.close()


# -- 8: read timeouts, idle connections, the cap (the HTTP server alone) ---------------------------
class _Factory:
    bus = ev.EventBus()
    on_client_input = None

    def new_conversation(self, session_id: str, sink: Any) -> Any:
        raise AssertionError("no sessions here")

    def new_services(self, conversation: Any, disconnect: Any) -> Any:
        raise AssertionError("no sessions here")

    def health(self) -> tuple[bool, dict[str, Any]]:
        return True, {}

    def bind_owner(self, session_id: str, owner: str | None) -> None:
        pass


def _exchange(port: int, data: bytes, timeout: float = 20) -> bytes:
    """Sends `data`, then reads until the server closes (b"" back = closed with no answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


async def test_http_read_timeouts_idle_connections_and_the_cap() -> None:
    cfg = RtviConfig(host="127.0.0.1", port=0, idle_timeout_secs=1.0, max_connections=4)
    server = RtviServer(cfg, _Factory())  # type: ignore[arg-type]
    await server.start()
    port = server.port
    try:
        huge = (
            b"POST /start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000000\r\n\r\n"
        )
        reply = await asyncio.to_thread(_exchange, port, huge)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        slow = b"POST /start HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{"
        reply = await asyncio.to_thread(_exchange, port, slow)
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        # Silent, or headers never finished: closed (before: held forever).
        assert await asyncio.to_thread(_exchange, port, b"") == b""
        assert await asyncio.to_thread(_exchange, port, b"GET / HTTP/1.1\r\nHo") == b""
        # An idle keep-alive connection after a response is closed too.
        reply = await asyncio.to_thread(_exchange, port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200")
        reply = await asyncio.to_thread(_exchange, port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 404"), reply[:100]
        # The cap: 4 held, the 5th refused at once.
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        await asyncio.sleep(0.1)
        try:
            reply = await asyncio.to_thread(_exchange, port, b"")
            assert reply.startswith(b"HTTP/1.1 503"), reply[:100]
        finally:
            for s in held:
                s.close()
        assert server.guard is not None and server.guard.reaped >= 2  # silent, half-sent headers
    finally:
        await server.stop()
