"""Barge-in over the echo canceller, in the simulated room (`bench.room`).

The bot tells a story (real LLM and Piper) on a speaker the microphone hears,
through the WebRTC echo canceller, with the daemon's settings. Three kinds of run:

- an interruption: someone talks over the bot 1.5 s in. Latency is from the
  interrupter's first word (its loudness onset) to the moment the bot's audio
  stops reaching the speaker, on the room's own sample clock: the first stretch
  of at least `STOP_SECS` with nothing of the bot's handed to the speaker (a hold
  counts: the user hears silence). Also: when the VAD said the user started
  (`detect`), and whether the bot's turn was cancelled.
- a backchannel ("mm-hm", "yeah") over the bot: it must not be cancelled.
- nobody talking, `QUIET_SECS` long: every start of a user turn is the bot
  hearing itself (a hold at least, a stutter the user hears).

The interrupters are real recordings (`bench/human_set.py`'s sources: the
pocketsphinx test speakers and CMU ARCTIC) and generated phrases (Piper, espeak),
all at the same speech level (the earlier bench's espeak interrupter). Each item
is in `calibration` or `held_out`, frozen here before any tuning (the recordings
keep `human_set.py`'s split); settings are chosen on `calibration` only.

    python -m bench.barge_in_eval [--split calibration|held_out|all] [--quiet-runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import human_set
from bench.room import bot_talks_in_room
from bench.speech import make_wav, speech_end, speech_start
from rtvi_edge import events as ev
from rtvi_edge.audio.pcm import resample
from rtvi_edge.config import Config
from rtvi_edge.engines.base import TextToSpeech
from rtvi_edge.engines.hub import Engines, build_engines

USER_SAYS = "Stop talking please, I have a question"
STOP_SECS = 0.4  # silence from the speaker this long is the bot stopped (or held)
QUIET_SECS = 14.0
USER_AFTER_SECS = 3.0  # into the bot's speech (past the gap after its first clause)
AFTER_SECS = 2.5  # each run goes on this long after the user's speech
LEVEL_DBFS = -20.0  # active speech level of every interrupter (the espeak phrase's own)
LEAD_SECS = 0.15  # of the recording's own background before its first word

# (text, split): generated interrupters, said by Piper and by espeak.
PHRASES = [
    (USER_SAYS, "calibration"),
    ("Wait, what was that?", "held_out"),
    ("Hold on, I need to ask you something", "calibration"),
    ("Sorry, can you say the last part again?", "held_out"),
    ("No no, that is not what I asked", "calibration"),
    ("Excuse me, how long is this story?", "held_out"),
]
# What the bot says (Piper, no LLM: every run hears the same voice over the same words).
SCRIPT = (
    "Once upon a time, on a rocky island far out at sea, there lived an old lighthouse "
    "keeper named Tom. Every evening he climbed the hundred steps of the tower to light "
    "the great lamp, and every morning he wrote in his logbook what the sea had done. "
    "One stormy night, he saw a small boat struggling against the waves, its sail torn "
    "and its lantern gone. He rang the bell and waved his lamp until the boat found the "
    "harbour, and the sailors never forgot the keeper who had watched over them."
)
BACKCHANNELS = [
    ("Mm-hmm.", "calibration"),
    ("Yeah.", "held_out"),
    ("Okay.", "calibration"),
    ("Right.", "held_out"),
    ("Uh-huh.", "calibration"),
    ("I see.", "held_out"),
]


class CachedTts:
    """Piper, remembered: the bot's script is synthesised once, then handed over at once.
    On a shared 2-core machine Piper falls behind real time now and then and the bot's
    voice has gaps; barge-in does not depend on how fast the voice is made, and a user
    who talks over a gap is no interruption at all (such trials are marked invalid)."""

    def __init__(self, inner: TextToSpeech) -> None:
        self._inner = inner
        self.name, self.model_name = inner.name, inner.model_name
        self.sample_rate = inner.sample_rate
        self._cache: dict[tuple[str, float], list[bytes]] = {}

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        key = (text, speed)
        if key not in self._cache:
            self._cache[key] = list(self._inner.synthesize(text, speed))
        yield from self._cache[key]


def room_engines() -> Engines:
    engines = build_engines(Config())
    return dataclasses.replace(engines, tts=CachedTts(engines.tts))


@dataclass
class Item:
    name: str
    source: str  # human, piper, espeak
    split: str
    pcm: bytes  # 16 kHz mono s16le
    onset: float  # seconds to the first word
    end: float  # seconds to the end of the speech


def _level(pcm: np.ndarray, db: float) -> np.ndarray:
    a = pcm.astype(np.float64)
    n = a.size // 160
    rms = np.sqrt(np.mean(a[: n * 160].reshape(n, 160) ** 2, axis=1))
    active = rms[rms > 32768 * 10 ** (-40 / 20)]
    if active.size == 0:
        active = rms
    now = 20 * np.log10(np.sqrt(np.mean(active**2)) / 32768 + 1e-12)
    out = a * 10 ** ((db - now) / 20)
    clipped: np.ndarray = np.clip(out, -32768, 32767).astype(np.int16)
    return clipped


def _item(
    name: str, source: str, split: str, pcm: np.ndarray, span: tuple[float, float] | None = None
) -> Item:
    """`span`: where the speech is, if known (a recording's noise may pass -40 dBFS)."""
    pcm = _level(pcm, LEVEL_DBFS)
    data = pcm.tobytes()
    onset, end = span if span is not None else (speech_start(data), speech_end(data))
    return Item(name, source, split, data, onset, end)


def human_items() -> list[Item]:
    out = []
    for src, speaker, _text, split in human_set.SOURCES:
        a = human_set.load(human_set.CACHE / src)
        first, last, _gaps = human_set.speech_span(a)
        lead = human_set.background(a)[: int(LEAD_SECS * human_set.RATE)]
        pcm = np.concatenate([lead, a[first:last]])
        span = (lead.size / human_set.RATE, pcm.size / human_set.RATE)
        out.append(_item(f"{speaker}-{Path(src).stem}", "human", split, pcm, span))
    return out


def _piper(engines: Engines, text: str) -> np.ndarray:
    tts = engines.tts
    raw = b"".join(tts.synthesize(text, 1.0))
    return np.frombuffer(resample(raw, tts.sample_rate, 16000), dtype=np.int16)


def generated_items(engines: Engines, work: Path, phrases: list[tuple[str, str]]) -> list[Item]:
    out = []
    work.mkdir(parents=True, exist_ok=True)
    for i, (text, split) in enumerate(phrases):
        pcm, _ = make_wav(text, work / f"espeak-{i}.wav")
        out.append(_item(f"espeak: {text}", "espeak", split, np.frombuffer(pcm, np.int16)))
        out.append(_item(f"piper: {text}", "piper", split, _piper(engines, text)))
    return out


def _starts(events: list[ev.Event]) -> list[ev.UserStartedSpeaking]:
    return [e for e in events if isinstance(e, ev.UserStartedSpeaking)]


def _interrupted(events: list[ev.Event]) -> bool:
    return any(isinstance(e, ev.BotInterrupted) for e in events)


async def talk_over(engines: Engines, item: Item, overrides: Any) -> dict[str, Any]:
    secs = USER_AFTER_SECS + item.end + AFTER_SECS
    run = await bot_talks_in_room(
        engines,
        aec=True,
        user=item.pcm,
        secs=secs,
        overrides=overrides,
        script=SCRIPT,
        user_after=USER_AFTER_SECS,
    )
    assert run.room is not None and run.user_sample is not None and run.user_at is not None
    onset_sample = run.user_sample + int(item.onset * 16000)
    onset_at = run.user_at + item.onset
    starts = _starts(run.events)
    before = [e for e in starts if e.at < onset_at]
    after_user = [e for e in starts if e.at > run.user_at + item.end + 1.0]
    heard = [e for e in starts if onset_at <= e.at <= run.user_at + item.end + 1.0]
    stop = run.room.silent_from(onset_sample, STOP_SECS)
    # Valid only if the bot was talking when the user began (not in a synthesis gap).
    talking = run.room.silent_from(onset_sample - int(STOP_SECS * 16000), STOP_SECS)
    return {
        "valid": not before and (talking is None or talking >= onset_sample),
        "name": item.name,
        "source": item.source,
        "split": item.split,
        "stop_secs": None if stop is None else round((stop - onset_sample) / 16000, 3),
        "detect_secs": round(heard[0].at - onset_at, 3) if heard else None,
        "cancelled": _interrupted(run.events),
        "self_starts": len(before) + len(after_user),
        "heard": [e.text for e in run.events if isinstance(e, ev.UserTranscription) and e.final],
    }


async def quiet(engines: Engines, overrides: Any) -> dict[str, Any]:
    run = await bot_talks_in_room(
        engines, aec=True, secs=QUIET_SECS, overrides=overrides, script=SCRIPT
    )
    assert run.room is not None
    gaps = 0
    w = run.room.written
    if w:
        at = w[0][0]
        while (s := run.room.silent_from(at, STOP_SECS)) is not None and s < w[-1][1]:
            gaps += 1
            at = next((a for a, _b in w if a > s), w[-1][1])
    return {
        "early_holds": run.early_holds,
        "self_starts": len(_starts(run.events)),
        "cancelled": _interrupted(run.events),
        "speaker_gaps": gaps,
    }


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    return round(float(np.percentile(xs, q)), 3)


def summarize(trials: list[dict[str, Any]], key: str = "stop_secs") -> dict[str, Any]:
    invalid = sum(not t["valid"] for t in trials)
    trials = [t for t in trials if t["valid"]]
    xs = [t[key] for t in trials if t[key] is not None]
    return {
        "n": len(trials),
        "invalid": invalid,
        "stopped": sum(t[key] is not None for t in trials),
        "cancelled": sum(t["cancelled"] for t in trials),
        "p50": _pct(xs, 50),
        "p90": _pct(xs, 90),
    }


async def evaluate(
    engines: Engines,
    work: Path,
    split: str = "all",
    quiet_runs: int = 4,
    overrides: Any = None,
    sources: tuple[str, ...] = ("human", "piper", "espeak"),
) -> dict[str, Any]:
    def keep(i: Item) -> bool:
        return (split == "all" or i.split == split) and i.source in sources

    talkers = [i for i in human_items() + generated_items(engines, work, PHRASES) if keep(i)]
    backs = [i for i in generated_items(engines, work / "bc", BACKCHANNELS) if keep(i)]
    await quiet(engines, overrides)  # fills the synthesis cache: not counted
    t0 = time.monotonic()
    over = [await talk_over(engines, i, overrides) for i in talkers]
    back = [await talk_over(engines, i, overrides) for i in backs]
    silent = [await quiet(engines, overrides) for _ in range(quiet_runs)]
    by_source = {
        s: summarize([t for t in over if t["source"] == s])
        for s in sources
        if any(t["source"] == s for t in over)
    }
    return {
        "split": split,
        "overrides": overrides or {},
        "interruptions": summarize(over),
        "by_source": by_source,
        "detect": summarize(over, "detect_secs"),
        "backchannels": {
            "n": len(back),
            "cancelled": sum(t["cancelled"] for t in back),
            "held_p50": summarize(back)["p50"],
        },
        "self_interruptions": {
            "quiet_bot_turns": quiet_runs,
            "quiet_secs": QUIET_SECS,
            "starts_while_quiet": sum(q["self_starts"] for q in silent),
            "holds_while_quiet": sum(q["early_holds"] for q in silent),
            "cancelled_while_quiet": sum(q["cancelled"] for q in silent),
            "speaker_gaps_while_quiet": sum(q["speaker_gaps"] for q in silent),
            "starts_in_talk_runs": sum(t["self_starts"] for t in over + back),
        },
        "trials": over + back,
        "quiet": silent,
        "wall_secs": round(time.monotonic() - t0, 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def run(work: Path, trials: int = 4) -> dict[str, Any]:
    """The bench's part (`bench.run`): everything, `trials` quiet bot turns."""
    work.mkdir(parents=True, exist_ok=True)
    return asyncio.run(evaluate(room_engines(), work, "all", trials))


def print_summary(r: dict[str, Any]) -> None:
    i, si, bc = r["interruptions"], r["self_interruptions"], r["backchannels"]
    print(f"barge-in over the echo canceller (simulated room), split {r['split']}")
    print(f"  talked over the bot, stopped   {i['stopped']}/{i['n']} (cancelled {i['cancelled']})")
    print(f"  first word → bot audio stops p50/p90 {fmt_secs(i['p50'])} / {fmt_secs(i['p90'])}")
    for source, s in r["by_source"].items():
        print(f"    {source:<8} n={s['n']:<3} p50/p90 {fmt_secs(s['p50'])} / {fmt_secs(s['p90'])}")
    print(f"  backchannels that stopped the bot   {bc['cancelled']}/{bc['n']}")
    print(
        f"  self-interruptions: {si['starts_while_quiet']} starts, {si['holds_while_quiet']} holds "
        f"in {si['quiet_bot_turns']} quiet bot turns; {si['starts_in_talk_runs']} in talk runs"
    )


def fmt_secs(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="all", choices=["all", "calibration", "held_out"])
    ap.add_argument("--quiet-runs", type=int, default=4)
    ap.add_argument("--sources", default="human,piper,espeak")
    ap.add_argument("--set", action="append", default=[], help="section.key=value (JSON)")
    ap.add_argument("--work", default="/tmp/barge-in-eval")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    overrides: dict[str, dict[str, object]] = {}
    for kv in args.set:
        key, value = kv.split("=", 1)
        section, name = key.split(".", 1)
        overrides.setdefault(section, {})[name] = json.loads(value)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    engines = room_engines()
    result = asyncio.run(
        evaluate(
            engines, work, args.split, args.quiet_runs, overrides, tuple(args.sources.split(","))
        )
    )
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    summary = {k: v for k, v in result.items() if k not in ("trials", "quiet")}
    print(json.dumps(summary, indent=1))
    print_summary(result)
    for t in result["trials"]:
        mark = "" if t["valid"] else "INVALID "
        print(
            f"  {t['split'][:5]} {mark}{t['name'][:44]:<44} stop {t['stop_secs']} "
            f"detect {t['detect_secs']} cancelled {t['cancelled']} self {t['self_starts']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
