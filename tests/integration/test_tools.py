"""Tools end to end with the real default model, over the real RTVI server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.tools_eval import WEATHER_FUNCTION
from rtvi_edge.audio.wav import read_wav
from rtvi_edge.rtvi import frames
from tests.integration.daemon_harness import (
    collect_until,
    next_message,
    ready_ws,
    rtvi,
    running_daemon,
)

pytestmark = pytest.mark.integration

WEATHER = WEATHER_FUNCTION


async def speak(ws: aiohttp.ClientWebSocketResponse, wav: Path) -> None:
    """Real-time microphone audio, like the web client: 512-byte frames every 16 ms."""
    pcm = read_wav(wav, 16000)
    t = time.monotonic()
    for i in range(0, len(pcm), 512):
        await ws.send_bytes(frames.encode_audio(pcm[i : i + 512].ljust(512, b"\0"), 16000))
        t += 0.016
        await asyncio.sleep(max(0.0, t - time.monotonic()))


def tts_texts(msgs: list[dict[str, Any]]) -> str:
    return " ".join(m["data"]["text"] for m in msgs if m["type"] == "bot-tts-text")


async def test_spoken_timer_speaks_when_it_expires(
    tmp_path: Path, speech: Callable[[str], Path]
) -> None:
    async with running_daemon(tmp_path) as daemon, aiohttp.ClientSession() as http:
        ws = await ready_ws(http, daemon.rtvi.port)
        mic = asyncio.create_task(speak(ws, speech("Set a timer for five seconds.")))
        seen = await collect_until(ws, lambda m: m["type"] == "bot-stopped-speaking")
        set_at = time.monotonic()
        await mic
        finals = [m for m in seen if m["type"] == "user-transcription" and m["data"]["final"]]
        heard = [m["data"]["text"] for m in finals]
        assert "Timer set for 5 seconds" in tts_texts(seen), (heard, tts_texts(seen))
        assert "timer" in heard[0].lower()
        fired = await collect_until(ws, lambda m: m["type"] == "bot-stopped-speaking", 20)
        assert "timer is done" in tts_texts(fired)
        assert time.monotonic() - set_at >= 3.0  # it waited for the timer
        await ws.close()
        assert not (tmp_path / "timers.json").read_text().strip("[] \n")


async def test_what_time_is_it_answers_the_real_time(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon, aiohttp.ClientSession() as http:
        ws = await ready_ws(http, daemon.rtvi.port)
        await ws.send_bytes(
            rtvi("send-text", {"content": "What time is it?", "options": {"audio_response": False}})
        )
        seen = await collect_until(ws, lambda m: m["type"] == "bot-output")
        now = dt.datetime.now().astimezone()
        allowed = {
            f"{(t.hour % 12) or 12}:{t.minute:02d}" for t in (now, now - dt.timedelta(minutes=1))
        }
        text = seen[-1]["data"]["text"]
        assert any(a in text for a in allowed), text
        await ws.close()


async def test_client_function_is_called_and_its_result_spoken(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon, aiohttp.ClientSession() as http:
        ws = await ready_ws(http, daemon.rtvi.port)
        await ws.send_bytes(
            rtvi(
                "update-config",
                {
                    "config": [
                        {"service": "llm", "options": [{"name": "tools", "value": [WEATHER]}]}
                    ]
                },
                "u",
            )
        )
        assert (await next_message(ws))["type"] == "config"
        await ws.send_bytes(rtvi("send-text", {"content": "What's the weather like in Paris?"}))
        seen = await collect_until(ws, lambda m: m["type"] == "llm-function-call-in-progress")
        call = seen[-1]["data"]
        assert call["function_name"] == "get_weather"
        assert "paris" in json.dumps(call["arguments"]).lower()
        await ws.send_bytes(
            rtvi(
                "llm-function-call-result",
                {
                    "function_name": "get_weather",
                    "tool_call_id": call["tool_call_id"],
                    "arguments": call["arguments"],
                    "result": {"temperature_celsius": 21, "conditions": "sunny"},
                },
                "res",
            )
        )
        rest = await collect_until(ws, lambda m: m["type"] == "bot-stopped-speaking")
        stopped = [m for m in rest if m["type"] == "llm-function-call-stopped"]
        assert stopped and stopped[0]["data"]["result"]["conditions"] == "sunny"
        assert tts_texts(rest)  # an answer was spoken after the result
        await ws.send_bytes(rtvi("action", {"service": "llm", "action": "get_context"}, "ctx"))
        ctx = await collect_until(ws, lambda m: m["type"] == "action-response")
        contents = json.dumps(ctx[-1]["data"]["result"]["messages"])
        assert "sunny" in contents  # the tool result stays in the context
        await ws.close()


async def test_client_function_timeout_is_spoken(tmp_path: Path) -> None:
    async with (
        running_daemon(tmp_path, rtvi={"function_call_timeout_secs": 1.0}) as daemon,
        aiohttp.ClientSession() as http,
    ):
        ws = await ready_ws(http, daemon.rtvi.port)
        await ws.send_bytes(
            rtvi(
                "update-config",
                {
                    "config": [
                        {"service": "llm", "options": [{"name": "tools", "value": [WEATHER]}]}
                    ]
                },
                "u",
            )
        )
        await next_message(ws)
        await ws.send_bytes(rtvi("send-text", {"content": "What's the weather in Rome?"}))
        seen = await collect_until(ws, lambda m: m["type"] == "bot-stopped-speaking")
        assert "did not answer in time" in tts_texts(seen)
        # a late or unknown result gets a clear error, and the session goes on
        await ws.send_bytes(
            rtvi(
                "llm-function-call-result",
                {
                    "function_name": "get_weather",
                    "tool_call_id": "call_nope",
                    "arguments": {},
                    "result": {},
                },
                "late",
            )
        )
        err = (await collect_until(ws, lambda m: m["type"] == "error-response"))[-1]
        assert err["id"] == "late" and "call_nope" in err["data"]["error"]
        await ws.close()


async def test_bad_tools_config_is_refused(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon, aiohttp.ClientSession() as http:
        ws = await ready_ws(http, daemon.rtvi.port)
        await ws.send_bytes(
            rtvi(
                "update-config",
                {
                    "config": [
                        {
                            "service": "llm",
                            "options": [{"name": "tools", "value": [{"nameless": 1}]}],
                        }
                    ]
                },
                "u",
            )
        )
        err = await next_message(ws)
        assert err["type"] == "error-response" and "tools[0]" in err["data"]["error"]
        await ws.close()
