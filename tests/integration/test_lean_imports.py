"""What the daemon leaves unimported (issue 25): PyAV and the WebRTC stack hold ~40 MiB
that a WebSocket voice turn never uses. Each check runs in a fresh process, since this
one has imported them already (the WebRTC tests' client)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

WEBRTC_STACK = ("aiortc", "av", "cryptography", "pylibsrtp")

WHISPER_TURN = """
import json, sys
from pathlib import Path
import numpy as np
from rtvi_edge.audio.wav import read_wav
from rtvi_edge.config import Config
from rtvi_edge.engines.hub import build_stt

path = Path(sys.argv[1])
pcm = read_wav(path)
stt = build_stt(Config())
stream = stt.open_stream()
stream.feed(pcm)
out = {"text": stream.finish(), "long": stt.decode(pcm * 12)}  # over 30 s: transcribe()
out["av_after_turns"] = "av" in sys.modules
import faster_whisper
samples = faster_whisper.decode_audio(str(path))  # files still decode, PyAV loaded now
expected = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
out["decoded_diff"] = float(np.abs(samples[: expected.size] - expected).max())
out["av_after_file"] = "av" in sys.modules
print(json.dumps(out))
"""

DAEMON_START = """
import asyncio, json, os, sys, tempfile
from pathlib import Path
import aiohttp
from tests.fakes import fake_engines
from tests.integration.daemon_harness import running_daemon

async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with running_daemon(Path(tmp), fake_engines()) as daemon:
            base = f"http://127.0.0.1:{daemon.rtvi.port}"
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{base}/start", json={"transport": "webrtc"}) as r:
                    started = r.status, sorted(await r.json())
            names = %r
            print(json.dumps({
                "webrtc": daemon.rtvi.webrtc is not None,
                "started": started,
                "imported": [n for n in names if n in sys.modules],
            }))

asyncio.run(main())
# Such a process aborts at exit now and then, on main too and with [webrtc] off
# ("terminate called without an active exception": a native thread at teardown).
sys.stdout.flush()
os._exit(0)
"""


def _run(script: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_spoken_whisper_turns_leave_pyav_out(speech: Callable[[str], Path]) -> None:
    out = _run(WHISPER_TURN, str(speech("What is the capital of France?")))
    assert "france" in str(out["text"]).lower()
    assert "france" in str(out["long"]).lower()
    assert out["av_after_turns"] is False
    assert out["av_after_file"] is True and float(str(out["decoded_diff"])) < 0.01


def test_the_daemon_starts_and_answers_start_without_the_webrtc_stack() -> None:
    out = _run(DAEMON_START % (WEBRTC_STACK,))
    assert out["webrtc"] is True  # [webrtc] enabled: the routes are there
    assert out["started"] == [200, ["sessionId"]]
    assert out["imported"] == []
