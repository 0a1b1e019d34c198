"""Probe every pause of the end-of-turn sets once and keep what the models said.

The real listener runs on each WAV (Silero VAD, Smart Turn every 64 ms of silence,
Whisper tiny.en's speculative transcript and how it ends, SmolLM2's end-of-turn
probability for it), all verdicts held to "unfinished" so every pause lasts as long
as it really is (`bench.turn_eval.probe`). The result goes to a JSON per split, so
policy grids (`bench.turn_policy`) replay in seconds without the models. The
held-out file is written by the same code and read only for the final, blind
evaluation.

    python -m bench.turn_probes --split calibration
    python -m bench.turn_probes --split held_out
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import human_set
from bench.turn_eval import probe
from bench.turn_set import TurnItem, build
from bench.turn_sim import SHARED_TURN_MODEL, SimPause
from rtvi_edge.pipeline.text_cue import TextEnd

RESULTS = Path(__file__).with_name("results")
MAX_SECS = 1.6


def path_for(split: str) -> Path:
    return RESULTS / f"turn_probes_{split}.json"


def _pause_json(p: SimPause) -> dict[str, Any]:
    return {
        "at": round(p.at, 3),
        "verdicts": [[round(s, 3), None if v is None else round(v, 5)] for s, v in p.verdicts],
        "resumed_after": p.resumed_after,
        "text_end": None if p.text_end is None else p.text_end.value,
        "text_probability": p.text_probability,
        "text": p.text,
    }


def pause_from_json(d: dict[str, Any]) -> SimPause:
    return SimPause(
        at=d["at"],
        verdicts=[(s, v) for s, v in d["verdicts"]],
        resumed_after=d["resumed_after"],
        text_end=None if d["text_end"] is None else TextEnd(d["text_end"]),
        text_probability=d["text_probability"],
        text=d["text"],
    )


def load(split: str) -> list[dict[str, Any]]:
    """[{set, name, text, pause_secs, ..., pauses: [SimPause]}] of one split."""
    items: list[dict[str, Any]] = json.loads(path_for(split).read_text())["items"]
    for item in items:
        item["pauses"] = [pause_from_json(p) for p in item["pauses"]]
    return items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", choices=("calibration", "held_out"), required=True)
    ap.add_argument("--items", type=int, default=40, help="generated items per split")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="turn-probes-"))
    sets: dict[str, list[TurnItem]] = {
        "human": human_set.build(folder / "human", split=args.split),
        "generated": [
            i for i in build(folder / "generated", per_split=args.items) if i.split == args.split
        ],
    }
    SHARED_TURN_MODEL.load()
    out: list[dict[str, Any]] = []
    started = time.monotonic()
    for name, items in sets.items():
        for item in items:
            (pauses,) = probe([item], MAX_SECS)
            meta = {k: v for k, v in dataclasses.asdict(item).items() if k != "wav"}
            out.append({"set": name, **meta, "pauses": [_pause_json(p) for p in pauses]})
            print(f"{time.monotonic() - started:6.0f}s {name} {item.name}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    path_for(args.split).write_text(json.dumps({"max_secs": MAX_SECS, "items": out}, indent=0))
    print(path_for(args.split))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
