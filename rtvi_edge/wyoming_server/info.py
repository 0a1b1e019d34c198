"""The answer to `describe`: which services, models, voices and wake words are offered."""

from __future__ import annotations

from dataclasses import dataclass

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
    name = f"{PROGRAM} ({offer.device_name})"
    if "asr" in offer.services:
        info.asr.append(
            AsrProgram(
                name=name,
                description=f"speech to text on {offer.device_name}",
                attribution=_ATTRIBUTION,
                installed=True,
                version=__version__,
                models=[
                    AsrModel(
                        name=offer.stt_model,
                        description=offer.stt_model,
                        attribution=_ATTRIBUTION,
                        installed=True,
                        version=None,
                        languages=lang,
                    )
                ],
            )
        )
    if "tts" in offer.services:
        info.tts.append(
            TtsProgram(
                name=name,
                description=f"text to speech on {offer.device_name}",
                attribution=_ATTRIBUTION,
                installed=True,
                version=__version__,
                voices=[
                    TtsVoice(
                        name=offer.tts_voice,
                        description=offer.tts_voice,
                        attribution=_ATTRIBUTION,
                        installed=True,
                        version=None,
                        languages=list(offer.tts_languages),
                    )
                ],
                supports_synthesize_streaming=True,
            )
        )
    if "wake" in offer.services:
        info.wake.append(
            WakeProgram(
                name=name,
                description=f"microWakeWord on {offer.device_name}",
                attribution=_ATTRIBUTION,
                installed=True,
                version=__version__,
                models=[
                    WakeModel(
                        name=w.model_id,
                        description=w.phrase.title(),  # Home Assistant lists this name
                        phrase=w.phrase,
                        attribution=_ATTRIBUTION,
                        installed=True,
                        version=None,
                        languages=["en"],
                    )
                    for w in offer.wake_words
                ],
            )
        )
    if "handle" in offer.services:
        info.handle.append(
            HandleProgram(
                name=name,
                description=f"local intents, then {offer.llm_model}, on {offer.device_name}",
                attribution=_ATTRIBUTION,
                installed=True,
                version=__version__,
                models=[
                    HandleModel(
                        name=offer.llm_model,
                        description=offer.llm_model,
                        attribution=_ATTRIBUTION,
                        installed=True,
                        version=None,
                        languages=lang,
                    )
                ],
            )
        )
    return info
