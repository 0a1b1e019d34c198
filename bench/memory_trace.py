"""The daemon with its RSS sampled every 20 ms, tagged with the engine calls in flight (bench only).

    RTVI_MEMORY_TRACE=/tmp/trace.jsonl python -m bench.memory_trace --config x.toml run
    python -m bench.memory_trace --summarize /tmp/trace.jsonl

Wraps the engines' work before `rtvi_edge.cli.main` runs (Whisper's decode, Piper's
synthesis of each sentence, llama.cpp's generation and constrained calls, Smart Turn's
window) and samples /proc/self/statm in a thread. One JSON line per sample:
`{"t": seconds, "rss": MiB, "busy": ["piper:25w130c", "whisper:3.1", ...]}` (Piper's
tag carries the piece's words and characters, Whisper's the seconds of audio). The summary
gives, per combination of engines in flight, the samples, the highest RSS and how far above the
floor it went, and the top peaks with what ran. `bench.engine_memory --session N
--trace F` and `bench.reliability soak --trace F` start the daemon through it.
The production code is untouched.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PERIOD_SECS = 0.02
_OUT = os.environ.get("RTVI_MEMORY_TRACE", "")
_busy: dict[int, str] = {}  # call id -> tag
_busy_lock = threading.Lock()
_ids = iter(range(1 << 62))


def _enter(tag: str) -> int:
    with _busy_lock:
        key = next(_ids)
        _busy[key] = tag
    return key


def _leave(key: int) -> None:
    with _busy_lock:
        _busy.pop(key, None)


def _sampler(out: Path) -> None:
    page_mib = os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    t0 = time.monotonic()
    with out.open("a", encoding="utf-8") as f:
        while True:
            rss = int(Path("/proc/self/statm").read_text().split()[1]) * page_mib
            with _busy_lock:
                busy = sorted(_busy.values())
            line = {"t": round(time.monotonic() - t0, 3), "rss": round(rss, 1), "busy": busy}
            f.write(json.dumps(line) + "\n")
            f.flush()
            time.sleep(PERIOD_SECS)


def _wrap_call(cls: Any, name: str, tag: Callable[..., str]) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = _enter(tag(*args, **kwargs))
        try:
            return original(self, *args, **kwargs)
        finally:
            _leave(key)

    setattr(cls, name, call)


def _wrap_generator(cls: Any, name: str, tag: Callable[..., str]) -> None:
    """Tags each step of a generator (the engine works inside `next`, not between)."""
    original = getattr(cls, name)

    @functools.wraps(original)
    def gen(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        inner = iter(original(self, *args, **kwargs))
        label = tag(*args, **kwargs)
        try:
            while True:
                key = _enter(label)
                try:
                    item = next(inner, _END)
                finally:
                    _leave(key)
                if item is _END:
                    return
                yield item
        finally:
            close = getattr(inner, "close", None)
            if close is not None:
                close()

    setattr(cls, name, gen)


_END = object()


def _patch() -> None:
    from rtvi_edge.engines import llm_llama, stt_whisper, tts_piper, turn_smart

    _wrap_call(stt_whisper.WhisperStt, "decode", lambda pcm: f"whisper:{len(pcm) / 32000:.1f}")
    _wrap_generator(
        tts_piper.PiperTts, "synthesize", lambda text, _: f"piper:{len(text.split())}w{len(text)}c"
    )
    _wrap_generator(llm_llama.LlamaLlm, "stream_chat", lambda *a, **k: "llm")
    _wrap_call(llm_llama.LlamaLlm, "_constrained", lambda *a, **k: "llm")
    _wrap_call(llm_llama.LlamaLlm, "end_of_turn_probability", lambda *a, **k: "llm")
    _wrap_call(turn_smart.SmartTurn, "probability", lambda pcm: "smart_turn")


def summarize(path: Path, top: int = 12) -> dict[str, Any]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        return {"samples": 0}
    floor = min(r["rss"] for r in rows[len(rows) // 10 :])  # after loading
    combos: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = "+".join(sorted({b.split(":")[0] for b in r["busy"]})) or "idle"
        c = combos.setdefault(key, {"samples": 0, "max_rss": 0.0})
        c["samples"] += 1
        c["max_rss"] = max(c["max_rss"], r["rss"])
    for c in combos.values():
        c["above_floor"] = round(c["max_rss"] - floor, 1)
    # Local peaks at least 2 s apart, highest first.
    peaks: list[dict[str, Any]] = []
    for r in sorted(rows, key=lambda r: -r["rss"]):
        if all(abs(r["t"] - p["t"]) > 2 for p in peaks):
            peaks.append(r)
        if len(peaks) >= top:
            break
    return {
        "samples": len(rows),
        "secs": rows[-1]["t"],
        "floor": floor,
        "max_rss": max(r["rss"] for r in rows),
        "by_engines_in_flight": dict(sorted(combos.items(), key=lambda kv: -kv[1]["max_rss"])),
        "top_peaks": peaks,
    }


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--summarize":
        print(json.dumps(summarize(Path(sys.argv[2])), indent=1))
        return 0
    if _OUT:
        from rtvi_edge.memory import tune_malloc

        tune_malloc()  # before anything big is allocated, as the CLI does
        _patch()
        threading.Thread(target=_sampler, args=(Path(_OUT),), daemon=True).start()
    from rtvi_edge.cli import main as daemon_main

    return daemon_main()


if __name__ == "__main__":
    raise SystemExit(main())
