"""The RTVI server over a real WebSocket: wire format, services, security, bad input."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from rtvi_edge.rtvi import frames
from tests.integration.daemon_harness import (
    next_message,
    ready_ws,
    rtvi,
    running_daemon,
    until_type,
)

pytestmark = pytest.mark.integration


async def test_text_turn_streams_events_and_paced_audio(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon, aiohttp.ClientSession() as http:
        health = await (await http.get(f"http://127.0.0.1:{daemon.rtvi.port}/health")).json()
        assert health["status"] == "ok" and health["models"]["llm"]
        ws = await ready_ws(http, daemon.rtvi.port)
        await ws.send_bytes(
            rtvi(
                "send-text",
                {
                    "content": "Say hello in one short sentence.",
                    "options": {"audio_response": True},
                },
            )
        )
        _stop, seen, audio = await until_type(ws, "bot-stopped-speaking", 60)
        types = [m["type"] for m in seen]
        for expected in [
            "user-transcription",
            "bot-llm-started",
            "bot-llm-text",
            "bot-llm-stopped",
            "bot-tts-started",
            "bot-started-speaking",
            "bot-output",
            "bot-tts-text",
        ]:
            assert expected in types, types
        assert sum(n for _, n in audio) / 24000 > 0.3  # the answer was spoken
        # (that it is paced in real time is tests/unit/test_pacer.py's, on a fake clock)
        # 40 ms chunks (a sentence's last one may be shorter)
        assert all(n <= 960 for _, n in audio)
        assert sum(n == 960 for _, n in audio) >= 0.8 * len(audio)
        await ws.close()


async def test_services_round_trips(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon, aiohttp.ClientSession() as http:
        ws = await ready_ws(http, daemon.rtvi.port)
        await ws.send_bytes(rtvi("describe-config", msg_id="d1"))
        described = await next_message(ws)
        assert described["type"] == "config-available" and described["id"] == "d1"
        assert {s["name"] for s in described["data"]["config"]} >= {
            "vad",
            "stt",
            "llm",
            "tts",
            "audio",
        }
        await ws.send_bytes(rtvi("describe-actions", msg_id="d2"))
        actions = (await next_message(ws))["data"]["actions"]
        assert {"service": "tts", "action": "say"}.items() <= actions[0].items()
        update = [
            {"service": "tts", "options": [{"name": "speed", "value": 1.25}]},
            {"service": "vad", "options": [{"name": "params", "value": {"stop_secs": 0.6}}]},
        ]
        await ws.send_bytes(rtvi("update-config", {"config": update, "interrupt": False}, "u1"))
        reply = await next_message(ws)
        assert reply["type"] == "config" and reply["id"] == "u1"
        values = {
            (s["service"], o["name"]): o["value"]
            for s in reply["data"]["config"]
            for o in s["options"]
        }
        assert values[("tts", "speed")] == 1.25 and values[("vad", "params")]["stop_secs"] == 0.6
        # all-or-nothing: a bad second item leaves the first unapplied
        bad = [
            {"service": "tts", "options": [{"name": "speed", "value": 2.0}]},
            {"service": "tts", "options": [{"name": "speed", "value": "fast"}]},
        ]
        await ws.send_bytes(rtvi("update-config", {"config": bad}, "u2"))
        err = await next_message(ws)
        assert err["type"] == "error-response" and err["id"] == "u2"
        assert "config[1]" in err["data"]["error"] and "number" in err["data"]["error"]
        # the same through client-message, as current clients send it
        await ws.send_bytes(rtvi("client-message", {"t": "get-config", "d": {}}, "c1"))
        got = await next_message(ws)
        assert got["type"] == "server-response" and got["data"]["t"] == "get-config"
        speeds = [
            o["value"]
            for s in got["data"]["d"]["config"]
            if s["service"] == "tts"
            for o in s["options"]
            if o["name"] == "speed"
        ]
        assert speeds == [1.25]
        # actions
        await ws.send_bytes(
            rtvi(
                "action",
                {
                    "service": "llm",
                    "action": "append_to_messages",
                    "arguments": [
                        {
                            "name": "messages",
                            "value": [{"role": "user", "content": "My name is Ada."}],
                        }
                    ],
                },
                "a1",
            )
        )
        assert (await next_message(ws))["data"] == {"result": True}
        await ws.send_bytes(
            rtvi(
                "client-message",
                {"t": "action", "d": {"service": "llm", "action": "get_context", "arguments": []}},
                "a2",
            )
        )
        ctx = await next_message(ws)
        assert ctx["data"]["d"]["result"]["messages"][-1] == {
            "role": "user",
            "content": "My name is Ada.",
        }
        await ws.send_bytes(
            rtvi(
                "action",
                {
                    "service": "tts",
                    "action": "say",
                    "arguments": [{"name": "text", "value": "Hello world!"}],
                },
                "a3",
            )
        )
        said, _seen, audio = await until_type(ws, "action-response")
        assert said["data"]["result"] is True
        _stop, seen, audio2 = await until_type(ws, "bot-stopped-speaking")
        assert any(m["type"] == "bot-tts-text" and "Hello world" in m["data"]["text"] for m in seen)
        assert audio or audio2
        await ws.close()


async def test_bad_input_is_answered_and_the_connection_stays(tmp_path: Path) -> None:
    async with (
        running_daemon(tmp_path, rtvi={"max_message_bytes": 4096}) as daemon,
        aiohttp.ClientSession() as http,
    ):
        ws = await ready_ws(http, daemon.rtvi.port)
        bad: list[tuple[bytes | str, str]] = [
            (b"\x00\x01garbage", "malformed frame"),
            (frames.encode_message("{oops"), "not valid JSON"),
            (rtvi("warp-drive", {}, "w1"), "unknown message type 'warp-drive'"),
            (rtvi("send-text", {"content": ["x"]}, "w2"), "must be a string"),
            (rtvi("dtmf", {"buttons": ["x"]}, "w3"), "keypad keys"),
            (rtvi("action", {"service": "tts", "action": "sing"}, "w4"), "unknown action"),
            (rtvi("send-text", {"content": "x" * 10000}, "w5"), "over the limit"),
            ("not json at all", "not valid JSON"),
        ]
        for data, needle in bad:
            if isinstance(data, str):
                await ws.send_str(data)
            else:
                await ws.send_bytes(data)
            reply = await next_message(ws)
            assert reply["type"] == "error-response", reply
            assert needle in reply["data"]["error"], (needle, reply)
        # an app-specific client-message nobody here handles: accepted quietly
        await ws.send_bytes(rtvi("client-message", {"t": "dance", "d": {}}, "w9"))
        await ws.send_bytes(rtvi("get-config", msg_id="still-here"))
        assert (await next_message(ws))["id"] == "still-here"
        await ws.close()


async def test_token_origins_and_session_limit(tmp_path: Path) -> None:
    rtvi_cfg = {"token": "s3cret", "max_sessions": 1, "allowed_origins": ["http://phone.local"]}
    async with running_daemon(tmp_path, rtvi=rtvi_cfg) as daemon, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{daemon.rtvi.port}"
        wrong = await http.post(f"{base}/start", json={}, headers={"Authorization": "Bearer x"})
        assert wrong.status == 401
        ok = await http.post(f"{base}/start", json={}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status == 200
        body = await ok.json()
        assert body["wsUrl"].startswith("ws://") and body["wsUrl"].endswith("/ws")
        assert body["token"] == "s3cret"
        for proxy in ({"X-Forwarded-Proto": "https"}, {"Forwarded": "for=1.2.3.4;proto=https"}):
            behind = await http.post(
                f"{base}/start", json={"token": "s3cret"}, headers={"Host": "pi.lan", **proxy}
            )
            assert (await behind.json())["wsUrl"] == "wss://pi.lan/ws"
        evil = {"Origin": "http://evil.example"}
        assert (await http.post(f"{base}/start", json={}, headers=evil)).status == 403
        paired = await http.post(f"{base}/start", json={"token": "s3cret"}, headers=evil)
        assert paired.status == 200  # a paired page may; CORS is never echoed to it
        assert "Access-Control-Allow-Origin" not in paired.headers
        phone = await http.post(f"{base}/start", json={}, headers={"Origin": "http://phone.local"})
        assert phone.headers["Access-Control-Allow-Origin"] == "http://phone.local"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(f"{base}/ws", headers=evil)
        ws = await ready_ws(http, daemon.rtvi.port, "?token=s3cret")
        with pytest.raises(aiohttp.WSServerHandshakeError) as full:
            await http.ws_connect(f"{base}/ws?token=s3cret")
        assert full.value.status == 503  # refused before the upgrade
        await ws.close()


async def test_disconnect_mid_turn_leaves_others_serving(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon, aiohttp.ClientSession() as http:
        a = await ready_ws(http, daemon.rtvi.port)
        b = await ready_ws(http, daemon.rtvi.port)
        await a.send_bytes(rtvi("send-text", {"content": "Tell me a story about the sea."}))
        await until_type(a, "bot-started-speaking", 60)
        await a.close()  # mid-answer
        await b.send_bytes(
            rtvi("send-text", {"content": "Say yes.", "options": {"audio_response": False}})
        )
        _stopped, seen, _audio = await until_type(b, "bot-llm-stopped", 60)
        assert any(m["type"] == "bot-llm-text" for m in seen)
        assert len(daemon.rtvi.sessions) == 1
        await b.close()
