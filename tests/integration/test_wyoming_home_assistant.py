"""End to end with a real Home Assistant: its Wyoming integration adds the device
and uses speech to text, text to speech, the wake word and the conversation agent.

Home Assistant needs Python >= 3.13, so it runs in its own virtual environment
(`scripts/setup-home-assistant` makes `.ha-venv`; or set RTVI_EDGE_HA_PYTHON);
without one this test is skipped, and test_wyoming_server.py still covers every
service with the `wyoming` client Home Assistant uses.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.daemon_harness import running_daemon
from tests.integration.ha_instance import require_home_assistant

DRIVER = Path(__file__).with_name("ha_wyoming_driver.py")

pytestmark = pytest.mark.integration


async def test_home_assistant_uses_every_wyoming_service(
    tmp_path: Path, speech: Callable[[str], Path]
) -> None:
    python = require_home_assistant()  # skips (fails under CI) saying why
    speech_wav, wake_wav = speech("what is the weather like today"), speech("alexa")
    wyoming = {"enabled": True, "host": "127.0.0.1", "port": 0, "zeroconf": False}
    async with running_daemon(tmp_path, rtvi={"enabled": False}, wyoming=wyoming) as daemon:
        proc = await asyncio.create_subprocess_exec(
            str(python),
            str(DRIVER),
            "127.0.0.1",
            str(daemon.wyoming.port),
            str(speech_wav),
            str(wake_wav),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), 600)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    text = output.decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, text[-4000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["flow"] == "create_entry"
    for domain in ("conversation", "stt", "tts", "wake_word"):
        assert any(e.startswith(f"{domain}.rtvi_edge") for e in result["entities"]), result
    assert result["conversation"].startswith("It is")  # a local intent answered
    assert "weather" in result["stt"].lower()
    assert result["tts"]["extension"] == "wav" and result["tts"]["secs"] > 0.5
    assert "alexa" in result["wake_words"]
    assert result["wake"] == "alexa"
