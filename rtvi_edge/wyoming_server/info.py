"""The answer to `describe`: which services, models, voices and wake words are offered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
    WakeModel,
    WakeProgram,
)

from rtvi_edge import __version__

PROGRAM = "rtvi-edge"
_ATTRIBUTION = Attribution(name="rtvi-edge", url="")


@dataclass(frozen=True)
class WakeWord:
    model_id: str  # what a client names in `detect`
    phrase: str  # what the user says


@dataclass(frozen=True)
class Offer:
    """Everything `describe` reports, read from the running engines at the time."""

    services: frozenset[str]
    device_name: str
    language: str  # the STT and intent language, e.g. "en"
    stt_model: str
    tts_voice: str
    tts_languages: tuple[str, ...]
    llm_model: str
    wake_words: tuple[WakeWord, ...]


def build_info(offer: Offer) -> Info:
    info = Info()
    lang = [offer.language]
    if "asr" in offer.services:
        stt = AsrModel(**_model(offer.stt_model, offer.stt_model, lang))
        info.asr.append(AsrProgram(**_program(offer, "speech to text"), models=[stt]))
    if "tts" in offer.services:
        voice = TtsVoice(**_model(offer.tts_voice, offer.tts_voice, list(offer.tts_languages)))
        info.tts.append(
            TtsProgram(
                **_program(offer, "text to speech"),
                voices=[voice],
                supports_synthesize_streaming=True,
            )
        )
    if "wake" in offer.services:
        # Home Assistant lists a wake word by its description.
        words = [
            WakeModel(**_model(w.model_id, w.phrase.title(), ["en"]), phrase=w.phrase)
            for w in offer.wake_words
        ]
        info.wake.append(WakeProgram(**_program(offer, "microWakeWord"), models=words))
    if "handle" in offer.services:
        llm = HandleModel(**_model(offer.llm_model, offer.llm_model, lang))
        what = f"local intents, then {offer.llm_model},"
        info.handle.append(HandleProgram(**_program(offer, what), models=[llm]))
    return info


def _program(offer: Offer, what: str) -> dict[str, Any]:
    """What every program of this device says about itself."""
    return {
        "name": f"{PROGRAM} ({offer.device_name})",
        "description": f"{what} on {offer.device_name}",
        "attribution": _ATTRIBUTION,
        "installed": True,
        "version": __version__,
    }


def _model(name: str, description: str, languages: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "attribution": _ATTRIBUTION,
        "installed": True,
        "version": None,
        "languages": languages,
    }
