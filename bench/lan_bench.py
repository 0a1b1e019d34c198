"""The LAN server benchmark: a real llama.cpp server (llama-cpp-python's) on loopback.

1. Voice-to-voice with the LLM on the server vs in-process (same model, so the
   difference is the HTTP/SSE hop and the server's own scheduling).
2. Time to fail over when the server is killed mid-answer: from the kill to the
   device noticing (the `server-message`), and to the local model's first words.
3. 1, 2, 4 and 8 simulated devices (each its own client with its own context and
   per-device concurrency limit) asking the one server at once: first-token and
   whole-answer latency, p50/p90 per device count.

Standalone: `python -m bench.lan_bench`; in the full bench: `scripts/bench --lan`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import lan_servers
from bench.run import ROOT, free_port, stage_values, start_daemon, stats, stop_daemon
from bench.speech import QUESTIONS, make_wav
from bench.ws_client import _msg, measure_turns
from rtvi_edge.rtvi import frames

DEVICE_PROMPTS = [
    "Give me one tip for watering basil.",
    "What is a good name for a grey cat?",
    "Suggest a quick breakfast.",
    "Tell me a fun fact about the moon.",
    "How do I boil an egg?",
    "Name a board game for four people.",
    "What should I pack for a picnic?",
    "Give me a word that rhymes with light.",
]


def llm_section(url: str) -> str:
    return (
        f'[llm]\nengine = "openai"\nbase_url = "{url}"\nfallback = ["llama"]\n'
        "first_token_secs = 20.0\n"
    )


def voice_to_voice(work: Path, url: str, turns: int) -> dict[str, Any]:
    utterances = [make_wav(q, work / f"q{i}.wav") for i, q in enumerate(QUESTIONS)]
    plan = [utterances[i % len(utterances)] for i in range(turns)]
    out: dict[str, Any] = {}
    for name, extra in (("in_process", ""), ("lan_server", llm_section(url))):
        port = free_port()
        proc, _ready = start_daemon(work / name, port, extra)
        try:
            results = asyncio.run(measure_turns(f"http://127.0.0.1:{port}/ws", plan))
        finally:
            stop_daemon(proc)
        out[name] = {
            "voice_to_voice_client": stats([r.get("voice_to_voice_client") for r in results]),
            "llm_first_token": stats(stage_values(results, "ttfb", "llm")),
            "errors": [r["error"] for r in results if "error" in r],
        }
    return out


async def failover_trial(port: int, server: lan_servers.ServerProcess) -> dict[str, float]:
    """One long answer; the server is killed at its first words."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws,
    ):
        await ws.send_bytes(_msg("client-ready", {"version": "2.1.0", "about": {"library": "b"}}))
        longer = [{"service": "llm", "options": [{"name": "max_tokens", "value": 400}]}]
        await ws.send_bytes(_msg("update-config", {"config": longer}))
        story = "Tell me a very long story about a dragon, a knight and a village."
        await ws.send_bytes(_msg("send-text", {"content": story}))
        killed_at = noticed_at = local_text_at = None
        async with asyncio.timeout(120):
            async for msg in ws:
                frame = frames.decode_frame(msg.data)
                if not isinstance(frame, frames.MessageFrame):
                    continue
                m = json.loads(frame.data)
                now = time.monotonic()
                if m["type"] == "bot-llm-text" and killed_at is None:
                    killed_at = time.monotonic()
                    server.kill()  # SIGKILL, then waits for it to be gone
                elif m["type"] == "server-message" and m["data"].get("event") == "error":
                    noticed_at = now
                elif m["type"] == "bot-llm-text" and noticed_at is not None:
                    local_text_at = now
                    break
        assert killed_at is not None and noticed_at is not None and local_text_at is not None
        return {"noticed": noticed_at - killed_at, "local_first_words": local_text_at - killed_at}


def until_server_used(port: int, timeout: float = 120.0) -> None:
    """Until the device's background probe has found the server back (its /health)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            llm = json.loads(r.read()).get("backends", {}).get("llm", [])
        if llm and llm[0]["state"] == "up":
            return
        time.sleep(0.1)
    raise TimeoutError("the device did not find the server back")


def failover(work: Path, server: lan_servers.ServerProcess, trials: int) -> dict[str, Any]:
    port = free_port()
    proc, _ready = start_daemon(work / "failover", port, llm_section(server.url))
    noticed: list[float] = []
    local: list[float] = []
    errors: list[str] = []
    try:
        for _ in range(trials):
            if server.proc is None or server.proc.poll() is not None:
                server.start()
                until_server_used(port)
            try:
                r = asyncio.run(failover_trial(port, server))
            except (AssertionError, TimeoutError, aiohttp.ClientError) as exc:
                errors.append(repr(exc))
                continue
            noticed.append(r["noticed"])
            local.append(r["local_first_words"])
    finally:
        stop_daemon(proc)
        if server.proc is None or server.proc.poll() is not None:
            server.start()
    return {
        "kill_to_noticed_secs": stats(noticed),
        "kill_to_local_first_words_secs": stats(local),
        "errors": errors,
    }


def _device(
    url: str,
    i: int,
    requests: int,
    first: list[float],
    whole: list[float],
    errors: list[str],
    lock: threading.Lock,
) -> None:
    """One simulated device: its own client (concurrency 1) and its own context."""
    from rtvi_edge.engines.base import GenerationParams, GenerationStats
    from rtvi_edge.engines.llm_openai import OpenAiLlm
    from rtvi_edge.errors import RtviEdgeError

    llm = OpenAiLlm(url, lan_servers.LLM_ALIAS, concurrency=1)
    history: list[dict[str, Any]] = [{"role": "system", "content": "Answer in one short sentence."}]
    params = GenerationParams(max_tokens=40)
    for k in range(requests):
        prompt = DEVICE_PROMPTS[(i + k) % len(DEVICE_PROMPTS)]
        messages = [*history, {"role": "user", "content": prompt}]
        t0 = time.monotonic()
        t_first = None
        text = ""
        try:
            for piece in llm.stream_chat(messages, params, threading.Event(), GenerationStats()):
                t_first = t_first or time.monotonic()
                text += piece
        except RtviEdgeError as exc:
            with lock:
                errors.append(str(exc))
            continue
        t1 = time.monotonic()
        history += [messages[-1], {"role": "assistant", "content": text}]
        with lock:
            if t_first is not None:
                first.append(t_first - t0)
            whole.append(t1 - t0)


def many_devices(url: str, counts: list[int], requests: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in counts:
        first: list[float] = []
        whole: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        threads = [
            threading.Thread(target=_device, args=(url, i, requests, first, whole, errors, lock))
            for i in range(n)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out[str(n)] = {
            "first_token": _p50_p90(first),
            "whole_answer": _p50_p90(whole),
            "requests": len(whole),
            "errors": errors,
        }
    return out


def _p50_p90(values: list[float]) -> dict[str, float | None]:
    vals = sorted(values)
    if not vals:
        return {"p50": None, "p90": None}
    return {
        "p50": round(statistics.median(vals), 3),
        "p90": round(vals[min(len(vals) - 1, int(0.9 * len(vals)))], 3),
    }


def run(
    work: Path,
    turns: int = 10,
    failover_trials: int = 3,
    counts: tuple[int, ...] = (1, 2, 4, 8),
    requests: int = 4,
    server_threads: int = 2,
) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    server = lan_servers.llama_server(threads=server_threads).start()
    try:
        result: dict[str, Any] = {
            "server": f"llama-cpp-python server, {lan_servers.LLM_ALIAS}, "
            f"{server_threads} threads, loopback",
            "voice_to_voice": voice_to_voice(work, server.url, turns),
            "many_devices": many_devices(server.url, list(counts), requests),
            "failover": failover(work, server, failover_trials),
        }
    finally:
        server.stop()
    return result


def print_table(r: dict[str, Any]) -> None:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f} ms"

    print(f"\nLAN server ({r['server']})")
    print(f"  {'voice-to-voice (client)':<36}{'median':>10}{'p90':>10}{'LLM TTFT':>10}")
    for name, s in r["voice_to_voice"].items():
        v, t = s["voice_to_voice_client"], s["llm_first_token"]
        label = "LLM in-process" if name == "in_process" else "LLM on the LAN server"
        print(f"  {label:<36}{ms(v['median']):>10}{ms(v['p90']):>10}{ms(t['median']):>10}")
    f = r["failover"]
    print(
        f"  {'server killed mid-answer → noticed':<36}{ms(f['kill_to_noticed_secs']['median']):>10}"
    )
    print(
        f"  {'  → local model first words':<36}"
        f"{ms(f['kill_to_local_first_words_secs']['median']):>10}"
    )
    print(f"  {'devices':<10}{'TTFT p50':>10}{'TTFT p90':>10}{'answer p50':>12}{'answer p90':>12}")
    for n, s in r["many_devices"].items():
        ft, wa = s["first_token"], s["whole_answer"]
        print(
            f"  {n:<10}{ms(ft['p50']):>10}{ms(ft['p90']):>10}{ms(wa['p50']):>12}{ms(wa['p90']):>12}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--failover-trials", type=int, default=3)
    ap.add_argument("--requests", type=int, default=4, help="answers per simulated device")
    ap.add_argument("--server-threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "lan.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rtvi-lan-bench-"))
    result = run(
        work,
        args.turns,
        args.failover_trials,
        requests=args.requests,
        server_threads=args.server_threads,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print_table(result)
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
