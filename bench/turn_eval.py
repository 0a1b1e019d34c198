"""End-of-turn, offline: calibrate the turn model on one split, evaluate on the other.

The pipeline's own listener runs on each WAV (`bench.turn_sim`). Calibration
probes every pause with the model at several silences (`stop_secs`) and picks
the (stop_secs, threshold) with the lowest latency whose premature cut-offs on
the calibration split are no more than the fixed timeout's. The held-out split
is then run with the chosen values, with the turn model on and off.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import itertools
import json
import statistics
from dataclasses import dataclass
from typing import Any

from bench.turn_set import TurnItem, build
from bench.turn_sim import SHARED_TURN_MODEL, EouFn, SimPause, SimResult, simulate
from rtvi_edge.audio.wav import read_wav
from rtvi_edge.config import Config
from rtvi_edge.engines.base import SpeechToText, VoiceActivityModel
from rtvi_edge.engines.hub import build_stt, build_vad
from rtvi_edge.pipeline.endpointing import (
    Endpointer,
    EndpointParams,
    Frame,
    Signal,
    TextCue,
    TextEou,
    TurnVerdict,
)

LATE_SECS = 1.0  # an end this long after the speech: the user was kept waiting


@dataclass
class Outcome:
    premature: int  # items whose turn ended inside the sentence
    late: int  # items whose end came LATE_SECS or more after the speech
    end_delays: list[float]  # speech end → turn end, per item that ended after it


@functools.cache
def _vad() -> VoiceActivityModel:
    return build_vad(Config())


@functools.cache
def _stt() -> SpeechToText:
    return build_stt(Config())


@functools.cache
def _eou() -> EouFn:
    """The device's LLM (SmolLM2 via llama.cpp) scoring a first turn: the default system
    prompt and the words so far, as the conversation asks it live."""
    from rtvi_edge.engines.hub import build_llm
    from rtvi_edge.pipeline.context import LlmContext

    config = Config()
    llm = build_llm(config)
    context = LlmContext(config.llm.system_prompt, [], 1024, count_tokens=len)

    def eou(text: str) -> float | None:
        fn = getattr(llm, "end_of_turn_probability", None)
        return None if fn is None else fn(context.for_llm(pending_user=text))

    return eou


def _run(item: TurnItem, params: EndpointParams, transcribe: bool = True) -> SimResult:
    """`transcribe`: the real STT runs, so the transcript's ending (the text cue) counts,
    and the LLM's end-of-turn probability for it is recorded (and used with turn_llm)."""
    stt = _stt() if transcribe else _NO_STT
    pcm = read_wav(item.wav, 16000)
    eou = _eou() if transcribe else None
    return asyncio.run(simulate(pcm, stt, _vad(), params, transcribe=transcribe, eou=eou))


class _NoSttFactory:
    name = "none"
    model_name = "none"
    streaming = False

    def open_stream(self) -> Any:  # pragma: no cover - replaced by simulate(transcribe=False)
        raise NotImplementedError


_NO_STT = _NoSttFactory()


def outcome(items: list[TurnItem], results: list[SimResult]) -> Outcome:
    premature = late = 0
    delays: list[float] = []
    for item, res in zip(items, results, strict=True):
        ends = [t.end_secs for t in res.turns]
        if any(e < item.end - 0.05 for e in ends):
            premature += 1
        final = [e for e in ends if e >= item.end - 0.05]
        if final:
            delay = final[0] - item.end
            delays.append(delay)
            late += delay >= LATE_SECS
    return Outcome(premature, late, delays)


PROBE_STEP = 0.064  # the model is asked every two VAD frames while probing
# The grid. A verdict costs ~50 ms of one core, so the model is asked at most every
# 128 ms; a hold threshold above zero keeps the "unfinished: wait" half of the rule;
# the verdict must be able to land before the unsure end (else the model does nothing).
FIRST_CHECKS = (0.128, 0.192, 0.256)
RECHECKS = (0.0, 0.128, 0.192)
END_THRESHOLDS = (0.7, 0.8, 0.9, 0.95)
HOLD_THRESHOLDS = (0.05, 0.1, 0.2, 0.3)
UNSURE_SECS = (0.224, 0.256, 0.288, 0.352)


def probe(items: list[TurnItem], max_secs: float) -> list[list[SimPause]]:
    """What the model says at every pause of each item, every PROBE_STEP of silence
    (all verdicts held to 'incomplete', so every pause lasts as long as it really is),
    and how the transcript at each pause ended."""
    params = EndpointParams(
        turn_model=True,
        turn_text=False,  # recorded, not acted on
        turn_threshold=1.01,
        turn_hold_threshold=1.01,
        turn_stop_secs=PROBE_STEP,
        turn_recheck_secs=PROBE_STEP,
        turn_max_secs=max_secs,
    )
    return [_run(item, params).pauses for item in items]


VERDICT_DELAY = 0.064  # a verdict lands about two VAD frames after it was asked for
TEXT_AT = 0.128  # the transcript is known about two frames after the pause (64 ms)
EOU_DELAY = 0.032  # and the LLM's probability for it a frame later


def replay(
    pauses: list[SimPause], params: EndpointParams, delay: float = VERDICT_DELAY
) -> list[float]:
    """The real endpointer over recorded pauses, with the recorded verdicts arriving
    `delay` after they were asked for: the silence at which each pause ended the
    turn (inf: speech came back first)."""
    frame = 0.032
    out = []
    for pause in pauses:
        ep = Endpointer(params)
        ep.step(Frame(1.0, params.start_secs + frame))
        limit = pause.resumed_after if pause.resumed_after is not None else float("inf")
        ended = float("inf")
        due: list[tuple[float, TurnVerdict | TextCue | TextEou]] = []
        if pause.text_end is not None:
            due.append((TEXT_AT, TextCue(1, pause.text_end)))
        if params.turn_llm:
            due.append((TEXT_AT + EOU_DELAY, TextEou(1, pause.text_probability)))
            due.sort(key=lambda d: d[0])
        while ep.silence_secs + frame <= limit + 1e-9 and ended == float("inf"):
            signals = ep.step(Frame(0.0, frame))
            if Signal.ASSESS in signals:
                verdict = TurnVerdict(ep.pause_id, _verdict_at(pause, ep.silence_secs))
                due.append((ep.silence_secs + delay, verdict))
                due.sort(key=lambda d: d[0])
            while due and due[0][0] <= ep.silence_secs + 1e-9:
                signals += ep.step(due.pop(0)[1])
            if Signal.ENDED in signals:
                ended = ep.silence_secs
            if ep.silence_secs > 10:
                break
        out.append(ended)
    return out


def _verdict_at(pause: SimPause, silence: float) -> float | None:
    seen = [(s, p) for s, p in pause.verdicts if s <= silence + 1e-6]
    return seen[-1][1] if seen else None


def choose(
    probes: list[list[SimPause]], budget: int, base: EndpointParams, max_secs: float
) -> tuple[EndpointParams, list[dict[str, Any]]]:
    """The policy with the lowest mean wait after the last word whose premature
    cut-offs stay within `budget` (the fixed timeout's, on the same items)."""
    table: list[dict[str, Any]] = []
    best, best_wait = None, float("inf")
    grid = itertools.product(FIRST_CHECKS, RECHECKS, END_THRESHOLDS, HOLD_THRESHOLDS, UNSURE_SECS)
    for first, recheck, t_end, t_hold, unsure in grid:
        if first + VERDICT_DELAY > unsure - 0.032 + 1e-9:
            continue  # the verdict would come after the unsure end: the model could not act
        params = dataclasses.replace(
            base,
            turn_model=True,
            turn_stop_secs=first,
            turn_recheck_secs=recheck,
            turn_threshold=t_end,
            turn_hold_threshold=t_hold,
            turn_unsure_secs=unsure,
            turn_max_secs=max_secs,
        )
        premature, waits = 0, []
        for pauses in probes:
            ends = replay(pauses, params)
            inner = [e for e, p in zip(ends, pauses, strict=True) if p.resumed_after]
            premature += any(e != float("inf") for e in inner)
            final = [e for e, p in zip(ends, pauses, strict=True) if not p.resumed_after]
            waits += [min(e, max_secs) for e in final[-1:]]
        if not waits:
            continue
        mean = statistics.fmean(waits)
        table.append(
            {
                "first": first,
                "recheck": recheck,
                "end_at": t_end,
                "hold_below": t_hold,
                "unsure_secs": unsure,
                "premature": premature,
                "wait_median": round(statistics.median(waits), 3),
                "wait_p90": round(_p90(waits), 3),
                "wait_mean": round(mean, 3),
            }
        )
        if premature <= budget and mean < best_wait:
            best, best_wait = params, mean
    return best or dataclasses.replace(base, turn_model=False), table


def run(items: list[TurnItem], max_secs: float = 1.6) -> dict[str, Any]:
    SHARED_TURN_MODEL.load()
    calib = [i for i in items if i.split == "calibration"]
    held = [i for i in items if i.split == "held_out"]
    fixed = EndpointParams()
    base_cal = outcome(calib, [_run(i, fixed) for i in calib])
    tuned, table = choose(probe(calib, max_secs), base_cal.premature, fixed, max_secs)
    chosen = {
        "stop_secs": tuned.turn_stop_secs,
        "recheck_secs": tuned.turn_recheck_secs,
        "threshold": tuned.turn_threshold,
        "hold_threshold": tuned.turn_hold_threshold,
        "unsure_secs": tuned.turn_unsure_secs,
        "max_secs": tuned.turn_max_secs,
    }
    report: dict[str, Any] = {
        "calibration": {
            "items": len(calib),
            "fixed_timeout_premature": base_cal.premature,
            "chosen": chosen,
            "grid": sorted(table, key=lambda r: (r["premature"], r["wait_mean"]))[:40],
        },
        "held_out": {"items": len(held), "paused_items": sum(i.pause_secs > 0 for i in held)},
    }
    modes = (
        ("fixed_0.35s", fixed),
        ("turn_model_audio_only", dataclasses.replace(tuned, turn_text=False)),
        ("turn_model", tuned),
    )
    for name, params in modes:
        o = outcome(held, [_run(i, params) for i in held])
        report["held_out"][name] = {
            "premature": o.premature,
            "late": o.late,
            "end_delay_median": round(statistics.median(o.end_delays), 3) if o.end_delays else None,
            "end_delay_p90": round(_p90(o.end_delays), 3) if o.end_delays else None,
        }
    return report


def _p90(values: list[float]) -> float:
    vals = sorted(values)
    return vals[min(len(vals) - 1, int(0.9 * len(vals)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=40, help="items per split")
    args = ap.parse_args()
    print(json.dumps(run(build(per_split=args.items)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
