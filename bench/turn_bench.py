"""End-of-turn at the official client: the held-out turns spoken to the real daemon.

For each mode (turn model on / off, optionally another Whisper model) a daemon
starts on 127.0.0.1 and every held-out item is spoken through
@pipecat-ai/client-js under Node, one client run per item. Reported:
voice-to-voice p50/p90 (end of speech → first bot audio, as the client sees
it), premature cut-offs (the user's turn was ended inside the sentence: a final
transcript or bot audio before the speech ended), late ends (voice-to-voice
over 1 s), and the word error rate of the client's final transcripts against the
offline decode of the same WAVs (`rtvi-edge transcribe`).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.turn_set import TurnItem

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "tests" / "client" / "rtvi-client.mjs"
LATE_SECS = 1.0


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(edit distance in words, words in the reference)."""
    r, h = words(ref), words(hyp)
    row = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, row[0] = row[0], i
        for j, hw in enumerate(h, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (rw != hw))
    return row[-1], len(r)


def wer(pairs: list[tuple[str, str]]) -> float | None:
    errors = total = 0
    for ref, hyp in pairs:
        e, n = word_errors(ref, hyp)
        errors, total = errors + e, total + n
    return round(errors / total, 4) if total else None


def _start(work: Path, port: int, extra: str) -> subprocess.Popen[bytes]:
    from bench.run import start_daemon

    proc, _ready = start_daemon(work, port, extra)
    return proc


def speak_item(port: int, item: TurnItem, work: Path) -> dict[str, Any]:
    """One client run: connect, speak the item, wait for the answer."""
    plan = {
        "wsUrl": f"ws://127.0.0.1:{port}/ws",
        "timeoutMs": 45000,
        "steps": [
            {"do": "connect"},
            {"do": "sleep", "ms": 300},
            {
                "do": "speak",
                "wav": str(item.wav),
                "speechEndOffsetMs": item.end * 1000,
                "waitForEnd": True,
            },
            {
                "do": "wait",
                "type": "bot-stopped-speaking",
                "timeoutMs": 15000,
                "fromStart": True,
                "optional": True,
            },
            {"do": "sleep", "ms": 200},
        ],
    }
    path = work / f"plan-{item.name}.json"
    path.write_text(json.dumps(plan))
    run = subprocess.run(
        ["node", str(CLIENT), str(path)],
        capture_output=True,
        text=True,
        cwd=CLIENT.parent,
        timeout=60,
    )
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    end_t = next((e["speechEndMs"] for e in events if e.get("event") == "speechEnd"), None)
    finals = [
        (e["t"], e["data"]["text"])
        for e in events
        if e.get("event") == "userTranscript" and e.get("data", {}).get("final")
    ]
    first = next((e for e in events if e.get("event") == "firstBotAudio"), None)
    started = [e["t"] for e in events if e.get("event") == "botStartedSpeaking"]
    early = end_t is not None and (
        any(t < end_t for t, _ in finals) or any(t < end_t for t in started)
    )
    last = finals[-1][1] if finals else ""
    return {
        "item": item.name,
        "text": item.text,
        "pause_secs": item.pause_secs,
        # the whole utterance is one transcript: the last final (a turn taken back is
        # joined into it), else what the client saw in pieces
        "transcript": last if _covers(item.text, last) else " ".join(t for _, t in finals),
        "finals": len(finals),
        "whole": _covers(item.text, last),
        "v2v": None if first is None or early else first["msAfterSpeechEnd"] / 1000,
        "premature": early,
    }


def _covers(ref: str, hyp: str) -> bool:
    """The last answer was for the whole utterance: its transcript has most of the words."""
    r, h = words(ref), set(words(hyp))
    return bool(r) and sum(w in h for w in r) >= 0.7 * len(r)


def run_mode(name: str, extra: str, items: list[TurnItem], work: Path, port: int) -> dict[str, Any]:
    from bench.run import stop_daemon  # (bench.run imports this module)

    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    proc = _start(folder, port, extra)
    try:
        rows = [speak_item(port, item, folder) for item in items]
    finally:
        stop_daemon(proc)
    v2v = sorted(r["v2v"] for r in rows if r["v2v"] is not None)
    whole = sorted(r["v2v"] for r in rows if r["v2v"] is not None and not r["pause_secs"])
    return {
        "items": len(rows),
        "answered": len(v2v),
        "voice_to_voice_p50": round(statistics.median(v2v), 3) if v2v else None,
        "voice_to_voice_p90": round(v2v[min(len(v2v) - 1, int(0.9 * len(v2v)))], 3)
        if v2v
        else None,
        "complete_p50": round(statistics.median(whole), 3) if whole else None,
        "complete_p90": round(whole[min(len(whole) - 1, int(0.9 * len(whole)))], 3)
        if whole
        else None,
        "premature": sum(r["premature"] for r in rows),
        "premature_of_paused": sum(r["premature"] for r in rows if r["pause_secs"] > 0),
        "late": sum(v > LATE_SECS for v in v2v),
        "answered_whole": sum(r["whole"] for r in rows),
        "wer_client": wer([(r["text"], r["transcript"]) for r in rows]),
        "rows": rows,
    }


def offline_wer(items: list[TurnItem], stt_model: str = "") -> tuple[float | None, float]:
    """WER of `rtvi-edge transcribe` on the same WAVs, and its mean decode seconds."""
    from rtvi_edge.audio.wav import read_wav
    from rtvi_edge.config import Config, replace_section
    from rtvi_edge.engines.hub import build_stt

    config = replace_section(Config(), "stt", model=stt_model)
    stt = build_stt(config)
    pairs, secs = [], []
    for item in items:
        stream = stt.open_stream()
        stream.feed(read_wav(item.wav, 16000))
        t0 = time.monotonic()
        pairs.append((item.text, stream.finish()))
        secs.append(time.monotonic() - t0)
    return wer(pairs), round(statistics.fmean(secs), 3)


def run(
    items: list[TurnItem], work: Path, modes: list[str], limit: int | None = None
) -> dict[str, Any]:
    """The first `limit` held-out items (half of them paused) in each mode."""
    from bench.run import free_port

    held = [i for i in items if i.split == "held_out"][:limit]
    short = "[llm]\nmax_tokens = 24\n"  # short answers: the first audio is what is timed
    # the policy before the language model's probability (its calibrated values then)
    before = (
        "[turn]\nenabled = true\nllm = false\nadapt = false\nrecover = false\n"
        "threshold = 0.7\nhold_threshold = 0.05\nunsure_secs = 0.288\n"
    )
    extras = {
        "turn_model": "[turn]\nenabled = true\n" + short,
        "turn_model_before": before + short,
        "fixed_0.35s": "[turn]\nenabled = false\n" + short,
        "turn_model_audio_only": "[turn]\nenabled = true\ntext = false\nllm = false\n" + short,
        "turn_model_whisper_base": '[turn]\nenabled = true\n[stt]\nmodel = "base"\n' + short,
    }
    out: dict[str, Any] = {"held_out_items": len(held)}
    offline, _ = offline_wer(held)
    out["wer_offline"] = offline
    for mode in modes:
        print(f"turn bench: {mode} ({len(held)} items)", file=sys.stderr)
        out[mode] = run_mode(mode, extras[mode], held, work, free_port())
    return out


def print_table(r: dict[str, Any]) -> None:
    print(f"\nend of turn at the official client ({r['held_out_items']} held-out turns)")
    head = ("mode", "p50", "p90", "cmpl50", "cmpl90", "early", "whole", "late", "WER")
    print(f"{head[0]:<24}" + "".join(f"{h:>8}" for h in head[1:]))

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f}"

    for mode, s in r.items():
        if not isinstance(s, dict):
            continue
        w = s["wer_client"]
        cells = (
            ms(s["voice_to_voice_p50"]),
            ms(s["voice_to_voice_p90"]),
            ms(s.get("complete_p50")),
            ms(s.get("complete_p90")),
            f"{s['premature']}",
            f"{s.get('answered_whole', '-')}",
            f"{s['late']}",
            "-" if w is None else f"{w:.1%}",
        )
        print(f"  {mode:<22}" + "".join(f"{c:>8}" for c in cells))
    off = r["wer_offline"]
    print(f"  {'offline decode (same WAVs)':<22}{'':>56}{'-' if off is None else f'{off:.1%}':>8}")
