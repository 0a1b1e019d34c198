"""Barge-in over the echo canceller, in the simulated room (`bench.room`).

Each trial: the bot tells a story (real LLM and Piper) on a speaker the microphone
hears. Three runs per trial: with the canceller and nobody talking (every start of
a user turn is the bot interrupting itself), with a user talking over the bot 1.5 s
in (it must interrupt; the time from the user's first word is the barge-in
latency), and without the canceller (the control: the bot hears itself).
"""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path
from typing import Any

from bench.room import bot_talks_in_room
from bench.speech import make_wav, speech_start
from rtvi_edge import events as ev
from rtvi_edge.config import Config
from rtvi_edge.engines.hub import build_engines

USER_SAYS = "Stop talking please, I have a question"


def _starts(events: list[ev.Event]) -> list[ev.UserStartedSpeaking]:
    return [e for e in events if isinstance(e, ev.UserStartedSpeaking)]


async def _trials(trials: int, user: bytes, onset: float) -> dict[str, Any]:
    engines = build_engines(Config())
    self_interruptions = 0
    missed = 0
    latencies: list[float] = []
    control_self = 0
    for _ in range(trials):
        quiet = await bot_talks_in_room(engines, aec=True)
        self_interruptions += len(_starts(quiet.events))
        talk = await bot_talks_in_room(engines, aec=True, user=user)
        starts = _starts(talk.events)
        assert talk.user_at is not None
        heard = [e.at - (talk.user_at + onset) for e in starts if e.at >= talk.user_at]
        if heard:
            latencies.append(heard[0])
            self_interruptions += len(starts) - 1  # any later start: the bot's answer
        else:
            missed += 1
        control = await bot_talks_in_room(engines, aec=False)
        control_self += bool(_starts(control.events))
    return {
        "trials": trials,
        "user_interrupted": round((trials - missed) / trials, 3),
        "barge_in_latency_median_secs": (
            round(statistics.median(latencies), 3) if latencies else None
        ),
        "self_interruptions_with_aec": self_interruptions,
        "control_without_aec_self_interrupted": round(control_self / trials, 3),
    }


def run(work: Path, trials: int = 5) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    user, _ = make_wav(USER_SAYS, work / "user.wav")
    return asyncio.run(_trials(trials, user, speech_start(user)))
