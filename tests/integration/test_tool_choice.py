"""Tool choice and honesty with the real default model, through the real RTVI client
(@pipecat-ai/client-js) and the `chat` command: a declared client function is called
for natural phrasings and its result spoken; a question only a missing tool could
answer gets "I can't tell", never an invented state."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.tools_cases import GARAGE_FUNCTION
from tests.integration.daemon_harness import running_daemon
from tests.integration.rtvi_client import ClientRun, run_client

pytestmark = pytest.mark.integration

PHRASINGS = [
    "Is the garage door open?",
    "Can you check the garage door for me?",
    "Did I leave the garage door open?",
]
CANT_TELL = ("can't tell", "cannot tell", "can't check", "no way to check")


def wait(mtype: str, timeout_ms: int = 60000) -> dict[str, object]:
    return {"do": "wait", "type": mtype, "timeoutMs": timeout_ms}


def declare(functions: list[dict[str, Any]]) -> dict[str, object]:
    options = [{"name": "tools", "value": functions}]
    return {
        "do": "request",
        "t": "update-config",
        "d": {"config": [{"service": "llm", "options": options}]},
    }


def spoken_after(run: ClientRun, t: float) -> str:
    return " ".join(e["data"]["text"] for e in run.of("botTtsText") if e["t"] > t)


async def test_a_declared_client_function_is_called_and_its_result_spoken(
    tmp_path: Path,
) -> None:
    steps: list[dict[str, object]] = [
        {"do": "connect"},
        {"do": "registerFunction", "name": "get_garage_door", "result": {"door": "closed"}},
        declare([GARAGE_FUNCTION]),
    ]
    for text in PHRASINGS:
        steps += [
            {"do": "sendText", "text": text},
            wait("llm-function-call-stopped"),
            wait("bot-stopped-speaking", 90000),
        ]
    async with running_daemon(tmp_path) as daemon:
        run = await run_client(
            {"wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws", "steps": steps}, timeout=400
        )
    assert run.ok, run.failure()
    calls = run.messages("llm-function-call-in-progress")
    assert [c["data"]["function_name"] for c in calls] == ["get_garage_door"] * 3
    # (client-js also runs the handler for the legacy `llm-function-call` the server sends
    # beside it, so the handler may run twice a call: count the calls, not the runs)
    handled = run.of("functionHandlerCalled")
    assert {c["name"] for c in handled} == {"get_garage_door"} and len(handled) >= 3
    results = [m["data"]["result"] for m in run.messages("llm-function-call-stopped")]
    assert results == [{"door": "closed"}] * 3  # the client's answer reached the bot
    for call in calls:  # after each call, an answer was spoken (words and audio)
        assert spoken_after(run, call["t"]), run.failure()
        assert any(e["t"] > call["t"] and e["newSamples"] > 0 for e in run.of("botAudio"))


async def test_a_device_no_tool_knows_gets_i_cant_tell(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as daemon:
        run = await run_client(
            {
                "wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws",
                "steps": [
                    {"do": "connect"},
                    {"do": "registerFunction", "name": "get_garage_door", "result": {}},
                    declare([GARAGE_FUNCTION]),
                    {"do": "sendText", "text": "Is the back door locked?"},
                    wait("bot-stopped-speaking", 90000),
                    {"do": "sendText", "text": "Did I leave the oven on?"},
                    wait("bot-stopped-speaking", 90000),
                ],
            },
            timeout=240,
        )
    assert run.ok, run.failure()
    assert not run.of("functionHandlerCalled")  # the garage door is not the back door
    said = spoken_after(run, 0).lower()
    assert sum(said.count(c) for c in CANT_TELL) >= 2, said
    assert "locked" not in said and "is on" not in said


def chat(tmp_path: Path, text: str) -> str:
    cfg = tmp_path / "chat.toml"
    cfg.write_text(f'[device]\nstate_dir = "{tmp_path}"\n[log]\njournald = "off"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "rtvi_edge", "--config", str(cfg), "chat", text],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_chat_does_not_claim_to_switch_a_device_that_is_not_set_up(tmp_path: Path) -> None:
    said = chat(tmp_path, "turn on the kitchen light").lower()
    assert "can't" in said or "cannot" in said, said
    assert "turned on" not in said and "turning on" not in said


def test_chat_tells_the_real_time(tmp_path: Path) -> None:
    said = chat(tmp_path, "what time is it")
    now = dt.datetime.now().astimezone()
    allowed = {
        f"{(t.hour % 12) or 12}:{t.minute:02d}" for t in (now, now - dt.timedelta(minutes=1))
    }
    assert any(a in said for a in allowed), said
