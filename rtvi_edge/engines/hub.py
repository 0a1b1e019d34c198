"""Builds the shared engines from config and swaps them when device-wide options change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rtvi_edge.config import Config, SttEngine, VadEngine, default_state_dir
from rtvi_edge.engines import defaults, stages
from rtvi_edge.engines.backends import BackendMonitor
from rtvi_edge.engines.base import LanguageModel, SpeechToText, TextToSpeech, VoiceActivityModel
from rtvi_edge.engines.turn_smart import SharedTurnModel
from rtvi_edge.errors import ConfigError

log = logging.getLogger(__name__)


def _model_path(config: Config, value: str, packaged: Callable[[], Path]) -> Path:
    """A config value: '' (the packaged default), a catalogue name, or a path."""
    if not value:
        return packaged()
    from rtvi_edge.models.catalogue import resolve_model

    return resolve_model(value, default_state_dir(config) / "models")


def build_stt(config: Config, monitor: BackendMonitor | None = None) -> SpeechToText:
    if stages.chained("stt", config, monitor):
        return stages.build_stt_chain(config, monitor or BackendMonitor(), build_stt)
    cfg = config.stt
    if cfg.engine == SttEngine.WHISPER:
        from rtvi_edge.engines.stt_whisper import WhisperStt
        from rtvi_edge.engines.whisper_models import PACKAGED, packaged_whisper

        if cfg.model in PACKAGED:  # "tiny.en", "base": installed from the registry
            path = packaged_whisper(cfg.model, default_state_dir(config) / "models")
        else:
            path = _model_path(config, cfg.model, defaults.whisper_tiny_en)
        path = defaults.require_path(path, "Whisper model")
        return WhisperStt(path, cfg.threads, cfg.language, cfg.beam_size)
    if cfg.engine == SttEngine.POCKETSPHINX:
        from rtvi_edge.engines.stt_pocketsphinx import PocketSphinxStt

        path = _model_path(config, cfg.model, defaults.pocketsphinx_en_us)
        return PocketSphinxStt(defaults.require_path(path, "PocketSphinx model directory"))
    if cfg.engine == SttEngine.VOSK:
        from rtvi_edge.engines.stt_vosk import VoskStt

        if not cfg.model:
            raise ConfigError(
                [
                    "[stt] engine = 'vosk' needs [stt] model = the path of a Vosk model directory "
                    "(no English Vosk model ships with the packages: "
                    "`rtvi-edge models pull vosk-small-en-us`)"
                ]
            )
        return VoskStt(_model_path(config, cfg.model, Path))
    raise ConfigError([f"[stt] engine = '{cfg.engine}': unknown engine"])


def build_llm(config: Config, monitor: BackendMonitor | None = None) -> LanguageModel:
    if stages.chained("llm", config, monitor):
        return stages.build_llm_chain(config, monitor or BackendMonitor(), build_llm)
    from rtvi_edge.engines.llm_llama import LlamaLlm

    cfg = config.llm
    path = _model_path(config, cfg.model, defaults.smollm2_gguf)
    return LlamaLlm(path, cfg.context_tokens, cfg.threads, cfg.gpu_layers)


def build_tts(config: Config, monitor: BackendMonitor | None = None) -> TextToSpeech:
    if stages.chained("tts", config, monitor):
        return stages.build_tts_chain(config, monitor or BackendMonitor(), build_tts)
    from rtvi_edge.engines.tts_piper import PiperTts

    cfg = config.tts
    path = _model_path(config, cfg.voice, defaults.piper_joe)
    return PiperTts(path, cfg.noise_scale, cfg.noise_w)


def build_vad(config: Config) -> VoiceActivityModel:
    from rtvi_edge.engines import vad

    if config.vad.engine == VadEngine.SILERO:
        return vad.SileroVad(defaults.require_path(defaults.silero_vad(), "Silero VAD model"))
    if config.vad.engine == VadEngine.WEBRTC:
        return vad.WebRtcVad()
    return vad.EnergyVad()


@dataclass
class Engines:
    stt: SpeechToText
    llm: LanguageModel
    tts: TextToSpeech
    vad: VoiceActivityModel
    monitor: BackendMonitor = field(default_factory=BackendMonitor)  # LAN servers' health


def build_engines(config: Config) -> Engines:
    monitor = BackendMonitor()
    return Engines(
        stt=build_stt(config, monitor),
        llm=build_llm(config, monitor),
        tts=build_tts(config, monitor),
        vad=build_vad(config),
        monitor=monitor,
    )


class EngineHub:
    """The engines every conversation shares; conversations read them per turn,
    so a swap takes effect at the next turn without dropping anyone."""

    def __init__(
        self, engines: Engines, config: Config, turn_model: SharedTurnModel | None = None
    ) -> None:
        self.engines = engines
        self.config = config
        self.monitor = engines.monitor
        # One end-of-turn model for every conversation, loaded on first use (or preloaded).
        self.turn_model = turn_model or SharedTurnModel()
        self.turn_model.configure(config.turn.model, config.turn.threads)
        self._swap_lock = asyncio.Lock()

    async def reconfigure(self, new: Config) -> None:
        """Rebuild the engines whose device-wide options changed (off the event loop).

        Builds everything first and swaps only if all succeeded, so a bad model
        path leaves the running engines untouched."""
        async with self._swap_lock:
            old = self.config
            self.turn_model.configure(new.turn.model, new.turn.threads)
            stt = llm = tts = vad = None
            if new.stt != old.stt:
                stt = await asyncio.to_thread(build_stt, new, self.monitor)
            if (new.llm.model, new.llm.context_tokens, new.llm.threads, new.llm.gpu_layers) != (
                old.llm.model,
                old.llm.context_tokens,
                old.llm.threads,
                old.llm.gpu_layers,
            ) or stages.remote_fields(new.llm) != stages.remote_fields(old.llm):
                llm = await asyncio.to_thread(build_llm, new, self.monitor)
            if (new.tts.voice, new.tts.noise_scale, new.tts.noise_w) != (
                old.tts.voice,
                old.tts.noise_scale,
                old.tts.noise_w,
            ) or stages.remote_fields(new.tts) != stages.remote_fields(old.tts):
                tts = await asyncio.to_thread(build_tts, new, self.monitor)
            if new.vad.engine != old.vad.engine:
                vad = await asyncio.to_thread(build_vad, new)
            e = self.engines
            self.engines = Engines(
                stt=stt or e.stt,
                llm=llm or e.llm,
                tts=tts or e.tts,
                vad=vad or e.vad,
                monitor=self.monitor,
            )
            self.config = new
            log.info(
                "engines reconfigured: stt=%s llm=%s tts=%s",
                self.engines.stt.model_name,
                self.engines.llm.model_name,
                self.engines.tts.model_name,
            )
