"""The real @pipecat-ai/client-js + @pipecat-ai/small-webrtc-transport in headless Chromium
against the real daemon over WebRTC: the served page (its default transport), whose
fake microphone plays a spoken question. A spoken turn, a client function call, an
interruption; every RTP socket of the device on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from bench.tools_eval import WEATHER_FUNCTION
from tests.integration.daemon_harness import running_daemon
from tests.integration.test_web_page import FINAL_USER, LONG_TEXT, STATE, chromium, question_wav

pytestmark = pytest.mark.integration


async def test_spoken_turn_function_call_and_interruption_over_webrtc(tmp_path: Path) -> None:
    wav = question_wav(tmp_path)
    webrtc = {"host_addresses": ["127.0.0.1"]}
    async with (
        running_daemon(tmp_path / "state", webrtc=webrtc) as daemon,
        chromium(tmp_path, wav) as browser,
    ):
        origin = f"http://127.0.0.1:{daemon.rtvi.port}"
        page = await browser.new_page()
        await page.goto(origin + "/")
        assert await page.js("document.querySelector('#transport').value") == "webrtc"
        await page.click("#connect")
        await page.wait(f"{STATE} === 'listening'", "bot-ready over WebRTC", 30)
        offers = [u for u in page.urls if u.endswith("/api/offer")]
        assert offers and offers[0].startswith(origin + "/webrtc/sessions/"), page.urls
        session = next(iter(daemon.rtvi.sessions.values()))
        assert session.session_id.startswith("webrtc-") and session.paired  # the device itself

        # A spoken turn: the fake microphone's question, as Opus, understood and answered.
        heard = await page.wait(f"{FINAL_USER}[0]?.textContent", "final transcript", 60)
        await page.click("#mic")
        assert "france" in heard.lower()
        await page.wait("document.querySelector('.line.bot')?.textContent", "the bot's answer", 60)
        row = await page.wait(
            "document.querySelector('#turns tr')?.innerText", "a row of the latency table", 60
        )
        v2v, heard_here = row.split()[1:3]
        assert int(v2v) > 0 and int(heard_here) > 0, row  # the bot's track was audible here
        await page.wait(f"{STATE} === 'listening'", "the end of the answer", 60)

        # A client function: the page's client answers get_weather for the device's LLM.
        await page.js(
            "window.weatherAsked = null; rtviEdge.client.registerFunctionCallHandler('get_weather',"
            " async (p) => { window.weatherAsked = p.arguments;"
            " return {temperature_celsius: 21, conditions: 'sunny'}; })"
        )
        tools = {
            "config": [
                {"service": "llm", "options": [{"name": "tools", "value": [WEATHER_FUNCTION]}]}
            ]
        }
        await page.js(f"rtviEdge.client.sendClientRequest('update-config', {json.dumps(tools)})")
        await page.js(
            'rtviEdge.client.sendText("What\'s the weather like in Paris?",'
            " {run_immediately: true, audio_response: true})"
        )
        asked = await page.wait(
            "window.weatherAsked && JSON.stringify(window.weatherAsked)", "the function call", 60
        )
        assert "paris" in asked.lower()
        await page.wait(
            "[...document.querySelectorAll('.line.bot')].length >= 2",
            "the answer with the result",
            60,
        )
        await page.wait(f"{STATE} === 'listening'", "the end of the weather answer", 60)

        # An interruption: a long tts:say, then the looping question cuts in.
        await page.js("document.querySelector('#actions-box').open = true")
        await page.wait("!!document.querySelector('form.action input[name=text]')", "tts:say form")
        await page.fill("form.action input[name=text]", LONG_TEXT)
        await page.js("document.querySelector('form.action input[name=text]').form.requestSubmit()")
        await page.wait(f"{STATE} === 'speaking'", "tts:say speaking", 30)
        await page.click("#mic")  # unmuted: the question barges in
        await page.wait("!!document.querySelector('.line.bot.interrupted')", "interruption", 30)
        peer = next(iter(daemon.rtvi.webrtc.peers.values()))
        assert peer.bot_track.queued() < 0.2  # its voice never runs ahead of what was sent
        await page.click("#mic")

        assert page.errors == [], page.errors
        assert page.foreign(origin) == []
        await page.click("#connect")
        await page.wait(f"{STATE} === 'disconnected'", "disconnected")
        deadline = time.monotonic() + 10
        while daemon.rtvi.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not daemon.rtvi.sessions and not daemon.rtvi.webrtc.peers
