"""A real LAN inference server: llama-cpp-python's OpenAI server and the Wyoming
faster-whisper and Piper servers, each started on a free loopback port.

The device streams from them, calls tools through them, falls back to its own
engines when one dies mid-turn, and uses a server again once it is back.
"""

from __future__ import annotations

import http.server
import threading
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench import lan_servers
from bench.run import free_port
from rtvi_edge.engines.base import GenerationParams, GenerationStats
from rtvi_edge.engines.llm_openai import OpenAiLlm
from rtvi_edge.engines.remote_http import RemoteError
from rtvi_edge.engines.stt_wyoming import WyomingStt
from rtvi_edge.engines.tts_wyoming import WyomingTts
from tests.integration.daemon_harness import messages_until, rtvi, running_daemon

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def llama_server() -> Iterator[lan_servers.ServerProcess]:
    server = lan_servers.llama_server().start()
    try:
        yield server
    finally:
        server.stop()


def test_llm_streams_counts_tokens_and_calls_tools_natively(
    llama_server: lan_servers.ServerProcess,
) -> None:
    llm = OpenAiLlm(llama_server.url, "")
    llm.probe()
    assert llm.model_name == f"openai:{lan_servers.LLM_ALIAS}"
    stats = GenerationStats()
    messages = [{"role": "user", "content": "Say hello to Anna."}]
    pieces = list(
        llm.stream_chat(messages, GenerationParams(max_tokens=24), threading.Event(), stats)
    )
    assert len(pieces) > 1 and "".join(pieces).strip()
    assert stats.completion_tokens == len(pieces)
    # The server's tokenizer counted the prompt after the answer.
    assert llm.count_tokens("Say hello to Anna.") < len("Say hello to Anna.") // 3 + 1
    pick = llm.choose(
        [{"role": "user", "content": "Set a timer for five minutes."}],
        ["set_timer", "get_weather", "none"],
    )
    assert pick in ("set_timer", "get_weather", "none") and llm._native_tools is True
    schema = {
        "type": "object",
        "properties": {"minutes": {"type": "integer"}},
        "required": ["minutes"],
    }
    args = llm.json_arguments([{"role": "user", "content": "Five minutes timer"}], schema)
    assert isinstance(args["minutes"], int)


def test_bad_server_settings_name_their_key(llama_server: lan_servers.ServerProcess) -> None:
    with pytest.raises(RemoteError, match=r"\[llm\] remote_model = 'qwen-72b': .* has no such"):
        OpenAiLlm(llama_server.url, "qwen-72b").probe()
    closed = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(RemoteError, match=r"\[llm\] base_url = .*connection refused"):
        OpenAiLlm(closed, "").probe()
    tls = llama_server.url.replace("http://", "https://")
    with pytest.raises(RemoteError, match=r"\[llm\] base_url = .*TLS"):
        OpenAiLlm(tls, "").probe()
    with garbage_server() as url:
        with pytest.raises(RemoteError, match=r"\[llm\] base_url = .*did not answer JSON"):
            OpenAiLlm(url, "").probe()
        llm = OpenAiLlm(url, "m")
        with pytest.raises(RemoteError, match=r"\[llm\] base_url = .*(garbled|no choices)"):
            list(llm.stream_chat([], GenerationParams(), threading.Event(), GenerationStats()))


class _Garbage(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"data: <html>not what you expected</html>\n\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


class garbage_server:
    def __enter__(self) -> str:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- the daemon against the server ----------------------------------------------------------


async def ready_ws(http: aiohttp.ClientSession, port: int) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws")
    await ws.send_bytes(rtvi("client-ready", {"version": "2.1.0", "about": {"library": "t"}}))
    return ws


def _is(mtype: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == mtype


def _backend(event: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "server-message" and m["data"].get("event") == event


def _llm_model(seen: list[dict[str, Any]]) -> str:
    for m in seen:
        if m["type"] == "metrics":
            for t in m["data"].get("ttfb", []):
                if t["processor"] == "llm":
                    return str(t["model"])
    return ""


async def test_killed_server_mid_turn_gives_a_local_answer_and_is_used_again_when_back(
    tmp_path: Path,
) -> None:
    server = lan_servers.llama_server().start()
    try:
        # A generous budget: this test is about failing over when the server dies.
        llm = {
            "engine": "openai",
            "base_url": server.url,
            "fallback": ["llama"],
            "first_token_secs": 30.0,
        }
        async with (
            running_daemon(tmp_path, llm=llm) as daemon,
            aiohttp.ClientSession() as http,
        ):
            port = daemon.rtvi.port
            ws = await ready_ws(http, port)
            await messages_until(ws, _is("bot-ready"))
            say = {"options": {"audio_response": True}}
            await ws.send_bytes(rtvi("send-text", {"content": "Say hello.", **say}))
            seen, samples = await messages_until(ws, _is("metrics"))
            assert samples > 0 and _llm_model(seen) == f"openai:{lan_servers.LLM_ALIAS}"

            # A long answer; the server dies as its first words arrive.
            await ws.send_bytes(
                rtvi(
                    "update-config",
                    {
                        "config": [
                            {"service": "llm", "options": [{"name": "max_tokens", "value": 600}]}
                        ]
                    },
                )
            )
            story = "Tell me a very long story about a dragon, a knight and a village."
            await ws.send_bytes(rtvi("send-text", {"content": story, **say}))
            killed = False

            def kill_on_first_text(m: dict[str, Any]) -> None:
                nonlocal killed
                if m["type"] == "bot-llm-text" and not killed:
                    killed = True
                    server.kill()

            seen, _ = await messages_until(ws, _backend("error"), on_message=kill_on_first_text)
            failover = seen[-1]["data"]
            assert failover["stage"] == "llm" and failover["backend"] == "openai"
            assert failover["fallback"] == "llama" and "[llm] base_url" in failover["reason"]
            # The local model answers, and it is heard.
            seen, samples = await messages_until(ws, _is("bot-output"))
            assert samples > 0 or seen[-1]["data"]["text"]
            health = await (await http.get(f"http://127.0.0.1:{port}/health")).json()
            [remote, local] = health["backends"]["llm"]
            assert remote["backend"] == "openai" and remote["state"] == "down"
            assert local["backend"] == "llama" and local["state"] == "up"
            await ws.close()

            # The server comes back on its port: the background probe finds it.
            server.start()
            ws = await ready_ws(http, port)
            await messages_until(ws, _backend("recovered"), timeout=120)
            await ws.send_bytes(rtvi("send-text", {"content": "Say hello.", **say}))
            seen, _ = await messages_until(ws, _is("metrics"))
            assert _llm_model(seen) == f"openai:{lan_servers.LLM_ALIAS}"
            await ws.close()
    finally:
        server.stop()


async def test_unreachable_server_at_start_still_serves_from_the_device(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    llm = {"engine": "openai", "base_url": closed, "fallback": ["llama"], "remote_model": "x"}
    async with running_daemon(tmp_path, llm=llm) as daemon, aiohttp.ClientSession() as http:
        ws = await ready_ws(http, daemon.rtvi.port)
        await messages_until(ws, _is("bot-ready"))
        await ws.send_bytes(rtvi("send-text", {"content": "Say hello."}))
        seen, _ = await messages_until(ws, _is("metrics"))
        assert _llm_model(seen) != f"openai:{lan_servers.LLM_ALIAS}"
        health = await (await http.get(f"http://127.0.0.1:{daemon.rtvi.port}/health")).json()
        remote = health["backends"]["llm"][0]
        assert remote["state"] == "down" and "[llm] base_url" in remote["error"]
        await ws.close()


# -- Wyoming speech servers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def wyoming_servers() -> Iterator[tuple[lan_servers.ServerProcess, lan_servers.ServerProcess]]:
    stt = lan_servers.wyoming_whisper().start()
    tts = lan_servers.wyoming_piper().start()
    try:
        yield stt, tts
    finally:
        stt.stop()
        tts.stop()


def test_wyoming_servers_transcribe_and_speak(
    wyoming_servers: tuple[lan_servers.ServerProcess, lan_servers.ServerProcess],
    speech: Callable[[str], Path],
) -> None:
    stt_server, tts_server = wyoming_servers
    stt = WyomingStt(stt_server.url, "", "en")
    stt.probe()
    with wave.open(str(speech("What is the capital of France?"))) as w:
        pcm = w.readframes(w.getnframes())
    stream = stt.open_stream()
    stream.feed(pcm)
    text = stream.finish().lower()
    assert "capital" in text and "france" in text
    tts = WyomingTts(tts_server.url, "")
    tts.probe()
    chunks = list(tts.synthesize("Paris is the capital of France.", 1.0))
    assert len(chunks) >= 1 and sum(len(c) for c in chunks) / 2 / 22050 > 0.8


async def test_voice_turn_through_wyoming_and_local_speech_when_piper_dies(
    wyoming_servers: tuple[lan_servers.ServerProcess, lan_servers.ServerProcess],
    speech: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    from bench.ws_client import measure_turns

    stt_server, tts_server = wyoming_servers
    sections: dict[str, dict[str, Any]] = {
        "stt": {
            "engine": "wyoming",
            "base_url": stt_server.url,
            "fallback": ["whisper"],
            "transcript_secs": 30.0,  # a busy test machine must not trip the budgets
        },
        "tts": {
            "engine": "wyoming",
            "base_url": tts_server.url,
            "fallback": ["piper"],
            "first_audio_secs": 30.0,
        },
    }
    with wave.open(str(speech("What is the capital of France?"))) as w:
        pcm = w.readframes(w.getnframes())
    from bench.speech import speech_end

    end = speech_end(pcm)
    async with running_daemon(tmp_path, **sections) as daemon:
        url = f"http://127.0.0.1:{daemon.rtvi.port}/ws"
        [turn] = await measure_turns(url, [(pcm, end + 1.2)], turn_timeout=90)
        assert turn.get("voice_to_voice_client") is not None, turn
        models = {t["processor"]: t["model"] for t in turn["metrics"]["ttfb"]}
        assert models["stt"].startswith("wyoming:") and models["tts"].startswith("wyoming:")
        tts_server.kill()
        try:
            [turn] = await measure_turns(url, [(pcm, end + 1.2)], turn_timeout=90)
            assert turn.get("voice_to_voice_client") is not None, turn  # Piper on the device
            models = {t["processor"]: t["model"] for t in turn["metrics"]["ttfb"]}
            assert models["tts"].startswith("piper") or "joe" in models["tts"], models
            health = daemon.health()[1]["backends"]["tts"]
            assert health[0]["state"] == "down"
        finally:
            tts_server.start()  # the module's other tests keep their server


def test_openai_speech_servers_transcribe_and_speak(speech: Callable[[str], Path]) -> None:
    """The OpenAI audio API: faster-whisper-server and local-tts-studio (Piper)."""
    from rtvi_edge.engines.stt_openai import OpenAiStt
    from rtvi_edge.engines.tts_openai import OpenAiTts

    stt_server = lan_servers.openai_whisper().start()
    tts_server = lan_servers.openai_piper().start()
    try:
        stt = OpenAiStt(stt_server.url, "", "en")
        stt.probe()  # no /v1/models there: any HTTP answer means it is up
        with wave.open(str(speech("What is the capital of France?"))) as w:
            pcm = w.readframes(w.getnframes())
        stream = stt.open_stream()
        stream.feed(pcm)
        text = stream.finish().lower()
        assert "capital" in text and "france" in text
        tts = OpenAiTts(tts_server.url, "", "")
        tts.probe()
        audio = b"".join(tts.synthesize("Paris is the capital of France.", 1.0))
        # 22,050 Hz from Piper (X-Sample-Rate), resampled to the declared 24 kHz
        assert len(audio) / 2 / tts.sample_rate > 0.8
    finally:
        stt_server.stop()
        tts_server.stop()


async def test_switching_to_the_server_at_run_time(
    llama_server: lan_servers.ServerProcess, tmp_path: Path
) -> None:
    generous = {"first_token_secs": 30.0}  # a busy test machine must not trip the budget
    async with (
        running_daemon(tmp_path, llm=generous) as daemon,
        aiohttp.ClientSession() as http,
    ):
        ws = await ready_ws(http, daemon.rtvi.port)
        await messages_until(ws, _is("bot-ready"))
        options = [
            {"name": "engine", "value": "openai"},
            {"name": "base_url", "value": llama_server.url},
            {"name": "fallback", "value": ["llama"]},
        ]
        update = {"config": [{"service": "llm", "options": options}]}
        await ws.send_bytes(rtvi("update-config", update, "switch"))
        seen, _ = await messages_until(ws, lambda m: m.get("id") == "switch")
        assert seen[-1]["type"] != "error-response", seen[-1]
        await ws.send_bytes(rtvi("send-text", {"content": "Say hello."}))
        seen, _ = await messages_until(ws, _is("metrics"))
        assert _llm_model(seen) == f"openai:{lan_servers.LLM_ALIAS}"
        await ws.close()
