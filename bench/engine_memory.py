"""What each engine holds: each default engine loaded and used alone, in a fresh process.

    .venv/bin/python -m bench.engine_memory            # a table (MiB)
    .venv/bin/python -m bench.engine_memory --json

For each engine: RSS of the bare process (Python, numpy and rtvi_edge's config), after
importing the engine's library, after loading the model, and the peak (VmHWM) while it
works on a typical turn's input; `held` = loaded - bare, `working` = peak - loaded.
"""

from __future__ import annotations

import argparse
import json
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

    config = Config()
    out: dict[str, Any] = {"engine": engine, "bare": _mib("VmRSS")}
    if engine == "whisper":
        import faster_whisper  # noqa: F401

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.engines.hub import build_stt

        stt = build_stt(config)
        out["loaded"] = _mib("VmRSS")
        stream = stt.open_stream()
        stream.feed(_speech(3))
        out["result"] = stream.finish()
    elif engine == "llama":
        import llama_cpp  # noqa: F401

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.engines.base import GenerationParams, GenerationStats
        from rtvi_edge.engines.hub import build_llm

        llm = build_llm(config)
        out["loaded"] = _mib("VmRSS")
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
        out["loaded"] = _mib("VmRSS")
        short = sum(len(b) for b in tts.synthesize(SENTENCE_5, 1.0))
        out["peak_5_words"] = _mib("VmHWM")
        long = sum(len(b) for b in tts.synthesize(SENTENCE_25, 1.0))
        out["result"] = f"{short / 2 / tts.sample_rate:.1f} s + {long / 2 / tts.sample_rate:.1f} s"
    elif engine == "silero":
        import onnxruntime

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.engines.hub import build_vad

        vad = build_vad(config).open_stream()
        out["loaded"] = _mib("VmRSS")
        pcm = _speech(3)
        probs = [vad.probability(pcm[i : i + 1024]) for i in range(0, len(pcm) - 1023, 1024)]
        out["result"] = f"max p {max(probs):.2f}"
    elif engine == "smart_turn":
        import onnxruntime  # noqa: F401

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.engines.turn_smart import SmartTurn, packaged_model

        turn = SmartTurn(packaged_model(), config.turn.threads)
        out["loaded"] = _mib("VmRSS")
        out["result"] = f"p(complete) {turn.probability(_speech(3)):.2f}"
    elif engine == "wake_word":
        import pymicro_wakeword  # noqa: F401

        out["imported"] = _mib("VmRSS")
        from rtvi_edge.audio.wake import WakeWordDetector

        wake = WakeWordDetector(config.wake.model)
        out["loaded"] = _mib("VmRSS")
        out["result"] = f"woke: {wake.process(_speech(3))}"
    out["peak"] = _mib("VmHWM")
    out["held"] = out["loaded"] - out["bare"]
    out["working"] = out["peak"] - out["loaded"]
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--one", choices=ENGINES, help=argparse.SUPPRESS)  # the child's part
    args = ap.parse_args()
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
        f"{'engine':<12}{'bare':>7}{'import':>8}{'loaded':>8}{'held':>7}{'peak':>7}{'working':>9}"
    )
    for r in rows:
        if "error" in r:
            print(f"{r['engine']:<12} failed: {r['error']}")
            continue
        print(
            f"{r['engine']:<12}{r['bare']:>7.0f}{r['imported']:>8.0f}{r['loaded']:>8.0f}"
            f"{r['held']:>7.0f}{r['peak']:>7.0f}{r['working']:>9.0f}   {r.get('result', '')}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
