"""A hostile peer on the LAN against the real daemon (issue 28), loopback only.

The daemon runs in its own process on 127.0.0.1 with `trust_loopback = false`, so
every client is a guest, as a phone or a stranger on the LAN would be. Peers bind
their sockets to other loopback addresses (127.0.0.2 …) to be other clients.

* fuzz: bad inputs of every kind (bench/reliability.py's, plus bad versions, bad
  audio fields, wrong-typed fields with arbitrary Unicode, large messages) over many
  sockets from four addresses; each must get an error-response, and no session may
  be lost;
* lockout: an attacker on 127.0.0.2 keeps 8 silent WebSockets and 70 raw TCP sockets
  open, reopening each the moment it is closed; how long a real client on 127.0.0.1
  takes from connect to bot-ready;
* http: requests with two Host headers; how many log lines they add;
* large: a 5 MB message with and without permessage-deflate.

    python -m bench.hostile all --fuzz 100000
    python -m bench.hostile fuzz --fuzz 5000          # a short run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from bench.reliability import DaemonProcess, _read_message, bad_rtvi_input, raw_message, rtvi
from bench.run import ROOT
from rtvi_edge.rtvi import frames

GUESTS = "trust_loopback = false\n"
ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
HOSTILE_TEXT = ["²", "١.٢.٣", "\u202e", "\ud800", "😀" * 50, "\x00", "A" * 70_000, "é"]


def hostile_input(rng: random.Random, i: int, big_every: int) -> tuple[str, bytes | str]:
    """One input that must be answered with exactly one error-response."""
    if big_every and i % big_every == big_every - 1:
        size = rng.choice([1_100_000, 5_000_000])
        return "big-message", rtvi("send-text", {"content": "x" * size}, f"f{i}")
    kind = rng.randrange(6)
    if kind == 0:
        version = rng.choice(["²", "1" * 5000, "١.٢.٣", "1.2.3.4.5", "", "v2", "2.x"])
        return "bad-version", rtvi("client-ready", {"version": version}, f"f{i}")
    if kind == 1:
        channels, rate = rng.choice([(0, 16000), (2**40, 16000), (9, 16000), (1, 0), (1, 10**9)])
        return "bad-audio-field", frames.encode_audio(b"\0" * 64, rate, channels)
    if kind == 2:
        mtype, field, value = rng.choice(
            [
                ("send-text", "content", rng.choice([1, None, [], {"a": 1}])),
                ("append-to-context", "role", rng.choice([1, [], {}])),
                ("update-config", "config", rng.choice([{}, "x", 7])),
                ("action", "service", rng.choice([1, [], {}])),
                ("client-message", "t", rng.choice([1, [], {}])),
                ("dtmf", "buttons", rng.choice([["x"], [], "12", [1]])),
                ("ui-event", "event", rng.choice([1, [], None])),
            ]
        )
        text = rng.choice(HOSTILE_TEXT)
        data = {field: value, "noise": text} if value is not None else {"noise": text}
        return "wrong-type-unicode", raw_message(
            json.dumps({"label": "rtvi-ai", "type": mtype, "id": text[:64], "data": data})
        )
    if kind == 3:
        return "unknown-type-unicode", rtvi(rng.choice(HOSTILE_TEXT)[:80], {}, f"f{i}")
    return bad_rtvi_input(rng, i)


async def _connect(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """A socket, waiting while this address's share is taken (a socket just closed
    still counts until the server has torn its session down)."""
    for _ in range(200):
        try:
            return await http.ws_connect(f"{url}/ws", max_msg_size=0)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status != 503:
                raise
            await asyncio.sleep(0.05)
    return await http.ws_connect(f"{url}/ws", max_msg_size=0)


async def _fuzz_socket(
    url: str, address: str, inputs: list[tuple[str, bytes | str]], stats: Counter[str]
) -> None:
    connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        ws = await _connect(http, url)
        try:
            await ws.send_bytes(rtvi("client-ready", {"version": "2.1.0"}, "ready"))
            while (await _read_message(ws, 60))["type"] != "bot-ready":
                pass
            for start in range(0, len(inputs), 16):
                batch = inputs[start : start + 16]
                for _kind, data in batch:
                    await (ws.send_str(data) if isinstance(data, str) else ws.send_bytes(data))
                got = 0
                while got < len(batch):
                    reply = await _read_message(ws, 60)
                    if reply["type"] == "error-response":
                        got += 1
                    elif reply["type"] != "bot-ready":  # a bad version still starts it
                        stats[f"other:{reply['type']}"] += 1
                stats["answered"] += got
            await ws.send_bytes(rtvi("get-config", None, "still-here"))
            while (await _read_message(ws, 60)).get("id") != "still-here":
                pass
            stats["sessions_kept"] += 1
        except (ConnectionError, TimeoutError, aiohttp.ClientError) as exc:
            stats["sessions_lost"] += 1
            stats[f"lost:{type(exc).__name__}:{exc}"[:120]] += 1
        finally:
            await ws.close()


async def fuzz(url: str, count: int, sockets: int, seed: int, secs: float) -> dict[str, Any]:
    rng = random.Random(seed)
    big_every = max(1000, count // 20)
    inputs = [hostile_input(rng, i, big_every) for i in range(count)]
    kinds = Counter(kind for kind, _ in inputs)
    per_socket = max(10, count // sockets)
    chunks = [inputs[i : i + per_socket] for i in range(0, count, per_socket)]
    stats: Counter[str] = Counter()
    t0 = time.monotonic()
    done = 0
    for start in range(0, len(chunks), len(ADDRESSES)):
        if time.monotonic() - t0 > secs:
            break  # bounded in time as well as in count
        group = chunks[start : start + len(ADDRESSES)]
        await asyncio.gather(
            *(_fuzz_socket(url, ADDRESSES[n], c, stats) for n, c in enumerate(group))
        )
        done += sum(len(c) for c in group)
    return {
        "inputs": done,
        "answered": stats.pop("answered", 0),
        "sockets": stats["sessions_kept"] + stats["sessions_lost"],
        "sessions_kept": stats.pop("sessions_kept", 0),
        "sessions_lost": stats.pop("sessions_lost", 0),
        "kinds": dict(kinds),
        "other": dict(stats),
        "secs": round(time.monotonic() - t0, 1),
    }


# -- lockout -----------------------------------------------------------------------
async def _silent(url: str, stats: Counter[str]) -> None:
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        while True:
            try:
                ws = await http.ws_connect(f"{url}/ws")
            except (aiohttp.ClientError, OSError):
                stats["ws_refused"] += 1
                await asyncio.sleep(0.02)
                continue
            stats["ws_opened"] += 1
            while (await ws.receive()).type not in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                pass
            await ws.close()


async def _raw(port: int, stats: Counter[str]) -> None:
    while True:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=("127.0.0.2", 0)
            )
        except OSError:
            await asyncio.sleep(0.05)
            continue
        stats["raw_opened"] += 1
        try:
            await reader.read()
        finally:
            writer.close()


async def lockout(url: str, port: int, warmup: float, tries: int) -> dict[str, Any]:
    stats: Counter[str] = Counter()
    attack = [asyncio.create_task(_silent(url, stats)) for _ in range(8)]
    attack += [asyncio.create_task(_raw(port, stats)) for _ in range(70)]
    served: list[float] = []
    failures: list[str] = []
    try:
        await asyncio.sleep(warmup)  # past the ready deadline: the attacker has reconnected
        async with aiohttp.ClientSession() as http:
            for _ in range(tries):
                t0 = time.monotonic()
                try:
                    ws = await http.ws_connect(f"{url}/ws")
                    await ws.send_bytes(rtvi("client-ready", {"version": "2.1.0"}, "r"))
                    while (await _read_message(ws, 30))["type"] != "bot-ready":
                        pass
                    served.append(time.monotonic() - t0)
                    await ws.close()
                except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                    failures.append(repr(exc)[:120])
                await asyncio.sleep(1.0)
    finally:
        for task in attack:
            task.cancel()
        await asyncio.gather(*attack, return_exceptions=True)
    return {
        "attacker": dict(stats),
        "real_client_served": len(served),
        "real_client_failed": failures,
        "served_secs_median": round(statistics.median(served), 3) if served else None,
        "served_secs_max": round(max(served), 3) if served else None,
    }


# -- HTTP parser errors, large messages -----------------------------------------------
def http_flood(daemon: DaemonProcess, count: int) -> dict[str, Any]:
    before = len(daemon.log_path.read_text(errors="replace").splitlines())
    request = b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
    answered = 0
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
            s.sendall(request)
            answered += s.recv(64).split(b"\r\n")[0].endswith(b" 400 Bad Request")
    time.sleep(0.5)
    added = daemon.log_path.read_text(errors="replace").splitlines()[before:]
    # Only the HTTP layer's lines: sessions of an earlier part may still be closing.
    http = [line for line in added if any(k in line for k in _HTTP_LOGGERS)]
    return {
        "requests": count,
        "answered_400": answered,
        "log_lines_added": len(http),
        "lines": [line[:160] for line in http[:3]],
    }


_HTTP_LOGGERS = ("rtvi_edge.rtvi.http", "aiohttp", "Traceback", '  File "')


async def large(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession() as http:
        for name, compress in (("plain", 0), ("deflate", 15)):
            ws = await _connect_plain(http, url, compress)
            await ws.send_bytes(rtvi("client-ready", {"version": "2.1.0"}, "r"))
            while (await _read_message(ws, 30))["type"] != "bot-ready":
                pass
            await ws.send_bytes(rtvi("send-text", {"content": "x" * 5_000_000}, "big"))
            try:
                reply = (await _read_message(ws, 60))["type"]
                await ws.send_bytes(rtvi("get-config", None, "after"))
                kept = (await _read_message(ws, 30)).get("id") == "after"
            except (ConnectionError, TimeoutError) as exc:
                reply, kept = repr(exc)[:80], False
            out[name] = {"reply": reply, "session_kept": kept}
            await ws.close()
    return out


async def _connect_plain(
    http: aiohttp.ClientSession, url: str, compress: int
) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(f"{url}/ws", compress=compress, max_msg_size=0)


def _logger(line: str) -> str:
    """The level and logger of a daemon log line ("WARNING rtvi_edge.rtvi.protocol")."""
    parts = line.split(" ", 4)
    return " ".join(parts[2:4]).rstrip(":") if len(parts) > 3 else "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "what", nargs="?", default="all", choices=["all", "fuzz", "lockout", "http", "large"]
    )
    ap.add_argument("--fuzz", type=int, default=100_000, help="bad inputs in all")
    ap.add_argument("--sockets", type=int, default=2000, help="sockets the fuzz spreads over")
    ap.add_argument("--max-secs", type=float, default=1800.0, help="the fuzz stops after this")
    ap.add_argument("--tries", type=int, default=5, help="real-client connects under attack")
    ap.add_argument("--seed", type=int, default=28)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "hostile.json")
    args = ap.parse_args()
    results: dict[str, Any] = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="rtvi-hostile-") as tmp:
        daemon = DaemonProcess(Path(tmp) / "daemon", level="info", rtvi=GUESTS)
        try:
            if args.what in ("all", "fuzz"):
                lines = len(daemon.log_path.read_text(errors="replace").splitlines())
                r = asyncio.run(fuzz(daemon.url, args.fuzz, args.sockets, args.seed, args.max_secs))
                r["daemon_alive"] = daemon.alive
                r["tracebacks_in_log"] = daemon.tracebacks()
                log = daemon.log_path.read_text(errors="replace").splitlines()[lines:]
                r["log_lines_added"] = len(log)
                r["log_lines_by_logger"] = dict(Counter(_logger(line) for line in log))
                results["fuzz"] = r
                ok &= r["answered"] == r["inputs"] and not r["sessions_lost"] and r["daemon_alive"]
                print(json.dumps({"fuzz": r}, indent=1), flush=True)
            if args.what in ("all", "lockout"):
                r = asyncio.run(lockout(daemon.url, daemon.port, 11.0, args.tries))
                results["lockout"] = r
                ok &= r["real_client_served"] == args.tries
                print(json.dumps({"lockout": r}, indent=1), flush=True)
            if args.what in ("all", "http"):
                r = http_flood(daemon, 1000)
                results["http"] = r
                ok &= r["log_lines_added"] <= 1
                print(json.dumps({"http": r}, indent=1), flush=True)
            if args.what in ("all", "large"):
                r = asyncio.run(large(daemon.url))
                results["large"] = r
                ok &= all(v["reply"] == "error-response" and v["session_kept"] for v in r.values())
                print(json.dumps({"large": r}, indent=1), flush=True)
            results["daemon_alive"] = daemon.alive
            results["tracebacks_in_log"] = daemon.tracebacks()
        finally:
            results["exit_code"] = daemon.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'PASS' if ok else 'FAIL'}; written to {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
