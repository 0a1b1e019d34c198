"""Each stage's backends from config: `engine` first, then `fallback` in order.

A stage with one local engine is built as before (no wrapper); a stage with a
LAN server or a fallback list becomes a failover chain whose backends report
to the hub's `BackendMonitor`. Nothing here touches the network: a server that
is down at start is found out by the first turn (or the background probe) and
skipped, and the daemon starts anyway.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from rtvi_edge.config import Config, replace_section
from rtvi_edge.engines.backends import BackendMonitor, Stage
from rtvi_edge.engines.base import LanguageModel, SpeechToText, TextToSpeech
from rtvi_edge.engines.failover import Backend, FailoverLlm, FailoverStt, FailoverTts
from rtvi_edge.errors import ConfigError

REMOTE = {"openai", "wyoming"}
LOCAL_ENGINES: dict[Stage, tuple[str, ...]] = {
    "stt": ("whisper", "pocketsphinx", "vosk"),
    "llm": ("llama",),
    "tts": ("piper",),
}
REMOTE_ENGINES: dict[Stage, tuple[str, ...]] = {
    "stt": ("wyoming", "openai"),
    "llm": ("openai",),
    "tts": ("wyoming", "openai"),
}

E = TypeVar("E")


def engine_names(stage: Stage, section: Any) -> list[str]:
    """`engine` then `fallback`, checked: known names, no repeats, one server at most."""
    names = [section.engine, *section.fallback]
    known = LOCAL_ENGINES[stage] + REMOTE_ENGINES[stage]
    problems = [
        f"[{stage}] fallback: {n!r} is not an engine (known: {', '.join(known)})"
        for n in section.fallback
        if n not in known
    ]
    if len(set(names)) != len(names):
        problems.append(f"[{stage}] fallback = {list(section.fallback)!r}: an engine is repeated")
    if sum(n in REMOTE for n in names) > 1:
        problems.append(
            f"[{stage}] fallback = {list(section.fallback)!r}: one LAN server per stage "
            "(base_url); list it once"
        )
    if problems:
        raise ConfigError(problems)
    return names


def check_lan_servers(config: Config) -> None:
    """Every stage's engine list and server URL (for check-config); ConfigError lists all."""
    from rtvi_edge.engines.remote_http import check_base_url
    from rtvi_edge.engines.wyoming_link import parse_tcp_url

    problems: list[str] = []
    for stage in ("stt", "llm", "tts"):
        section = getattr(config, stage)
        names = [section.engine, *section.fallback]
        try:
            engine_names(stage, section)  # type: ignore[arg-type]
        except ConfigError as exc:
            problems += exc.problems
        try:
            if "wyoming" in names:
                parse_tcp_url(stage, section.base_url)
            elif "openai" in names:
                check_base_url(stage, section.base_url, ("http", "https"))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)


def needs_chain(stage: Stage, section: Any) -> bool:
    return section.engine in REMOTE or bool(section.fallback)


def chained(stage: Stage, config: Config, monitor: BackendMonitor | None) -> bool:
    """Whether `stage` is built as a chain of backends; a stage that no longer is one
    is no longer watched."""
    if needs_chain(stage, getattr(config, stage)):
        return True
    if monitor is not None:
        monitor.unregister_stage(stage, set())
    return False


def _chain(
    stage: Stage,
    config: Config,
    monitor: BackendMonitor,
    build_local: Callable[[Config], E],
    build_remote: Callable[[Config, str], E],
) -> list[Backend[E]]:
    section = getattr(config, stage)
    names = engine_names(stage, section)
    backends: list[Backend[E]] = []
    for name in names:
        remote = name in REMOTE
        if remote:
            engine = build_remote(config, name)
        else:
            engine = build_local(replace_section(config, stage, engine=name, fallback=()))
        backends.append(Backend(monitor.register(stage, name, engine, remote), engine))
    monitor.unregister_stage(stage, set(names))
    return backends


def build_stt_chain(
    config: Config, monitor: BackendMonitor, build_local: Callable[[Config], SpeechToText]
) -> SpeechToText:
    chain = _chain("stt", config, monitor, build_local, _remote_stt)
    return FailoverStt(chain, monitor, config.stt.transcript_secs)


def build_llm_chain(
    config: Config, monitor: BackendMonitor, build_local: Callable[[Config], LanguageModel]
) -> LanguageModel:
    chain = _chain("llm", config, monitor, build_local, _remote_llm)
    for backend in chain[1:]:
        if not backend.health.remote:
            _warm(backend.engine, config.llm.system_prompt)
    return FailoverLlm(chain, monitor, config.llm.first_token_secs)


def _warm(llm: LanguageModel, system_prompt: str) -> None:
    """A local fallback with the system prompt already cached answers sooner when
    the server fails mid-turn (the daemon's own warm-up reaches the first backend)."""
    import logging
    import threading

    from rtvi_edge.engines.base import GenerationParams, GenerationStats
    from rtvi_edge.errors import RtviEdgeError

    msgs = [{"role": "system", "content": system_prompt}, {"role": "user", "content": "Hi"}]
    try:
        for _ in llm.stream_chat(
            msgs, GenerationParams(max_tokens=1), threading.Event(), GenerationStats()
        ):
            pass
    except RtviEdgeError as exc:
        logging.getLogger(__name__).warning("local fallback warm-up failed: %s", exc)


def build_tts_chain(
    config: Config, monitor: BackendMonitor, build_local: Callable[[Config], TextToSpeech]
) -> TextToSpeech:
    chain = _chain("tts", config, monitor, build_local, _remote_tts)
    return FailoverTts(chain, monitor, config.tts.first_audio_secs)


def _remote_stt(config: Config, name: str) -> SpeechToText:
    c = config.stt
    if name == "wyoming":
        from rtvi_edge.engines.stt_wyoming import WyomingStt

        return WyomingStt(c.base_url, c.remote_model, c.language, c.server_timeout_secs)
    from rtvi_edge.engines.stt_openai import OpenAiStt

    return OpenAiStt(c.base_url, c.remote_model, c.language, c.api_key, c.server_timeout_secs)


def _remote_llm(config: Config, name: str) -> LanguageModel:
    from rtvi_edge.engines.llm_openai import OpenAiLlm

    c = config.llm
    return OpenAiLlm(
        c.base_url, c.remote_model, c.api_key, c.server_timeout_secs, c.server_concurrency
    )


def _remote_tts(config: Config, name: str) -> TextToSpeech:
    c = config.tts
    if name == "wyoming":
        from rtvi_edge.engines.tts_wyoming import WyomingTts

        return WyomingTts(c.base_url, c.remote_voice, timeout=c.server_timeout_secs)
    from rtvi_edge.engines.tts_openai import OpenAiTts

    return OpenAiTts(c.base_url, c.remote_model, c.remote_voice, c.api_key, c.server_timeout_secs)


def remote_fields(section: Any) -> tuple[Any, ...]:
    """The options of a section that only the remote engines and the chain read."""
    names = (
        "engine",
        "base_url",
        "remote_model",
        "remote_voice",
        "api_key",
        "fallback",
        "transcript_secs",
        "first_token_secs",
        "first_audio_secs",
        "server_concurrency",
        "server_timeout_secs",
    )
    values = dataclasses.asdict(section)
    return tuple(values.get(n) for n in names)
