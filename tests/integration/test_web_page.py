"""The page the device serves, in headless Chromium with a fake microphone."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.daemon_harness import running_daemon
from tests.integration.rtvi_client import CLIENT_DIR

pytestmark = pytest.mark.integration
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def fake_microphone(folder: Path) -> Path:
    """A question with silence around it; Chromium's fake microphone loops the file."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("chromium is needed (scripts/setup installs it)")
    raw, wav = folder / "raw.wav", folder / "mic.wav"
    subprocess.run(
        ["espeak-ng", "-s", "150", "-w", str(raw), "What is the capital of France?"], check=True
    )
    subprocess.run(
        ["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(wav), "pad", "1", "3"],
        check=True,
    )
    return wav


def screenshot_taken(shot: Path) -> bool:
    return shot.is_file() and shot.stat().st_size > 10_000


async def test_page_connects_speaks_and_shows_latency(tmp_path: Path) -> None:
    wav = fake_microphone(tmp_path)
    shot = Path(os.environ.get("RTVI_EDGE_SCREENSHOT", tmp_path / "page.png"))
    async with running_daemon(tmp_path / "state") as daemon:
        url = f"http://127.0.0.1:{daemon.rtvi.port}/"
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(CLIENT_DIR / "web-check.mjs"),
            url,
            str(wav),
            str(shot),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=CLIENT_DIR,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 150)
        except TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
    lines = out.decode().strip().splitlines()
    assert lines, err.decode()[-2000:]
    result = json.loads(lines[-1])
    assert result["ok"], (result, err.decode()[-2000:])
    assert {"vad", "stt", "llm", "tts", "audio"} <= set(result["settings"])
    assert "france" in result["transcript"].lower()
    assert result["answer"]
    assert result["latencyPoints"] >= 1
    assert "between 0.25 and 4.0" in result["settingsError"]
    assert screenshot_taken(shot)
