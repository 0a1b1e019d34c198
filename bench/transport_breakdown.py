"""Where each transport's share of a turn goes: the page's timestamps (tests/client/
webrtc-harness.mjs) joined with the daemon's (bench/transport_probe.py), both read
off the same wall clock. Per turn, in ms from the end of the user's speech unless
said otherwise:

- `uplink`: the device got the last chunk of the user's voice (above -40 dBFS);
- `heard_end`: the page got `user-stopped-speaking` (uplink + the VAD's pause);
- `release_to_sent` (WebRTC): the first answer audio handed to the sink → its first
  sound leaves the track for aiortc's sender (the track's 20 ms clock and queue);
- `release_to_page` (WebSocket): → its first chunk reaches the page;
- `release_to_analysed`: → an analyser on the played audio finds it (both pages the
  same way; WebRTC: Chrome's jitter buffer and the track's Web Audio bridge included);
- `analysed`: end of speech → that analyser (the like-for-like client figure);
- `analysed_minus_device`: that, less the device's own voice-to-voice for the turn
  (what the transport and the page add, without the daemon's turn-to-turn spread);
- `jitter_buffer` / `jitter_target` (WebRTC): Chrome's mean delay and target over
  the turn (getStats deltas);
- `late_p95` (WebRTC): how late the track's 20 ms ticks ran before the answer.

Over the run, `webrtc_gaps`: silences under GAP_MS inside the bot's voice on the
track (it ran dry mid-answer: the sink's next piece came late, or the next sentence)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

FIELDS = (
    "uplink",
    "heard_end",
    "release_to_sent",
    "release_to_page",
    "release_to_analysed",
    "analysed",
    "analysed_minus_device",
    "jitter_buffer",
    "jitter_target",
    "late_p95",
)
GAP_MS = 300


def read_probe(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _first(events: list[dict[str, Any]], ev: str, kind: str, lo: float, hi: float) -> Any:
    for e in events:
        if e["ev"] == ev and e.get("transport") == kind and lo <= e["t"] <= hi:
            return e
    return None


def _delta_mean(before: Any, after: Any, key: str) -> float | None:
    if not before or not after:
        return None
    n = after["emitted"] - before["emitted"]
    return (after[key] - before[key]) / n * 1000 if n > 0 else None


def turn(
    kind: str, d: dict[str, Any], events: list[dict[str, Any]], device: float | None
) -> dict[str, float | None]:
    """One turn of one transport, in ms (`device`: its own voice-to-voice, s)."""
    s = d.get("speechEnd")
    out: dict[str, float | None] = dict.fromkeys(FIELDS)
    if s is None:
        return out
    end = s / 1000

    def since(t_ms: float | None) -> float | None:
        return None if t_ms is None else t_ms - s

    heard = [
        e["at"]
        for e in events
        if e["ev"] == "heard_loud_end"
        and e["transport"] == kind
        and end - 0.3 <= e["at"] <= end + 1.5
    ]
    out["uplink"] = (max(heard) - end) * 1000 if heard else None
    out["heard_end"] = since(d.get("heardEnd"))
    out["analysed"] = since(d.get("analysed"))
    if out["analysed"] is not None and device is not None:
        out["analysed_minus_device"] = out["analysed"] - device * 1000
    released = _first(events, "released", kind, end, end + 30)
    if released is not None:
        r = released["t"] * 1000
        if d.get("analysed") is not None:
            out["release_to_analysed"] = d["analysed"] - r
        if kind == "websocket" and d.get("arrived") is not None:
            out["release_to_page"] = d["arrived"] - r
        sent = _first(events, "sent", kind, released["t"] - 0.001, released["t"] + 5)
        if sent is not None:
            out["release_to_sent"] = sent["t"] * 1000 - r
            out["late_p95"] = sent["late_p95_ms"]
    out["jitter_buffer"] = _delta_mean(d.get("statsBefore"), d.get("statsAfter"), "delay")
    out["jitter_target"] = _delta_mean(d.get("statsBefore"), d.get("statsAfter"), "target")
    return out


def breakdown(official: dict[str, list[Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per transport: the median of each field over the turns, and the turns."""
    result: dict[str, Any] = {}
    for kind in ("websocket", "webrtc"):
        details = official.get(f"{kind}_detail", [])
        devices = official.get(f"{kind}_server", [])
        turns = [
            turn(kind, d or {}, events, devices[i] if i < len(devices) else None)
            for i, d in enumerate(details)
        ]
        medians: dict[str, float | None] = {}
        for f in FIELDS:
            values = [v for t in turns if (v := t[f]) is not None]
            medians[f] = round(statistics.median(values), 1) if values else None
        result[kind] = {"p50_ms": medians, "turns": turns}
    ws, rtc = (result[k]["p50_ms"]["analysed_minus_device"] for k in ("websocket", "webrtc"))
    result["like_for_like_gap_ms"] = None if ws is None or rtc is None else round(rtc - ws)
    result["webrtc_gaps"] = sum(
        1 for e in events if e["ev"] == "sent" and 0 < e.get("silent_before_ms", GAP_MS) < GAP_MS
    )
    return result


def print_breakdown(b: dict[str, Any]) -> None:
    print(f"{'p50 ms':<24}{'WebSocket':>11}{'WebRTC':>10}")
    for f in FIELDS:
        ws, rtc = b["websocket"]["p50_ms"][f], b["webrtc"]["p50_ms"][f]
        cells = ["-" if v is None else f"{v:.0f}" for v in (ws, rtc)]
        print(f"{f:<24}{cells[0]:>11}{cells[1]:>10}")
    print(f"WebRTC - WebSocket, analysed - device, p50: {b['like_for_like_gap_ms']} ms")
    print(f"gaps under {GAP_MS} ms inside the bot's WebRTC voice: {b.get('webrtc_gaps')}")
