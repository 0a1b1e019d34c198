"""The WebRTC targets on their own, fair on a shared, loaded machine.

    python -m bench.webrtc_compare --turns 20 --sessions 4

1. Memory: a WebSocket-only daemon (`[webrtc] enabled = false`) with `sessions`
   concurrent WebSocket clients → its peak RSS; then the real daemon (WebRTC on)
   with as many WebSocket clients, then as many WebRTC clients (the Python peer,
   aiortc): the growth of its peak over each.
2. Concurrency: those WebRTC clients each say two questions; every turn must be
   answered.
3. Latency: the official JS client in headless Chromium, one tab per transport,
   against the same daemon, strictly turn by turn (WS, WebRTC, WS, WebRTC, …) so
   both see the same load and neither finds the LLM's prompt cache warm from its
   own last turn; p50/p90 of end of speech → the bot audible in the page.
4. A dropped session (the peer's sockets shut, no goodbye): seconds until the
   daemon's /health no longer counts it.

`--probe` also breaks each official-client turn down per transport
(bench/transport_breakdown.py); `--latency-only` runs phase 3 alone.

The load average is read before and after each phase: on a shared machine read
the gap between the transports, not the absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import transport_breakdown, webrtc_bench, webrtc_browser
from bench.run import (
    ROOT,
    _concurrent_ws,
    free_port,
    proc_memory,
    start_daemon,
    stats,
    stop_daemon,
)
from bench.speech import QUESTIONS, make_wav
from bench.webrtc_client import PythonPeer

WEBRTC_ON = '[webrtc]\nhost_addresses = ["127.0.0.1"]\n'
WEBRTC_OFF = "[webrtc]\nenabled = false\n"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def websocket_only_peak(work: Path, few: list[tuple[bytes, float]], sessions: int) -> float:
    port = free_port()
    proc, _ = start_daemon(work / "ws-only", port, WEBRTC_OFF)
    try:
        time.sleep(3)  # the turn model loads in the background after ready
        asyncio.run(_concurrent_ws(f"http://127.0.0.1:{port}/ws", few, sessions))
        return proc_memory(proc.pid).get("VmHWM", 0.0)
    finally:
        stop_daemon(proc)


async def _sessions_now(http: aiohttp.ClientSession, base: str) -> int:
    async with http.get(f"{base}/health") as r:
        return int((await r.json())["sessions"])


async def dropped_session_secs(base: str, limit: float = 30.0) -> float | None:
    """A WebRTC peer that vanishes: seconds until its slot is free (None: not in `limit`)."""
    async with aiohttp.ClientSession() as http:
        before = await _sessions_now(http, base)
        peer = PythonPeer(http, base)
        try:
            await peer.connect()
            assert await _sessions_now(http, base) == before + 1
            t0 = time.monotonic()
            peer.vanish()
            while time.monotonic() - t0 < limit:
                if await _sessions_now(http, base) <= before:
                    return round(time.monotonic() - t0, 2)
                await asyncio.sleep(0.1)
            return None
        finally:
            await peer.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--turns", type=int, default=20, help="official-client turns per transport")
    ap.add_argument("--sessions", type=int, default=4, help="concurrent sessions")
    ap.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="seconds between turns: the device finishes one turn's work before the next",
    )
    ap.add_argument(
        "--probe",
        action="store_true",
        help="run the daemon with bench/transport_probe.py and break each turn down",
    )
    ap.add_argument(
        "--latency-only",
        action="store_true",
        help="only the official client's turns (no memory, concurrency, dropped-peer phases)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "webrtc-compare.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rtvi-webrtc-bench-"))
    utterances = [make_wav(q, work / f"q{i}.wav") for i, q in enumerate(QUESTIONS)]
    turns_input = [utterances[i % len(utterances)] for i in range(args.turns)]
    few = utterances[:2]
    loads: dict[str, list[float]] = {"start": _load()}

    full = not args.latency_only
    ws_only_peak = websocket_only_peak(work, few, args.sessions) if full else 0.0
    loads["after_ws_only_daemon"] = _load()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    probe = work / "probe.jsonl"
    proc, _ = start_daemon(
        work / "daemon",
        port,
        WEBRTC_ON,
        module="bench.transport_probe" if args.probe else "rtvi_edge",
        env={"RTVI_PROBE": str(probe)} if args.probe else None,
    )
    concurrent: dict[str, Any] = {"sessions": 0, "turns_answered": 0, "turns_asked": 0}
    ws_peak = rtc_peak = 0.0
    dropped = None
    try:
        time.sleep(3)
        if full:
            asyncio.run(_concurrent_ws(f"{base}/ws", few, args.sessions))
            ws_peak = proc_memory(proc.pid).get("VmHWM", 0.0)
            concurrent = asyncio.run(webrtc_bench.concurrent_turns(base, few, args.sessions))
            rtc_peak = proc_memory(proc.pid).get("VmHWM", 0.0)
        loads["after_concurrent"] = _load()
        t0 = time.monotonic()
        official = webrtc_browser.measure(port, work, turns_input, args.settle)
        browser_secs = time.monotonic() - t0
        loads["after_official_client"] = _load()
        if full:
            dropped = asyncio.run(dropped_session_secs(base))
        loads["end"] = _load()
    finally:
        stop_daemon(proc)
    details = (
        transport_breakdown.breakdown(official, transport_breakdown.read_probe(probe))
        if args.probe
        else None
    )

    ws, rtc = stats(official.get("websocket", [])), stats(official.get("webrtc", []))
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average": loads},
        "official_client": {
            "turns_per_transport": args.turns,
            "settle_secs": args.settle,
            "wall_secs": round(browser_secs, 1),
            "websocket_secs": ws,
            "webrtc_secs": rtc,
            # the device's own end of speech → first audio out, for the same turns: what
            # the transports add is the client figure minus this one
            "websocket_server_secs": stats(official.get("websocket_server", [])),
            "webrtc_server_secs": stats(official.get("webrtc_server", [])),
            # end of speech → the device's user-stopped-speaking seen in the page (the
            # uplink, the VAD's pause, the message back)
            "websocket_heard_end_secs": stats(official.get("websocket_heard_end", [])),
            "webrtc_heard_end_secs": stats(official.get("webrtc_heard_end", [])),
            "webrtc_client_minus_server_secs": stats(_minus(official, "webrtc")),
            "websocket_client_minus_server_secs": stats(_minus(official, "websocket")),
            # Chrome's getStats for the bot's track: jitter buffer delay and target (means),
            # interarrival jitter, share of concealed samples
            "chrome_inbound_audio": official.get("webrtc_jitter_buffer"),
            "p50_gap_ms": (
                None
                if ws["median"] is None or rtc["median"] is None
                else round((rtc["median"] - ws["median"]) * 1000)
            ),
            # per turn, WebRTC minus the WebSocket turn just before it
            "paired_gap_p50_ms": _paired_gap(official),
            "raw": official,
        },
        "concurrent_webrtc": concurrent,
        "memory_mib": {
            "peak_websocket_only_daemon": round(ws_only_peak, 1),
            "peak_websocket_sessions": round(ws_peak, 1),
            "peak_webrtc_sessions": round(rtc_peak, 1),
            "growth_over_websocket_only_daemon": round(rtc_peak - ws_only_peak, 1),
            "growth_over_websocket_sessions": round(rtc_peak - ws_peak, 1),
        },
        "dropped_session_freed_secs": dropped,
        "breakdown": details,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    _print(result)
    print(f"\nJSON: {args.out}")
    return 0


def _minus(official: dict[str, list[float | None]], kind: str) -> list[float | None]:
    """Per turn, what the transport and the client add to the device's own figure."""
    pairs = zip(official.get(kind, []), official.get(f"{kind}_server", []), strict=False)
    return [None if a is None or b is None else a - b for a, b in pairs]


def _paired_gap(official: dict[str, list[float | None]]) -> float | None:
    pairs = zip(official.get("websocket", []), official.get("webrtc", []), strict=False)
    gaps = [b - a for a, b in pairs if a is not None and b is not None]
    return round(statistics.median(gaps) * 1000) if gaps else None


def _print(r: dict[str, Any]) -> None:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f} ms"

    oc = r["official_client"]
    print(f"load average: {r['machine']['load_average']}")
    for name in (
        "websocket",
        "webrtc",
        "websocket_server",
        "webrtc_server",
        "websocket_client_minus_server",
        "webrtc_client_minus_server",
        "websocket_heard_end",
        "webrtc_heard_end",
    ):
        s = oc[f"{name}_secs"]
        print(
            f"{name:<29} p50 {ms(s['median']):>8}  p90 {ms(s['p90']):>8}"
            f"  timed {s['n']}/{oc['turns_per_transport']}"
        )
    print(
        f"WebRTC p50 - WebSocket p50: {oc['p50_gap_ms']} ms;"
        f" median of the per-turn gaps: {oc['paired_gap_p50_ms']} ms"
    )
    c = r["concurrent_webrtc"]
    print(f"{c['sessions']} concurrent WebRTC sessions: {c['turns_answered']}/{c['turns_asked']}")
    m = r["memory_mib"]
    print(
        f"peak RSS growth: {m['growth_over_websocket_only_daemon']} MiB over the WS-only daemon,"
        f" {m['growth_over_websocket_sessions']} MiB over WS sessions in the same daemon"
    )
    print(f"dropped session freed its slot after {r['dropped_session_freed_secs']} s")
    if r["breakdown"]:
        transport_breakdown.print_breakdown(r["breakdown"])


if __name__ == "__main__":
    raise SystemExit(main())
