"""End of turn with the LLM's end-of-turn probability beside the audio model.

Calibration: every pause of every calibration item (human and generated sets
together) is probed once with the real listener (the audio model's verdict
every 64 ms, the transcript's ending, the LLM's probability for the
transcript), then the real endpointer is replayed over those recordings for a
grid of fused policies (`GRID`). Kept: the policy with the lowest mean wait
after the last word of each item whose premature ends stay within one paused
item in ten. The held-out halves are then run live (real listener, Whisper,
Smart Turn, SmolLM2) with the chosen policy, the previous default and the fixed
timeout, per set. Nothing is chosen on the held-out halves: their numbers are
blind.

    python -m bench.turn_fuse --items 40       # generated items per split
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench import human_set
from bench.turn_eval import _p90, _run, outcome, probe, replay
from bench.turn_set import TurnItem, build
from bench.turn_sim import SHARED_TURN_MODEL, SimPause
from rtvi_edge.pipeline.endpointing import EndpointParams

GRID: dict[str, tuple[Any, ...]] = {
    "turn_threshold": (0.8, 0.9, 0.95, 0.98),
    "turn_hold_threshold": (0.05, 0.1, 0.2, 0.3),
    "turn_unsure_secs": (0.224, 0.288, 0.352, 0.448),
    "turn_llm_weight": (1.0, 2.0, 3.0, 4.0),
    "turn_llm_neutral": (0.1, 0.3, 0.5, 0.7),
}
# The policy before the LLM's probability (its calibrated values; docs/turn-taking.md)
BEFORE = EndpointParams(
    turn_model=True,
    turn_threshold=0.7,
    turn_hold_threshold=0.05,
    turn_unsure_secs=0.288,
    turn_adapt=False,
)


def evaluate(probes: list[list[SimPause]], params: EndpointParams) -> tuple[int, list[float]]:
    """(items cut inside the sentence, wait after the last word per item)."""
    premature, waits = 0, []
    for pauses in probes:
        ends = replay(pauses, params)
        inner = [e for e, p in zip(ends, pauses, strict=True) if p.resumed_after]
        premature += any(e != float("inf") for e in inner)
        final = [e for e, p in zip(ends, pauses, strict=True) if not p.resumed_after]
        waits += [min(e, params.turn_max_secs) for e in final[-1:]]
    return premature, waits


def choose(
    probes: list[list[SimPause]], budget: int, max_secs: float
) -> tuple[EndpointParams, list[dict[str, Any]]]:
    table: list[dict[str, Any]] = []
    best: tuple[tuple[int, float], EndpointParams] | None = None
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        choice = dict(zip(keys, values, strict=True))
        if choice["turn_hold_threshold"] >= choice["turn_threshold"]:
            continue
        params = dataclasses.replace(BEFORE, turn_llm=True, turn_max_secs=max_secs, **choice)
        premature, waits = evaluate(probes, params)
        if not waits:
            continue
        mean = statistics.fmean(waits)
        table.append(
            {
                **choice,
                "premature": premature,
                "wait_mean": round(mean, 3),
                "wait_median": round(statistics.median(waits), 3),
                "wait_p90": round(_p90(waits), 3),
            }
        )
        key = (max(premature - budget, 0), mean)  # within the budget first, then the quickest
        if best is None or key < best[0]:
            best = (key, params)
    assert best is not None
    return best[1], table


def held_out(items: list[TurnItem], modes: dict[str, EndpointParams]) -> dict[str, Any]:
    out: dict[str, Any] = {"items": len(items), "paused": sum(i.pause_secs > 0 for i in items)}
    for name, params in modes.items():
        o = outcome(items, [_run(i, params) for i in items])
        out[name] = {
            "premature": o.premature,
            "late": o.late,
            "end_delay_median": round(statistics.median(o.end_delays), 3) if o.end_delays else None,
            "end_delay_p90": round(_p90(o.end_delays), 3) if o.end_delays else None,
        }
    return out


def chosen_values(p: EndpointParams) -> dict[str, Any]:
    return {k: getattr(p, k) for k in GRID}


def run(sets: dict[str, list[TurnItem]], max_secs: float = 1.6) -> dict[str, Any]:
    SHARED_TURN_MODEL.load()
    calib = [i for items in sets.values() for i in items if i.split == "calibration"]
    paused = sum(i.pause_secs > 0 for i in calib)
    probes = probe(calib, max_secs)
    budget = paused // 10
    tuned, table = choose(probes, budget, max_secs)
    before_premature, before_waits = evaluate(probes, BEFORE)
    report: dict[str, Any] = {
        "calibration": {
            "items": len(calib),
            "paused": paused,
            "budget": budget,
            "chosen": chosen_values(tuned),
            "before": {
                "premature": before_premature,
                "wait_mean": round(statistics.fmean(before_waits), 3),
            },
            "grid": sorted(table, key=lambda r: (r["premature"], r["wait_mean"]))[:30],
            "pauses": [
                [
                    {
                        "text": p.text,
                        "eou": p.text_probability,
                        "resumed_after": p.resumed_after,
                        "verdicts": p.verdicts[:4],
                    }
                    for p in pauses
                ]
                for pauses in probes
            ],
        }
    }
    modes = {
        "fixed_0.35s": EndpointParams(turn_adapt=False),
        "turn_model_before": BEFORE,
        "turn_model_llm": tuned,
    }
    for name, items in sets.items():
        report[f"held_out_{name}"] = held_out([i for i in items if i.split == "held_out"], modes)
    return report


def sets(folder: Path, per_split: int) -> dict[str, list[TurnItem]]:
    out = {"generated": build(folder / "generated", per_split=per_split)}
    if human_set.available():
        out["human"] = human_set.build(folder / "human")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=40, help="generated items per split")
    ap.add_argument("--out", type=Path, default=Path("bench-results/turn-fuse.json"))
    args = ap.parse_args()
    report = run(sets(Path(tempfile.mkdtemp(prefix="turn-fuse-")), args.items))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "calibration"}, indent=1))
    print(
        json.dumps(
            {
                k: v
                for k, v in report["calibration"].items()
                if k in ("items", "paused", "budget", "chosen", "before")
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
