"""A WebSocket RTVI client that speaks like the web client (512-byte frames every 16 ms)
and measures end of speech → first bot audio frame, at the client."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from rtvi_edge.rtvi import frames

CHUNK = 512  # bytes: what @pipecat-ai/websocket-transport sends
CHUNK_SECS = CHUNK / 2 / 16000


def _msg(mtype: str, data: Any = None, msg_id: str = "b") -> bytes:
    obj = {"label": "rtvi-ai", "type": mtype, "id": msg_id, "data": data or {}}
    return frames.encode_message(json.dumps(obj))


async def measure_turns(
    url: str, utterances: list[tuple[bytes, float]], turn_timeout: float = 30.0
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_bytes(
            _msg("client-ready", {"version": "2.1.0", "about": {"library": "bench"}})
        )
        mic_q: asyncio.Queue[bytes] = asyncio.Queue()
        state: dict[str, Any] = {
            "speech_end": None,
            "first_audio": None,
            "metrics": None,
            "stopped": asyncio.Event(),
            "ready": asyncio.Event(),
        }

        async def mic() -> None:
            t_next = time.monotonic()
            while True:
                chunk = mic_q.get_nowait() if not mic_q.empty() else b"\0" * CHUNK
                t_next += CHUNK_SECS
                await asyncio.sleep(max(0.0, t_next - time.monotonic()))
                await ws.send_bytes(frames.encode_audio(chunk, 16000, 1))
                if chunk is not None and state.get("end_chunk") is chunk:
                    state["speech_end"] = time.monotonic()

        async def receive() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    continue
                frame = frames.decode_frame(msg.data)
                now = time.monotonic()
                if isinstance(frame, frames.AudioFrame):
                    if state["speech_end"] is not None and state["first_audio"] is None:
                        state["first_audio"] = now
                    continue
                if not isinstance(frame, frames.MessageFrame):
                    continue
                m = json.loads(frame.data)
                if m["type"] == "bot-ready":
                    state["ready"].set()
                elif m["type"] == "metrics" and m["data"].get("processing"):
                    state["metrics"] = m["data"]
                elif m["type"] == "bot-stopped-speaking":
                    state["stopped"].set()
                elif m["type"] == "user-transcription" and m["data"].get("final"):
                    state["text"] = m["data"].get("text", "")
                elif m["type"] == "bot-llm-text":
                    state["answer"] += m["data"].get("text", "")

        tasks = [asyncio.create_task(mic()), asyncio.create_task(receive())]
        try:
            await asyncio.wait_for(state["ready"].wait(), 10)
            for pcm, end_secs in utterances:
                state.update(speech_end=None, first_audio=None, metrics=None, text="", answer="")
                state["stopped"].clear()
                end_byte = int(end_secs * 16000) * 2
                chunks = [pcm[i : i + CHUNK].ljust(CHUNK, b"\0") for i in range(0, end_byte, CHUNK)]
                state["end_chunk"] = chunks[-1]
                for c in chunks:
                    mic_q.put_nowait(c)
                try:
                    await asyncio.wait_for(state["stopped"].wait(), turn_timeout)
                    await asyncio.sleep(0.3)  # the metrics message follows the audio
                except TimeoutError:
                    results.append({"error": "no answer in time"})
                    continue
                se, fa = state["speech_end"], state["first_audio"]
                results.append(
                    {
                        "voice_to_voice_client": (fa - se) if se and fa else None,
                        "metrics": state["metrics"],
                        "user_text": state["text"],
                        "answer": state["answer"].strip(),
                    }
                )
                await asyncio.sleep(0.5)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def listen_to_silence(url: str, secs: float) -> None:
    """A connected client whose microphone hears nothing for `secs` (idle CPU)."""
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_bytes(_msg("client-ready", {"version": "2.1.0", "about": {"library": "b"}}))
        silence = b"\0" * CHUNK
        t_next = time.monotonic()
        stop_at = t_next + secs
        while t_next < stop_at:
            t_next += CHUNK_SECS
            await asyncio.sleep(max(0.0, t_next - time.monotonic()))
            await ws.send_bytes(frames.encode_audio(silence, 16000, 1))
