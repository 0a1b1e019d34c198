"""Where a finished question's time goes: per-stage p50/p90 from the end of speech.

Starts the daemon (default config, its log at info), speaks complete utterances
through the official client (@pipecat-ai/client-js under Node, one connection per
set, as `bench.run` does), and reads each turn's stages from the daemon's
`turn timeline` log line (`rtvi_edge/pipeline/turn_metrics.py`): ms after the end
of the speech as the VAD places it.

    python -m bench.turn_stages                 # generated questions, human complete items
    python -m bench.turn_stages --sets generated --turns 10

Stages (first time each is reached in the turn's last pause): paused (one silent
VAD frame), transcript (the speculative decode), text_cue, eou_asked / eou (the
LLM's end-of-turn probability), speculation (the gated answer starts),
tools_decided, llm_first_token, tts_started / audio_ready (Piper's first piece),
verdict_asked / verdict (Smart Turn), ended (the decision), final, committed
(the held answer is released), first_audio (the first frame out); client: first
bot audio at the official client after the end of the WAV's speech. Derived:
`audio_after_end` (the answer was ready this long after the decision: the user
waits for the answer) and `end_after_audio` (the decision came this long after
the answer was ready: the user waits for the decision).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.turn_bench import CLIENT

ROOT = Path(__file__).resolve().parent.parent
STAGES = (
    "paused",
    "transcript",
    "text_cue",
    "eou_asked",
    "eou",
    "speculation",
    "tools_decided",
    "llm_first_token",
    "tts_started",
    "audio_ready",
    "verdict_asked",
    "verdict",
    "ended",
    "final",
    "committed",
    "first_audio",
)
MARK = "turn timeline "


def generated(work: Path, turns: int) -> list[tuple[Path, float]]:
    """bench.run's questions (espeak-ng), `turns` of them in turn."""
    from bench.speech import QUESTIONS, make_wav

    made = [
        (work / f"q{i}.wav", make_wav(q, work / f"q{i}.wav")[1]) for i, q in enumerate(QUESTIONS)
    ]
    return [made[i % len(made)] for i in range(turns)]


def human(work: Path, turns: int) -> list[tuple[Path, float]]:
    """The human set's complete utterances (both splits: timing only, nothing is tuned)."""
    from bench import human_set

    if not human_set.available():
        print("(no human recordings: scripts/fetch-human-speech)", file=sys.stderr)
        return []
    items = [i for i in human_set.build(work / "human") if not i.pause_secs]
    return [(i.wav, i.end) for i in items][:turns]


def speak(port: int, wavs: list[tuple[Path, float]], work: Path, name: str) -> list[float | None]:
    """One client connection, every WAV in turn; the client's voice-to-voice per turn."""
    steps: list[dict[str, Any]] = [{"do": "connect"}, {"do": "sleep", "ms": 300}]
    for wav, end in wavs:
        steps += [
            {"do": "speak", "wav": str(wav), "speechEndOffsetMs": end * 1000},
            {"do": "wait", "type": "bot-stopped-speaking", "timeoutMs": 30000},
            {"do": "sleep", "ms": 500},
        ]
    plan = work / f"plan-{name}.json"
    plan.write_text(
        json.dumps(
            {"wsUrl": f"ws://127.0.0.1:{port}/ws", "steps": steps, "timeoutMs": 30000 * len(wavs)}
        )
    )
    run = subprocess.run(
        ["node", str(CLIENT), str(plan)],
        capture_output=True,
        text=True,
        cwd=CLIENT.parent,
        timeout=35 * len(wavs) + 30,
    )
    out: list[float | None] = []
    for line in run.stdout.splitlines():
        if '"firstBotAudio"' in line:
            out.append(json.loads(line)["msAfterSpeechEnd"])
    return out


def timelines(log: Path, after: int) -> list[dict[str, Any]]:
    """The `turn timeline` records of the daemon's log from byte `after` on."""
    out = []
    with log.open("rb") as f:
        f.seek(after)
        for raw in f:
            line = raw.decode("utf-8", "replace")
            if MARK in line:
                out.append(json.loads(line.split(MARK, 1)[1]))
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def summarise(rows: list[dict[str, Any]], client: list[float | None]) -> dict[str, Any]:
    per: dict[str, list[float]] = {s: [] for s in (*STAGES, "audio_after_end", "end_after_audio")}
    ended_by: dict[str, int] = {}
    restarted = 0
    for r in rows:
        ms = r["ms"]
        for s in STAGES:
            if s in ms:
                per[s].append(ms[s])
        if "ended" in ms and "audio_ready" in ms:
            per["audio_after_end"].append(max(0.0, ms["audio_ready"] - ms["ended"]))
            per["end_after_audio"].append(max(0.0, ms["ended"] - ms["audio_ready"]))
        how = str(r["values"].get("ended", "?"))
        ended_by[how] = ended_by.get(how, 0) + 1
        restarted += "restarted" in ms
    per["client"] = [c for c in client if c is not None]
    stages = {
        s: {"p50": round(statistics.median(v)), "p90": round(pct(v, 0.9)), "n": len(v)}
        for s, v in per.items()
        if v
    }
    return {
        "turns": len(rows),
        "ended_by": ended_by,
        "restarted": restarted,
        "stages": stages,
        "rows": rows,
    }


def print_set(name: str, s: dict[str, Any]) -> None:
    print(
        f"\n{name}: {s['turns']} turns; ended by (verdict/text): {s['ended_by']}; "
        f"answer restarted after the decision: {s['restarted']}"
    )
    print(f"  {'stage (ms after the end of speech)':<36}{'p50':>7}{'p90':>7}{'n':>4}")
    for stage, v in s["stages"].items():
        print(f"  {stage:<36}{v['p50']:>7}{v['p90']:>7}{v['n']:>4}")


def main() -> int:
    from bench.run import free_port, start_daemon, stop_daemon

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--turns", type=int, default=10, help="turns per set (at most)")
    ap.add_argument("--sets", default="generated,human")
    ap.add_argument("--extra", default="", help="more TOML for the daemon's config")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "turn-stages.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rtvi-stages-"))
    makers = {"generated": generated, "human": human}
    sets = {n: makers[n](work, args.turns) for n in args.sets.split(",")}
    log = work / "daemon.log"
    port = free_port()
    result: dict[str, Any] = {"load_average": [round(x, 2) for x in os.getloadavg()]}
    with log.open("wb") as err:
        proc, _ = start_daemon(work, port, args.extra, log_level="info", stderr=err)
        try:
            time.sleep(3)  # the turn model loads in the background after ready
            for name, wavs in sets.items():
                if not wavs:
                    continue
                start = log.stat().st_size
                client = speak(port, wavs, work, name)
                time.sleep(0.5)  # the metrics follow the audio
                result[name] = summarise(timelines(log, start), client)
        finally:
            stop_daemon(proc)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"load average before {result['load_average']}, after {result['load_average_after']}")
    for name in sets:
        if name in result:
            print_set(name, result[name])
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
