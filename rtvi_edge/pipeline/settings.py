"""Per-conversation settings: what an RTVI client may change for itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rtvi_edge.config import Config, EchoGuard, limits_of
from rtvi_edge.engines.base import GenerationParams
from rtvi_edge.pipeline.endpointing import BargeIn, EndpointParams

# The output gain's limit for RTVI, MQTT and the volume tools: `[audio] volume`'s.
MAX_VOLUME = float(limits_of("audio", "volume")[1] or 1.0)


def clamp_volume(volume: float) -> float:
    return max(0.0, min(MAX_VOLUME, float(volume)))


@dataclass
class SessionSettings:
    endpoint: EndpointParams = field(default_factory=EndpointParams)
    system_prompt: str = ""
    initial_messages: list[dict[str, Any]] = field(default_factory=list)
    history_tokens: int = 1024
    max_tokens: int = 160
    temperature: float = 0.3
    top_p: float = 0.9
    tts_speed: float = 1.0
    first_chunk_words: int = 3
    first_max_words: int = 4
    interim_secs: float = 0.8
    echo_guard: EchoGuard = EchoGuard.HALF_DUPLEX
    barge_in_threshold: float = 0.85
    barge_in_secs: float = 0.2
    barge_in_hold_secs: float = 0.3  # a frame of speech over the bot holds it this long (0: off)
    volume: float = 1.0
    muted: bool = False
    tools: list[dict[str, Any]] = field(default_factory=list)  # client-declared functions

    @classmethod
    def from_config(cls, config: Config, echo_guard: EchoGuard | None = None) -> SessionSettings:
        v, t = config.vad, config.turn
        return cls(
            endpoint=EndpointParams(
                threshold=v.threshold,
                start_secs=v.start_secs,
                stop_secs=v.stop_secs,
                min_speech_secs=v.min_speech_secs,
                turn_model=t.enabled,
                turn_threshold=t.threshold,
                turn_hold_threshold=min(t.hold_threshold, t.threshold),
                turn_stop_secs=t.stop_secs,
                turn_unsure_secs=t.unsure_secs,
                turn_recheck_secs=t.recheck_secs,
                turn_max_secs=t.max_secs,
                turn_hold_floor=t.hold_floor,
                # The word list is English: other languages leave the end to the model.
                turn_text=t.text and _english(config.stt.language),
                turn_grace_secs=t.grace_secs,
                turn_llm=t.llm,
                turn_llm_weight=t.llm_weight,
                turn_llm_neutral=t.llm_neutral,
                turn_adapt=t.adapt,
                turn_recover=t.recover,
                turn_backchannel=t.backchannel and _english(config.stt.language),
            ),
            system_prompt=config.llm.system_prompt,
            history_tokens=config.llm.history_tokens,
            max_tokens=config.llm.max_tokens,
            temperature=config.llm.temperature,
            top_p=config.llm.top_p,
            tts_speed=config.tts.speed,
            first_chunk_words=config.tts.first_chunk_words,
            first_max_words=config.tts.first_max_words,
            interim_secs=config.stt.interim_secs,
            # With echo cancellation the bot's voice is gone from the mic: barge in, with
            # the barge-in threshold keeping the canceller's brief residue out.
            echo_guard=echo_guard
            or (EchoGuard.BARGE_IN if config.audio.echo_cancel else config.audio.echo_guard),
            barge_in_threshold=config.audio.barge_in_threshold,
            barge_in_secs=config.audio.barge_in_secs,
            barge_in_hold_secs=config.audio.barge_in_hold_secs,
            volume=config.audio.volume,
        )

    def barge_in(self) -> BargeIn | None:
        """What may interrupt the bot; None: whatever starts a turn (no higher bar)."""
        e = self.endpoint
        if self.barge_in_threshold <= e.threshold and self.barge_in_secs <= e.start_secs:
            return None
        return BargeIn(threshold=self.barge_in_threshold, min_secs=self.barge_in_secs)

    def generation(self) -> GenerationParams:
        return GenerationParams(
            max_tokens=self.max_tokens, temperature=self.temperature, top_p=self.top_p
        )


def _english(language: str) -> bool:
    """'' is Whisper's language detection; the default config says "en"."""
    return not language or language.lower().startswith("en")
