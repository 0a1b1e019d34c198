"""`scripts/bench`: start-up, memory and voice-to-voice latency of the real daemon.

Starts `rtvi-edge run` in its own process on 127.0.0.1 (no sound card needed),
talks to it as an RTVI client with espeak-ng speech, and writes JSON plus a
readable table. Targets for a 2-core x86 box: voice-to-voice <= 0.8 s median,
peak RSS <= 700 MB, ready in <= 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

from bench.cpu_limit import CpuLimit, QuotaGroup
from bench.speech import QUESTIONS, make_wav
from bench.ws_client import listen_to_silence, measure_turns

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_daemon(
    work: Path,
    port: int,
    extra: str = "",
    limit: CpuLimit | None = None,
    quota_group: QuotaGroup | None = None,
    module: str = "rtvi_edge",
    env: dict[str, str] | None = None,
    log_level: str = "warning",
    stderr: IO[bytes] | None = None,
) -> tuple[subprocess.Popen[bytes], float]:
    """`extra`: more TOML sections for the daemon's config; `limit` and `quota_group`:
    the Pi-class CPU it runs on (bench/cpu_limit.py); `module`: what `python -m` runs
    (bench/transport_probe.py wraps the daemon); `env`: added to its environment;
    `stderr`: where its log goes."""
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / "bench.toml"
    cfg.write_text(
        f'[rtvi]\nhost = "127.0.0.1"\nport = {port}\n[audio]\nbackend = "none"\n'
        f'[device]\nstate_dir = "{work / "state"}"\n'
        f'[log]\njournald = "off"\nlevel = "{log_level}"\n' + extra
    )
    t0 = time.monotonic()
    proc = subprocess.Popen(
        (limit or CpuLimit()).command([sys.executable, "-m", module, "--config", str(cfg), "run"]),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        cwd=ROOT,
        env=None if env is None else {**os.environ, **env},
    )
    if quota_group is not None:
        quota_group.add(proc.pid)  # before its worker threads start: they inherit it
    deadline = t0 + (120 if quota_group is None else 120 / quota_group.quota)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"daemon exited with {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("daemon not ready within 120 s")


def stop_daemon(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then a kill if it has not exited within 20 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def real_client_latency(port: int, work: Path, turns: int) -> list[float]:
    """End of speech → first bot audio as the official web client sees it (Node)."""
    script = ROOT / "tests" / "client" / "rtvi-client.mjs"
    if not (ROOT / "tests" / "client" / "node_modules").is_dir():
        print("(the real client is not installed; scripts/setup installs it)")
        return []
    steps: list[dict[str, Any]] = [{"do": "connect"}]
    for i in range(turns):
        wav = work / f"q{i % len(QUESTIONS)}.wav"
        from bench.speech import speech_end
        from rtvi_edge.audio.wav import read_wav

        end_ms = speech_end(read_wav(wav, 16000)) * 1000
        steps += [
            {"do": "speak", "wav": str(wav), "speechEndOffsetMs": end_ms},
            {"do": "wait", "type": "bot-stopped-speaking", "timeoutMs": 30000},
            {"do": "sleep", "ms": 500},
        ]
    plan = work / "plan.json"
    plan.write_text(
        json.dumps(
            {"wsUrl": f"ws://127.0.0.1:{port}/ws", "steps": steps, "timeoutMs": 30000 * turns}
        )
    )
    run = subprocess.run(
        ["node", str(script), str(plan)],
        capture_output=True,
        text=True,
        cwd=script.parent,
        timeout=35 * turns,
    )
    out = []
    for line in run.stdout.splitlines():
        if '"firstBotAudio"' in line:
            out.append(json.loads(line)["msAfterSpeechEnd"] / 1000)
    return out


def proc_memory(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) / 1024  # MiB
    return out


def proc_cpu_secs(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(pid: int, url: str, secs: float = 10.0) -> dict[str, float]:
    """Share of one core the daemon uses with nobody talking: alone, and with one
    connected client streaming silence (the VAD runs on every frame)."""
    c0 = proc_cpu_secs(pid)
    time.sleep(secs)
    c1 = proc_cpu_secs(pid)
    asyncio.run(listen_to_silence(url, secs))
    c2 = proc_cpu_secs(pid)
    return {
        "no_client_pct": round(100 * (c1 - c0) / secs, 1),
        "silent_client_pct": round(100 * (c2 - c1) / secs, 1),
    }


def stats(values: list[float | None] | list[float]) -> dict[str, float | int | None]:
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return {"n": 0, "median": None, "p90": None, "min": None, "max": None}
    return {
        "n": len(vals),
        "median": round(statistics.median(vals), 4),
        "p90": round(vals[min(len(vals) - 1, int(0.9 * len(vals)))], 4),
        "min": round(vals[0], 4),
        "max": round(vals[-1], 4),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def stage_values(turns: list[dict[str, Any]], section: str, name: str) -> list[float]:
    out = []
    for t in turns:
        for item in (t.get("metrics") or {}).get(section, []):
            if item["processor"] == name:
                out.append(float(item["value"]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "bench.json")
    ap.add_argument("--skip-tools", action="store_true", help="skip the tool-calling eval")
    ap.add_argument("--skip-wake", action="store_true", help="skip the wake-word eval")
    ap.add_argument("--skip-barge-in", action="store_true", help="skip the barge-in eval")
    ap.add_argument("--barge-in-trials", type=int, default=4, help="quiet bot turns")
    ap.add_argument("--lan", action="store_true", help="add the LAN server bench (lan_bench)")
    ap.add_argument("--skip-webrtc", action="store_true", help="skip the WebRTC column")
    ap.add_argument("--webrtc-sessions", type=int, default=4, help="concurrent WebRTC sessions")
    ap.add_argument("--skip-turn", action="store_true", help="skip the end-of-turn bench")
    ap.add_argument("--turn-only", action="store_true", help="only the end-of-turn bench")
    ap.add_argument("--turn-items", type=int, default=40, help="end-of-turn items per split")
    ap.add_argument(
        "--turn-client-items", type=int, default=20, help="held-out items spoken at the client"
    )
    ap.add_argument(
        "--turn-modes",
        default="fixed_0.35s,turn_model_before,turn_model",
        help="comma-separated: fixed_0.35s, turn_model_before, turn_model (the default), "
        "turn_model_audio_only, turn_model_whisper_base",
    )
    ap.add_argument("--cpu-cores", default="", help="pin the daemon: taskset's list, e.g. 0")
    ap.add_argument(
        "--cpu-quota",
        type=float,
        default=0.0,
        help="hold the daemon to this share of a core (0.25 stands in for a Pi 4 core)",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rtvi-bench-"))
    if args.turn_only:
        return turn_main(args, work)
    utterances = [make_wav(q, work / f"q{i}.wav") for i, q in enumerate(QUESTIONS)]
    turns_input = [utterances[i % len(utterances)] for i in range(args.turns)]
    port = free_port()
    limit = CpuLimit(args.cpu_cores, args.cpu_quota)
    group = QuotaGroup(f"rtvi-bench-{os.getpid()}", args.cpu_quota) if args.cpu_quota else None
    proc, ready_secs = start_daemon(
        work,
        port,
        '[webrtc]\nhost_addresses = ["127.0.0.1"]\n',
        limit=limit,
        quota_group=group,
    )
    webrtc: dict[str, Any] = {}
    try:
        idle = proc_memory(proc.pid)
        time.sleep(3)  # the turn model loads in the background after ready
        idle_cpu_pct = idle_cpu(proc.pid, f"http://127.0.0.1:{port}/ws")
        turns = asyncio.run(measure_turns(f"http://127.0.0.1:{port}/ws", turns_input))
        real_client = real_client_latency(port, work, args.turns)
        mem = proc_memory(proc.pid)  # WebSocket only, so far
        if not args.skip_webrtc:
            webrtc = webrtc_column(
                proc.pid, port, work, turns_input, utterances, args.webrtc_sessions
            )
    finally:
        t0 = time.monotonic()
        stop_daemon(proc)
        stop_secs = time.monotonic() - t0
        throttled = group.throttled_secs() if group else 0.0
        if group:
            group.remove()
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": sys.platform, "load": os.getloadavg()},
        "cpu_limit": {"daemon_on": limit.describe(), "throttled_secs": round(throttled, 1)},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "models": "default (whisper tiny.en, SmolLM2-135M Q4_1, piper en_US joe medium)",
        "startup": {"ready_secs": round(ready_secs, 3), "stop_secs": round(stop_secs, 3)},
        "idle_cpu_pct_of_one_core": idle_cpu_pct,
        "memory_mib": {
            "idle_rss": round(idle.get("VmRSS", 0), 1),
            "peak_rss": round(mem.get("VmHWM", 0), 1),
        },
        "voice_to_voice_client_secs": stats([t.get("voice_to_voice_client") for t in turns]),
        "voice_to_voice_real_client_secs": stats(real_client),
        "stages_secs": {
            "endpointing": stats(stage_values(turns, "processing", "endpointing")),
            "stt": stats(stage_values(turns, "ttfb", "stt")),
            "llm_first_token": stats(stage_values(turns, "ttfb", "llm")),
            "tts_first_audio": stats(stage_values(turns, "ttfb", "tts")),
            "voice_to_voice_server": stats(stage_values(turns, "processing", "voice_to_voice")),
        },
        "webrtc": webrtc,
        "errors": [t["error"] for t in turns if "error" in t]
        + [t["error"] for t in webrtc.get("turns", []) if t.get("error")]
        + webrtc.get("concurrent", {}).get("failures", []),
        "turns": [
            {
                "said": QUESTIONS[i % len(QUESTIONS)],
                "heard": t.get("user_text"),
                "answer": t.get("answer"),
                "voice_to_voice": _rounded(t.get("voice_to_voice_client")),
                "endpointing": _rounded(
                    next(iter(stage_values([t], "processing", "endpointing")), None)
                ),
            }
            for i, t in enumerate(turns)
        ],
    }
    if not args.skip_tools:
        from bench.tools_eval import run as tools_eval
        from rtvi_edge.config import Config

        result["tool_calling"] = tools_eval(Config(), work / "tools")
    if not args.skip_wake:
        from bench.wake_eval import run as wake_eval

        result["wake_word"] = wake_eval(work / "wake")
    if not args.skip_barge_in:
        from bench.barge_in_eval import run as barge_in_eval

        result["barge_in"] = barge_in_eval(work / "barge", args.barge_in_trials)
    if args.lan:
        from bench.lan_bench import run as lan_bench

        result["lan_server"] = lan_bench(work / "lan", args.turns)
    if not args.skip_turn:
        result["end_of_turn"] = turn_eval(args, work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print_table(result)
    print(f"\nJSON: {args.out}")
    return 0 if not result["errors"] else 1


def webrtc_column(
    pid: int,
    port: int,
    work: Path,
    turns_input: list[tuple[bytes, float]],
    utterances: list[tuple[bytes, float]],
    sessions: int,
) -> dict[str, Any]:
    """The same questions over SmallWebRTC in the same daemon. Memory: `sessions` WebSocket
    clients at once, the peak; then as many WebRTC ones, the growth of the peak (the
    transport's own cost: aiortc, Opus, ICE). Then the official client in Chromium over
    both transports, turn by turn."""
    from bench import webrtc_bench, webrtc_browser

    base = f"http://127.0.0.1:{port}"
    ws_url = f"http://127.0.0.1:{port}/ws"
    few = utterances[:2]
    asyncio.run(_concurrent_ws(ws_url, few, sessions))
    websocket_peak = proc_memory(pid).get("VmHWM", 0)
    turns = asyncio.run(webrtc_bench.measure_turns(base, turns_input))
    concurrent = asyncio.run(webrtc_bench.concurrent_turns(base, few, sessions))
    webrtc_peak = proc_memory(pid).get("VmHWM", 0)
    official = webrtc_browser.measure(port, work, turns_input)
    return {
        # the official client in Chromium, both transports measured the same way
        "voice_to_voice_official_client_secs": stats(official.get("webrtc", [])),
        "voice_to_voice_official_client_websocket_secs": stats(official.get("websocket", [])),
        "voice_to_voice_client_secs": stats([t.get("voice_to_voice_client") for t in turns]),
        "voice_to_voice_server_secs": stats(stage_values(turns, "processing", "voice_to_voice")),
        "turns": [{"heard": t.get("user_text"), "error": t.get("error")} for t in turns],
        "concurrent": concurrent,
        "peak_rss_websocket_sessions_mib": round(websocket_peak, 1),
        "peak_rss_webrtc_sessions_mib": round(webrtc_peak, 1),
        "peak_rss_growth_over_websocket_mib": round(webrtc_peak - websocket_peak, 1),
        "load_average": os.getloadavg(),
    }


async def _concurrent_ws(url: str, utterances: list[tuple[bytes, float]], sessions: int) -> None:
    await asyncio.gather(*(measure_turns(url, utterances, 90.0) for _ in range(sessions)))


def turn_eval(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Calibration and held-out numbers offline (bench.turn_eval), then at the client."""
    from bench import turn_bench, turn_fuse

    sets = turn_fuse.sets(work / "turns", args.turn_items)
    modes = args.turn_modes.split(",")
    return {
        "offline": turn_fuse.run(sets),
        "client": {
            name: turn_bench.run(items, work / f"turn-client-{name}", modes, args.turn_client_items)
            for name, items in sets.items()
        },
    }


def turn_main(args: argparse.Namespace, work: Path) -> int:
    result = {"end_of_turn": turn_eval(args, work)}
    out = args.out.with_name("bench-turn.json") if args.out.name == "bench.json" else args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print_turn(result["end_of_turn"])
    print(f"\nJSON: {out}")
    return 0


def print_turn(r: dict[str, Any]) -> None:
    from bench.turn_bench import print_table as client_table

    off = r["offline"]
    cal = off["calibration"]
    print(f"end of turn, offline ({cal['items']} calibration turns, {cal['paused']} paused)")
    print(f"  chosen on the calibration split: {cal['chosen']}")
    for key, held in off.items():
        if not key.startswith("held_out_"):
            continue
        print(f"  {key} ({held['items']} turns, {held['paused']} paused; blind)")
        for mode, s in held.items():
            if not isinstance(s, dict):
                continue
            print(
                f"    {mode:<20} premature {s['premature']:>3}/{held['paused']} paused"
                f"   late {s['late']:>3}   end delay p50 {s['end_delay_median']} s"
                f" p90 {s['end_delay_p90']} s"
            )
    for name, client in r["client"].items():
        print(f"\n[{name} set]", end="")
        client_table(client)


def print_table(r: dict[str, Any]) -> None:
    def fmt(v: float | None, unit: str = "s") -> str:
        return "-" if v is None else (f"{v * 1000:.0f} ms" if unit == "s" else f"{v:.0f} {unit}")

    if "cpu_limit" in r:
        print(f"daemon on {r['cpu_limit']['daemon_on']}; load average {r['load_average']}")
    print(f"{'metric':<34}{'median':>10}{'p90':>10}{'n':>5}")
    rows = [
        ("voice-to-voice, official web client", r["voice_to_voice_real_client_secs"]),
        ("voice-to-voice, Python WS client", r["voice_to_voice_client_secs"]),
    ]
    rows += [(f"  {k.replace('_', ' ')}", v) for k, v in r["stages_secs"].items()]
    rtc = r.get("webrtc") or {}
    if rtc:
        rows += [
            (
                "official client in Chromium, WS",
                rtc["voice_to_voice_official_client_websocket_secs"],
            ),
            ("official client in Chromium, WebRTC", rtc["voice_to_voice_official_client_secs"]),
            ("voice-to-voice, Python WebRTC client", rtc["voice_to_voice_client_secs"]),
            ("  voice to voice server (WebRTC)", rtc["voice_to_voice_server_secs"]),
        ]
    for name, s in rows:
        print(f"{name:<34}{fmt(s['median']):>10}{fmt(s['p90']):>10}{s['n']:>5}")
    if rtc:
        c = rtc["concurrent"]
        print(
            f"{'WebRTC, concurrent sessions':<34}{c['sessions']:>10}   turns answered "
            f"{c['turns_answered']}/{c['turns_asked']}"
        )
        growth = rtc["peak_rss_growth_over_websocket_mib"]
        print(f"{'peak RSS growth over WebSocket':<34}{fmt(growth, 'MiB'):>10}")
    print(f"{'ready after start':<34}{fmt(r['startup']['ready_secs']):>10}")
    print(f"{'stop after SIGTERM':<34}{fmt(r['startup']['stop_secs']):>10}")
    print(f"{'peak RSS':<34}{fmt(r['memory_mib']['peak_rss'], 'MiB'):>10}")
    idle = r.get("idle_cpu_pct_of_one_core")
    if idle:
        print(f"{'idle CPU, no client':<34}{fmt(idle['no_client_pct'], '%'):>10}")
        print(f"{'idle CPU, a silent client':<34}{fmt(idle['silent_client_pct'], '%'):>10}")
    tools = r.get("tool_calling")
    if tools:
        from bench.tools_eval import print_report

        print_report(tools)
    wake = r.get("wake_word")
    if wake:
        print(f"\n{'wake word (espeak voices)':<34}{'detected':>10}{'false/h':>10}")
        for name, s in wake.items():
            if isinstance(s, dict):
                print(f"  {name:<32}{s['detected']:>10.1%}{s['false_accepts_per_hour']:>10.1f}")
        print(f"  (false accepts over {wake['negative_speech_secs']:.0f} s of ordinary speech)")
    barge = r.get("barge_in")
    if barge:
        from bench.barge_in_eval import print_summary

        print()
        print_summary(barge)
    if r.get("lan_server"):
        from bench.lan_bench import print_table as lan_table

        lan_table(r["lan_server"])
    if r.get("end_of_turn"):
        print()
        print_turn(r["end_of_turn"])


if __name__ == "__main__":
    raise SystemExit(main())
