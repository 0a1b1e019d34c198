"""Wyoming service latencies of the real daemon, as Home Assistant would see them.

    PYTHONPATH=. .venv/bin/python -m bench.wyoming_bench [--runs N]

Starts the daemon in-process (no sound card, Wyoming on a free loopback port)
and times, with the `wyoming` client: transcribe (audio-stop → transcript),
synthesize (request → first audio chunk, and → audio-stop), handle of a local
intent (transcript → handled), and the wake-word real-time factor (processing
time / audio time, audio sent as fast as possible).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize
from wyoming.wake import Detect

from bench.speech import make_wav
from rtvi_edge.config import config_from_mapping
from rtvi_edge.daemon import Daemon

FORMAT = {"rate": 16000, "width": 2, "channels": 1}


class _QuietNotifier:
    watchdog_interval: float | None = None

    def ready(self, status: str) -> None: ...
    def status(self, text: str) -> None: ...
    def watchdog(self) -> None: ...
    def reloading(self) -> None: ...
    def ready_after_reload(self) -> None: ...
    def stopping(self, status: str) -> None: ...


async def _send_pcm(c: AsyncTcpClient, pcm: bytes) -> None:
    await c.write_event(AudioStart(**FORMAT).event())
    for i in range(0, len(pcm), 3200):
        await c.write_event(AudioChunk(**FORMAT, audio=pcm[i : i + 3200]).event())


async def _one_round(port: int, pcm: bytes, out: dict[str, list[float]]) -> None:
    async with AsyncTcpClient("127.0.0.1", port) as c:
        await c.write_event(Transcribe().event())
        await _send_pcm(c, pcm)
        t0 = time.monotonic()
        await c.write_event(AudioStop().event())
        await c.read_event()
        out["transcribe_s"].append(time.monotonic() - t0)
    async with AsyncTcpClient("127.0.0.1", port) as c:
        t0 = time.monotonic()
        await c.write_event(Synthesize(text="The timer is done. Your tea is ready.").event())
        first = None
        while (event := await c.read_event()) is not None and event.type != "audio-stop":
            if event.type == "audio-chunk" and first is None:
                first = time.monotonic() - t0
        out["tts_first_audio_s"].append(first or 0.0)
        out["tts_total_s"].append(time.monotonic() - t0)
    async with AsyncTcpClient("127.0.0.1", port) as c:
        t0 = time.monotonic()
        await c.write_event(Transcript(text="what time is it").event())
        await c.read_event()
        out["handle_intent_s"].append(time.monotonic() - t0)
    async with AsyncTcpClient("127.0.0.1", port) as c:
        await c.write_event(Detect(names=["alexa"]).event())
        t0 = time.monotonic()
        await _send_pcm(c, pcm)
        await c.write_event(AudioStop().event())
        await c.read_event()
        out["wake_rtf"].append((time.monotonic() - t0) / (len(pcm) / 32000))


async def run(runs: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="wyoming-bench-"))
    pcm, _end = make_wav("What is the weather like today?", work / "q.wav")
    config = config_from_mapping(
        {
            "device": {"state_dir": str(work / "state"), "device_id": "bench"},
            "audio": {"backend": "none"},
            "rtvi": {"enabled": False},
            "wyoming": {"enabled": True, "host": "127.0.0.1", "port": 0, "zeroconf": False},
            "log": {"journald": "off", "level": "warning"},
        }
    )
    daemon = Daemon(config, None, _QuietNotifier())
    await daemon.start()
    out: dict[str, list[float]] = {
        k: [] for k in ("transcribe_s", "tts_first_audio_s", "tts_total_s", "handle_intent_s")
    }
    out["wake_rtf"] = []
    assert daemon.wyoming is not None
    try:
        for _ in range(runs):
            await _one_round(daemon.wyoming.port, pcm, out)
    finally:
        await daemon.stop()
    return {f"{k}_median": round(statistics.median(v), 3) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.runs)), indent=2))


if __name__ == "__main__":
    main()
