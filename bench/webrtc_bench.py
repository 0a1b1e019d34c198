"""WebRTC beside the WebSocket in `scripts/bench`: voice-to-voice through SmallWebRTC
(Opus both ways, aiortc's jitter buffer at the client), and concurrent WebRTC
sessions that must each keep every turn.

Voice-to-voice here: the last sample of the question leaving the client's mic track
→ the first 20 ms frame of the device's voice arriving at the client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp

from bench.webrtc_client import PythonPeer
from rtvi_edge.audio.pcm import resample

AUDIBLE_RMS = 100.0  # a 20 ms frame of the bot's voice, not Opus's near-silence


async def _turn(peer: PythonPeer, pcm16k: bytes, end_secs: float, timeout: float) -> dict[str, Any]:
    speech = pcm16k[: int(end_secs * 16000) * 2]
    while not peer.messages.empty():
        peer.messages.get_nowait()
    peer.mic.say(resample(speech, 16000, 48000))
    text, metrics = "", None
    try:
        async with asyncio.timeout(timeout):
            while True:
                msg = await peer.messages.get()
                kind, data = msg["type"], msg.get("data") or {}
                if kind == "user-transcription" and data.get("final"):
                    text = data.get("text", "")
                elif kind == "metrics" and data.get("processing"):
                    metrics = data
                elif kind == "bot-stopped-speaking" and text:
                    break
    except TimeoutError:
        return {"error": "no answer in time", "user_text": text}
    said = peer.mic.said_at
    first = next(
        (at for at, rms in peer.heard if said is not None and at > said and rms > AUDIBLE_RMS),
        None,
    )
    with contextlib.suppress(TimeoutError):  # the metrics message follows the audio
        async with asyncio.timeout(0.5):
            while metrics is None:
                msg = await peer.messages.get()
                if msg["type"] == "metrics" and (msg.get("data") or {}).get("processing"):
                    metrics = msg["data"]
    return {
        "voice_to_voice_client": (first - said) if first and said else None,
        "user_text": text,
        "metrics": metrics,
    }


async def _session(
    http: aiohttp.ClientSession,
    base: str,
    utterances: list[tuple[bytes, float]],
    timeout: float,
) -> list[dict[str, Any]]:
    peer = PythonPeer(http, base)
    try:
        await peer.connect()
        await asyncio.sleep(0.5)
        results = []
        for pcm, end_secs in utterances:
            results.append(await _turn(peer, pcm, end_secs, timeout))
            await asyncio.sleep(0.5)
        return results
    finally:
        await peer.close()


async def measure_turns(base: str, utterances: list[tuple[bytes, float]]) -> list[dict[str, Any]]:
    """One WebRTC session, one turn after another (the latency column)."""
    async with aiohttp.ClientSession() as http:
        return await _session(http, base, utterances, 30.0)


async def concurrent_turns(
    base: str, utterances: list[tuple[bytes, float]], sessions: int
) -> dict[str, Any]:
    """`sessions` WebRTC clients at once, each saying every utterance: all must be answered."""
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as http:
        runs = await asyncio.gather(
            *(_session(http, base, utterances, 90.0) for _ in range(sessions)),
            return_exceptions=True,
        )
    turns = [t for r in runs if isinstance(r, list) for t in r]
    return {
        "sessions": sessions,
        "turns_asked": sessions * len(utterances),
        "turns_answered": sum(1 for t in turns if "error" not in t and t["user_text"]),
        "failures": [repr(r)[:200] for r in runs if isinstance(r, BaseException)]
        + [t["error"] for t in turns if "error" in t],
        "wall_secs": round(time.monotonic() - t0, 1),
    }
