"""The official RTVI web client (@pipecat-ai/client-js + websocket-transport) against
the real daemon: spoken and typed turns, services, interruption, functions, token."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench.speech import speech_end
from bench.tools_eval import WEATHER_FUNCTION
from rtvi_edge.audio.wav import read_wav
from tests.integration.daemon_harness import running_daemon
from tests.integration.rtvi_client import run_client

pytestmark = pytest.mark.integration


def speak(wav: Path) -> dict[str, object]:
    end_ms = speech_end(read_wav(wav, 16000)) * 1000
    return {"do": "speak", "wav": str(wav), "speechEndOffsetMs": end_ms}


def wait(mtype: str, timeout_ms: int = 30000, **where: object) -> dict[str, object]:
    return {"do": "wait", "type": mtype, "timeoutMs": timeout_ms, "where": where}


async def test_spoken_turn_with_the_real_client(
    tmp_path: Path, speech: Callable[[str], Path]
) -> None:
    async with running_daemon(tmp_path) as daemon:
        run = await run_client(
            {
                "wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws",
                "steps": [
                    {"do": "connect"},
                    speak(speech("What is the capital of France?")),
                    wait("user-transcription", final=True),
                    wait("bot-stopped-speaking", 60000),
                    {"do": "sleep", "ms": 300},
                ],
            }
        )
    assert run.ok, (run.steps(), run.stderr[-2000:])
    assert run.of("botReady"), "bot-ready reached the client"
    first = run.events[[e.get("event") for e in run.events].index("message")]
    assert first["type"] == "bot-ready"  # the first message the server sends
    transcripts = run.of("userTranscript")
    assert any(not t["data"]["final"] for t in transcripts), "interim transcripts"
    final = [t["data"]["text"] for t in transcripts if t["data"]["final"]]
    assert "france" in final[0].lower()
    assert run.of("botLlmText") and run.of("botOutput") and run.of("botStartedSpeaking")
    audio = run.of("botAudio")
    assert audio and audio[-1]["samples"] > 24000 * 0.5  # bot audio, 24 kHz
    first_audio = run.of("firstBotAudio")
    assert first_audio and first_audio[0]["msAfterSpeechEnd"] > 0  # the timing: bench
    assert run.of("metrics")
    assert not run.of("error") and not run.of("messageError")


async def test_send_text_services_and_actions(tmp_path: Path) -> None:
    update = {
        "config": [{"service": "tts", "options": [{"name": "speed", "value": 1.2}]}],
        "interrupt": False,
    }
    bad = {"config": [{"service": "tts", "options": [{"name": "speed", "value": "x"}]}]}
    async with running_daemon(tmp_path) as daemon:
        run = await run_client(
            {
                "wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws",
                "steps": [
                    {"do": "connect"},
                    {"do": "request", "t": "describe-config"},
                    {"do": "request", "t": "update-config", "d": update},
                    {"do": "request", "t": "update-config", "d": bad, "optional": True},
                    {"do": "raw", "type": "describe-actions", "id": "da"},
                    {
                        "do": "raw",
                        "type": "action",
                        "id": "say",
                        "data": {
                            "service": "tts",
                            "action": "say",
                            "arguments": [{"name": "text", "value": "Hello world!"}],
                        },
                    },
                    wait("bot-stopped-speaking"),
                    {"do": "sendText", "text": "Say hello in three words.", "audioResponse": False},
                    wait("bot-llm-stopped"),
                ],
            }
        )
    steps = run.steps()
    assert [s["ok"] for s in steps] == [True, True, True, False, True, True, True, True, True], (
        steps,
        run.stderr[-2000:],
    )
    described = steps[1]["result"]
    assert {s["name"] for s in described["config"]} >= {"vad", "stt", "llm", "tts", "audio"}
    assert "must be of type number" in steps[3]["error"]
    assert run.messages("actions-available")[0]["data"]["actions"]
    assert run.messages("action-response")[0]["data"] == {"result": True}
    assert any("Hello world" in e["data"]["text"] for e in run.of("botTtsText"))
    assert run.of("botLlmText")


async def test_interruption_mid_answer(tmp_path: Path, speech: Callable[[str], Path]) -> None:
    async with running_daemon(tmp_path) as daemon:
        run = await run_client(
            {
                "wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws",
                "steps": [
                    {"do": "connect"},
                    {
                        "do": "request",
                        "t": "update-config",
                        "d": {
                            "config": [
                                {
                                    "service": "llm",
                                    "options": [{"name": "max_tokens", "value": 200}],
                                }
                            ]
                        },
                    },
                    {"do": "sendText", "text": "Tell me a long story about a dragon and a knight."},
                    wait("bot-started-speaking", 30000),
                    {"do": "sleep", "ms": 1500},
                    speak(speech("Wait a moment please")),
                    wait("bot-interrupted", 15000),
                    wait("user-transcription", 15000, final=True),
                ],
            }
        )
    assert run.ok, (run.steps(), run.stderr[-2000:])
    t_interrupt = run.messages("bot-interrupted")[0]["t"]
    t_speech = run.of("speechEnd")[0]["t"]
    assert t_interrupt < t_speech + 1500  # cut while the user was still talking, or just after
    # paced audio: nothing more than a frame or two arrives after the interruption
    after = [e for e in run.of("botAudio") if e["t"] > t_interrupt + 300]
    before = [e for e in run.of("botAudio") if e["t"] <= t_interrupt]
    assert before and (not after or after[-1]["samples"] - before[-1]["samples"] < 24000)


async def test_client_function_with_a_registered_handler(tmp_path: Path) -> None:
    weather = WEATHER_FUNCTION
    async with running_daemon(tmp_path) as daemon:
        run = await run_client(
            {
                "wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws",
                "steps": [
                    {"do": "connect"},
                    {
                        "do": "registerFunction",
                        "name": "get_weather",
                        "result": {"temperature_celsius": 21, "conditions": "sunny"},
                    },
                    {
                        "do": "request",
                        "t": "update-config",
                        "d": {
                            "config": [
                                {
                                    "service": "llm",
                                    "options": [{"name": "tools", "value": [weather]}],
                                }
                            ]
                        },
                    },
                    {"do": "sendText", "text": "What's the weather like in Paris?"},
                    wait("llm-function-call-stopped", 30000),
                    wait("bot-stopped-speaking", 60000),
                ],
            }
        )
    assert run.ok, (run.steps(), run.stderr[-2000:])
    called = run.of("functionHandlerCalled")
    assert called and "paris" in str(called[0]["params"]).lower()
    stopped = run.messages("llm-function-call-stopped")[0]["data"]
    assert stopped["result"]["conditions"] == "sunny"
    assert run.of("botTtsText")


async def test_start_endpoint_with_token(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, rtvi={"token": "t0ken"}) as daemon:
        base = f"http://127.0.0.1:{daemon.rtvi.port}"
        good = await run_client(
            {
                "startEndpoint": f"{base}/start",
                "token": "t0ken",
                "steps": [{"do": "connect"}, {"do": "sleep", "ms": 200}],
            }
        )
        bad = await run_client(
            {"startEndpoint": f"{base}/start", "token": "wrong", "steps": [{"do": "connect"}]},
            timeout=30,
        )
    assert good.ok and good.of("botReady"), (good.steps(), good.stderr[-2000:])
    assert not bad.ok and not bad.of("botReady")
