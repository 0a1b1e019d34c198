"""Did a memory or speed setting change what the device hears, says or when it speaks?

    .venv/bin/python -m bench.equivalence --out before.json     # on the old code
    .venv/bin/python -m bench.equivalence --compare before.json # on the new: exit 1 if changed

Runs each default engine on fixed input with every source of randomness off: Whisper's
transcripts of the bench's spoken questions, SmolLM2's greedy answers to them (a
10-turn conversation, then a long prompt), Piper's audio with its noise at 0 (a hash),
Silero's speech probabilities and Smart Turn's end-of-turn probabilities on the same
audio (these decide when the turn ends, so when the device speaks).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.speech import QUESTIONS, make_wav


def outputs() -> dict[str, Any]:
    from rtvi_edge.config import Config
    from rtvi_edge.engines.base import GenerationParams, GenerationStats
    from rtvi_edge.engines.hub import build_llm, build_stt, build_tts, build_vad
    from rtvi_edge.engines.turn_smart import SmartTurn, packaged_model

    config = Config()
    with tempfile.TemporaryDirectory() as tmp:
        speech = [make_wav(q, Path(tmp) / f"q{i}.wav")[0] for i, q in enumerate(QUESTIONS)]
    out: dict[str, Any] = {}
    stt = build_stt(config)
    heard = []
    for pcm in speech:
        stream = stt.open_stream()
        stream.feed(pcm)
        heard.append(stream.finish())
    out["transcripts"] = heard
    llm = build_llm(config)
    greedy = GenerationParams(temperature=0.0, max_tokens=config.llm.max_tokens)
    history: list[dict[str, Any]] = [{"role": "system", "content": config.llm.system_prompt}]
    answers = []
    for question in [*QUESTIONS, *QUESTIONS]:
        history.append({"role": "user", "content": question})
        answer = "".join(llm.stream_chat(history, greedy, threading.Event(), GenerationStats()))
        history.append({"role": "assistant", "content": answer})
        answers.append(answer)
    long = " ".join(["Tell me about the bridges of Paris and who built them."] * 40)
    answers.append("".join(llm.stream_chat(
        [history[0], {"role": "user", "content": long}], greedy, threading.Event(),
        GenerationStats(),
    )))  # fmt: skip
    out["answers"] = answers
    tts = build_tts(replace(config, tts=replace(config.tts, noise_scale=0.0, noise_w=0.0)))
    audio = [b"".join(tts.synthesize(a, 1.0)) for a in answers[:5]]
    out["tts_sha256"] = [hashlib.sha256(a).hexdigest()[:16] for a in audio]
    vad = build_vad(config).open_stream()
    out["vad"] = []
    for pcm in speech:
        vad.reset()
        probs = [vad.probability(pcm[i : i + 1024]) for i in range(0, len(pcm) - 1023, 1024)]
        out["vad"].append([round(p, 4) for p in probs])
    turn = SmartTurn(packaged_model(), config.turn.threads)
    out["turn"] = [round(turn.probability(pcm), 4) for pcm in speech]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", type=Path, help="a --out file from the old code")
    args = ap.parse_args()
    now = outputs()
    if args.out:
        args.out.write_text(json.dumps(now, indent=1))
    if not args.compare:
        print(json.dumps(now, indent=1))
        return 0
    then = json.loads(args.compare.read_text())
    changed = [k for k in then if then[k] != now.get(k)]
    for key in changed:
        print(f"CHANGED {key}:\n  before {then[key]}\n  after  {now.get(key)}")
    print("unchanged: " + ", ".join(k for k in then if k not in changed))
    return 1 if changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
