"""One finished turn's metrics: where the time went, from the user's last word on."""

from __future__ import annotations

import json
import logging

from rtvi_edge import events as ev
from rtvi_edge.engines.hub import Engines
from rtvi_edge.pipeline.bot_turn import TurnOutcome
from rtvi_edge.pipeline.listener import Utterance

log = logging.getLogger(__name__)


def turn_metrics(
    session_id: str, utt: Utterance | None, outcome: TurnOutcome, engines: Engines
) -> ev.TurnMetrics:
    """`utt`: the spoken turn it answered (None for a typed one: no voice timing)."""
    v2v = stt = endpointing = None
    if utt is not None and utt.speech_end_at:
        endpointing = utt.ended_at - utt.speech_end_at if utt.ended_at else None
        stt = utt.final_at - utt.speech_end_at if utt.final_at else None
        if outcome.first_audio_at is not None:
            v2v = outcome.first_audio_at - utt.speech_end_at
        if log.isEnabledFor(logging.INFO):
            log.info("turn timeline %s", timeline_json(session_id, utt, outcome))
    return ev.TurnMetrics(
        session_id=session_id,
        endpointing=endpointing,
        stt=stt,
        llm_ttfb=outcome.llm_ttfb,
        tts_ttfb=outcome.tts_ttfb,
        voice_to_voice=v2v,
        llm_model=engines.llm.model_name,
        stt_model=engines.stt.model_name,
        tts_model=engines.tts.model_name,
        prompt_tokens=outcome.stats.prompt_tokens,
        completion_tokens=outcome.stats.completion_tokens,
        characters=len(outcome.spoken),
    )


def timeline_json(session_id: str, utt: Utterance, outcome: TurnOutcome) -> str:
    """The turn's stages in ms after the end of the speech (bench/turn_stages.py reads it)."""
    stages = {**utt.timeline.marks, **outcome.timeline.marks}
    values = {**utt.timeline.values, **outcome.timeline.values}
    ordered = sorted(stages.items(), key=lambda kv: kv[1])
    ms = {name: round((at - utt.speech_end_at) * 1000, 1) for name, at in ordered}
    return json.dumps({"session": session_id, "text": utt.text, "ms": ms, "values": values})
