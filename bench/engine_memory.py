"""What each engine holds: each default engine loaded and used alone, in a fresh process.

    .venv/bin/python -m bench.engine_memory            # a table (MiB)
    .venv/bin/python -m bench.engine_memory --json
    .venv/bin/python -m bench.engine_memory --pid PID  # a running daemon's RSS by owner
    .venv/bin/python -m bench.engine_memory --session 10 [--set 'webrtc.enabled=false']

For each engine: RSS of the bare process (Python, numpy and rtvi_edge's config), after
importing the engine's library, after loading the model, and the peak (VmHWM) while it
works on a typical turn's input; `held` = loaded - bare, `working` = peak - loaded.
Each child tunes glibc's allocator first, as the daemon does (rtvi_edge/memory.py).
Loading itself can peak higher than any turn (Whisper's float16 model.bin is read, then
quantised to int8): `load pk` is that peak; the peak is then reset (clear_refs), so that
`peak` and `working` are the work's own.

`--session N` starts the daemon as the bench does (default models) and talks N spoken turns
to it over one WebSocket: RSS after start (the turn model loaded), the peak (VmHWM), and
the resident memory by owner at the end. `--set SECTION.KEY=VALUE` adds config;
`--trace FILE` samples its RSS every 20 ms with the engine calls in flight
(bench/memory_trace.py; `python -m bench.memory_trace --summarize FILE`).

`--pid` groups a running process's resident pages (/proc/PID/smaps) by what they belong
to: a model file, a package's native libraries, the C heap and anonymous maps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ENGINES = ["whisper", "llama", "piper", "silero", "smart_turn", "wake_word"]
SENTENCE_5 = "The kitchen light is on."
SENTENCE_25 = (
    "It is sunny and mild today with a light breeze from the west, and it should stay "
    "dry until the evening, when a few clouds may roll in from the sea."
)


def _mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _loaded() -> tuple[float, float]:
    """RSS now and the peak so far (loading's), then the peak reset so that the peak
    measured next is the work's own (`5` to clear_refs resets VmHWM, Linux 4.0+)."""
    now, peak = _mib("VmRSS"), _mib("VmHWM")
    # Not Linux, or not allowed: the work's peak then includes loading's.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return now, peak


def _speech(secs: float) -> bytes:
    """Speech-like audio from espeak-ng when it is there (the bench's speech), else noise."""
    import numpy as np

    try:
        from bench.speech import make_wav

        with tempfile.TemporaryDirectory() as tmp:
            pcm, _ = make_wav("What is the capital of France?", Path(tmp) / "q.wav")
            return pcm
    except (OSError, subprocess.CalledProcessError):
        rng = np.random.default_rng(0)
        return (rng.normal(0, 3000, int(secs * 16000))).astype(np.int16).tobytes()


def measure(engine: str) -> dict[str, Any]:
    from rtvi_edge.config import Config
    from rtvi_edge.memory import tune_malloc

    tune_malloc()
    config = Config()
    out: dict[str, Any] = {"engine": engine, "bare": _mib("VmRSS")}
    if engine == "whisper":
        from rtvi_edge.engines.whisper_import import import_faster_whisper

        import_faster_whisper()  # as the daemon does: without PyAV

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.engines.hub import build_stt

        stt = build_stt(config)
        out["loaded"], out["load_peak"] = _loaded()
        stream = stt.open_stream()
        stream.feed(_speech(3))
        out["result"] = stream.finish()
    elif engine == "llama":
        import llama_cpp  # noqa: F401

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.engines.base import GenerationParams, GenerationStats
        from rtvi_edge.engines.hub import build_llm

        llm = build_llm(config)
        out["loaded"], out["load_peak"] = _loaded()
        messages = [
            {"role": "system", "content": config.llm.system_prompt},
            {"role": "user", "content": "What is the capital of France?"},
        ]
        params = GenerationParams(temperature=0.0)
        text = llm.stream_chat(messages, params, threading.Event(), GenerationStats())
        out["result"] = "".join(text)
    elif engine == "piper":
        import piper  # noqa: F401

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.engines.hub import build_tts

        tts = build_tts(config)
        out["loaded"], out["load_peak"] = _loaded()
        short = sum(len(b) for b in tts.synthesize(SENTENCE_5, 1.0))
        out["peak_5_words"] = _mib("VmHWM")
        long = sum(len(b) for b in tts.synthesize(SENTENCE_25, 1.0))
        out["result"] = f"{short / 2 / tts.sample_rate:.1f} s + {long / 2 / tts.sample_rate:.1f} s"
    elif engine == "silero":
        import onnxruntime

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.engines.hub import build_vad

        vad = build_vad(config).open_stream()
        out["loaded"], out["load_peak"] = _loaded()
        pcm = _speech(3)
        probs = [vad.probability(pcm[i : i + 1024]) for i in range(0, len(pcm) - 1023, 1024)]
        out["result"] = f"max p {max(probs):.2f}"
    elif engine == "smart_turn":
        import onnxruntime  # noqa: F401

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.engines.turn_smart import SmartTurn, packaged_model

        turn = SmartTurn(packaged_model(), config.turn.threads)
        out["loaded"], out["load_peak"] = _loaded()
        out["result"] = f"p(complete) {turn.probability(_speech(3)):.2f}"
    elif engine == "wake_word":
        import pymicro_wakeword  # noqa: F401

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.audio.wake import WakeWordDetector

        wake = WakeWordDetector(config.wake.model)
        out["loaded"], out["load_peak"] = _loaded()
        out["result"] = f"woke: {wake.process(_speech(3))}"
    out["peak"] = _mib("VmHWM")
    out["held"] = out["loaded"] - out["bare"]
    out["working"] = out["peak"] - out["loaded"]
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}


def _owner(path: str) -> str:
    """What a mapping belongs to: a model file, a package, a system library, anonymous."""
    if not path:
        return "[anonymous]"
    if path.startswith("["):
        return path
    if path.endswith((".gguf", ".onnx", ".bin", ".tflite")):
        return "model " + Path(path).name
    if "site-packages/" in path:
        package = path.split("site-packages/", 1)[1].split("/", 1)[0]
        return "package " + package.removesuffix(".libs")
    return "system " + Path(path).name.split(".so")[0]


def by_owner(pid: int) -> dict[str, float]:
    """A process's resident MiB by owner, largest first (from /proc/PID/smaps)."""
    sizes: dict[str, int] = {}
    owner = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            fields = line.split(maxsplit=5)
            owner = _owner(fields[5].strip() if len(fields) > 5 else "")
        elif line.startswith("Rss:"):
            sizes[owner] = sizes.get(owner, 0) + int(line.split()[1])
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])
    return {name: round(kib / 1024, 1) for name, kib in ranked if kib >= 512}


def session(turns: int, settings: list[str], trace: Path | None = None) -> dict[str, Any]:
    """The daemon's idle and peak RSS over `turns` spoken turns (see the docstring)."""
    import asyncio
    import signal
    import time

    from bench.run import free_port, proc_memory, start_daemon
    from bench.speech import QUESTIONS, make_wav
    from bench.ws_client import measure_turns

    extra = ""
    for item in settings:  # section.key=value, the value as TOML
        key, _, value = item.partition("=")
        section, _, name = key.rpartition(".")
        extra += f"[{section}]\n{name} = {value}\n"
    work = Path(tempfile.mkdtemp(prefix="rtvi-memory-"))
    said = [make_wav(q, work / f"q{i}.wav") for i, q in enumerate(QUESTIONS)]
    port = free_port()
    if trace is None:
        proc, _ready = start_daemon(work, port, extra)
    else:  # RSS every 20 ms with the engines in flight (bench/memory_trace.py)
        env = {"RTVI_MEMORY_TRACE": str(trace)}
        proc, _ready = start_daemon(work, port, extra, module="bench.memory_trace", env=env)
    try:
        time.sleep(6)  # the turn model loads in the background after ready
        at_idle = proc_memory(proc.pid)
        idle, start_peak = at_idle["VmRSS"], at_idle["VmHWM"]  # loading's peak, before turns
        url = f"http://127.0.0.1:{port}/ws"
        done = asyncio.run(measure_turns(url, [said[i % len(said)] for i in range(turns)]))
        peak = proc_memory(proc.pid)["VmHWM"]
        owners = by_owner(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return {
        "turns": turns,
        "settings": settings,
        "idle_rss_mib": round(idle, 1),
        "peak_rss_mib": round(peak, 1),
        "start_peak_rss_mib": round(start_peak, 1),
        "errors": [t["error"] for t in done if "error" in t],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "by_owner_mib": owners,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--one", choices=ENGINES, help=argparse.SUPPRESS)  # the child's part
    ap.add_argument("--pid", type=int, help="a running daemon: its resident memory by owner")
    ap.add_argument("--session", type=int, metavar="TURNS", help="the daemon over spoken turns")
    ap.add_argument("--set", action="append", default=[], help="with --session: SECTION.KEY=VALUE")
    ap.add_argument("--trace", type=Path, help="with --session: RSS every 20 ms, engines in flight")
    args = ap.parse_args()
    if args.session:
        print(json.dumps(session(args.session, args.set, args.trace), indent=2))
        return 0
    if args.pid:
        owners = by_owner(args.pid)
        if args.json:
            print(json.dumps(owners, indent=2))
        else:
            print(f"{sum(owners.values()):8.1f}  MiB resident in total (owners of >= 0.5 MiB)")
            for name, mib in owners.items():
                print(f"{mib:8.1f}  {name}")
        return 0
    if args.one:
        print(json.dumps(measure(args.one)))
        return 0
    rows = []
    for engine in ENGINES:
        run = subprocess.run(
            [sys.executable, "-m", "bench.engine_memory", "--one", engine],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if run.returncode != 0:
            rows.append({"engine": engine, "error": run.stderr.strip().splitlines()[-1:]})
            continue
        rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"{'engine':<12}{'bare':>7}{'import':>8}{'loaded':>8}{'held':>7}{'load pk':>8}"
        f"{'peak':>7}{'working':>9}"
    )
    for r in rows:
        if "error" in r:
            print(f"{r['engine']:<12} failed: {r['error']}")
            continue
        print(
            f"{r['engine']:<12}{r['bare']:>7.0f}{r['imported']:>8.0f}{r['loaded']:>8.0f}"
            f"{r['held']:>7.0f}{r['load_peak']:>8.0f}{r['peak']:>7.0f}{r['working']:>9.0f}"
            f"   {r.get('result', '')}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
