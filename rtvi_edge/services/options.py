"""The RTVI services the device exposes: their options, types, scopes and validation.

Scope is explicit per option: `session` options change one conversation (the
RTVI client's own, or the local one from MQTT); `device` options change the
shared engines for everyone and persist across restarts.

Each option is a config field (`[service] name`, except the VAD's `params`): its
choices and limits come from the config dataclasses (`config.choice`,
`config.bounded`), never written here again, and `describe-config` shows them.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from rtvi_edge.config import Config, EchoGuard, choices_of, limits_of
from rtvi_edge.errors import ServiceConfigError
from rtvi_edge.pipeline.context import validate_messages
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.services.value_types import TypeName, type_ok

Scope = Literal["session", "device"]


@dataclass(frozen=True)
class OptionSpec:
    service: str
    name: str
    type: TypeName
    scope: Scope
    description: str
    # session options: read from / write to SessionSettings
    get_session: Callable[[SessionSettings], Any] | None = None
    set_session: Callable[[SessionSettings, Any], None] | None = None
    # device options: the config section/key they live in
    config_key: tuple[str, str] | None = None
    check: Callable[[Any], Any] | None = None  # returns the normalised value or raises
    limits: dict[str, Any] = dataclasses.field(default_factory=dict)  # choices, min, max

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "scope": self.scope,
            "description": self.description,
            **self.limits,
        }


def _range(lo: float | None, hi: float | None) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ServiceConfigError(f"must be between {lo} and {hi}")
        return value

    return check


def _limits(section: str, key: str) -> dict[str, Any]:
    """An option's choices or limits, as the config declares them."""
    choices = choices_of(section, key)
    if choices:
        return {"choices": list(choices)}
    lo, hi = limits_of(section, key)
    return {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}


def _from_config(section: str, key: str) -> dict[str, Any]:
    """`check` and `limits` for the option that is the config's `[section] key`."""
    limits = _limits(section, key)
    if "choices" in limits:
        return {"check": _one_of(*limits["choices"]), "limits": limits}
    if limits:
        return {"check": _range(limits.get("min"), limits.get("max")), "limits": limits}
    return {}


def _one_of(*allowed: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise ServiceConfigError(f"must be one of {', '.join(allowed)}")
        return value

    return check


_VAD_PARAMS = ("threshold", "start_secs", "stop_secs", "min_speech_secs")
_VAD_KEYS = {key: limits_of("vad", key) for key in _VAD_PARAMS}
_VAD_KEYS["confidence"] = _VAD_KEYS["threshold"]  # pipecat's name for the threshold


def _check_vad_params(value: Any) -> Any:
    for key, v in value.items():
        if key not in _VAD_KEYS:
            raise ServiceConfigError(f"unknown key {key!r} (known: {', '.join(sorted(_VAD_KEYS))})")
        lo, hi = _VAD_KEYS[key]
        assert lo is not None and hi is not None
        if not type_ok("number", v) or not lo <= v <= hi:
            raise ServiceConfigError(f"{key} must be a number between {lo} and {hi}")
    return value


def _vad_params_get(s: SessionSettings) -> dict[str, float]:
    p = s.endpoint
    return {
        "threshold": p.threshold,
        "start_secs": p.start_secs,
        "stop_secs": p.stop_secs,
        "min_speech_secs": p.min_speech_secs,
    }


def _vad_params_set(s: SessionSettings, value: dict[str, float]) -> None:
    changes: dict[str, Any] = {
        ("threshold" if k == "confidence" else k): float(v) for k, v in value.items()
    }
    s.endpoint = dataclasses.replace(s.endpoint, **changes)


def _vad_param(
    key: str,
) -> tuple[Callable[[SessionSettings], Any], Callable[[SessionSettings, Any], None]]:
    def get(s: SessionSettings) -> Any:
        return getattr(s.endpoint, key)

    def put(s: SessionSettings, v: Any) -> None:
        changes: dict[str, Any] = {key: float(v)}
        s.endpoint = dataclasses.replace(s.endpoint, **changes)

    return get, put


def _session(attr: str, convert: Callable[[Any], Any] = lambda v: v) -> dict[str, Any]:
    def put(s: SessionSettings, v: Any) -> None:
        setattr(s, attr, convert(v))

    return {"get_session": lambda s: getattr(s, attr), "set_session": put}


def _messages_check(value: Any) -> Any:
    return validate_messages(value, "initial_messages")


def _tools_check(value: Any) -> Any:
    from rtvi_edge.tools.registry import tool_from_schema

    for i, spec in enumerate(value):
        try:
            tool_from_schema(spec)
        except ValueError as exc:
            raise ServiceConfigError(f"tools[{i}]: {exc}") from None
    return value


def _turn_options() -> list[OptionSpec]:
    """The turn model, per session: on/off and its timing (docs/turn-taking.md)."""

    def put_enabled(s: SessionSettings, v: Any) -> None:
        s.endpoint = dataclasses.replace(s.endpoint, turn_model=bool(v))

    def put_text(s: SessionSettings, v: Any) -> None:
        s.endpoint = dataclasses.replace(s.endpoint, turn_text=bool(v))

    def put_flag(attr: str) -> Callable[[SessionSettings, Any], None]:
        def put(s: SessionSettings, v: Any) -> None:
            s.endpoint = dataclasses.replace(s.endpoint, **{attr: bool(v)})

        return put

    opts = [
        OptionSpec(
            "turn",
            "enabled",
            "bool",
            "session",
            "semantic end-of-turn (Smart Turn v3); off: a fixed silence timeout (vad stop_secs)",
            get_session=lambda s: s.endpoint.turn_model,
            set_session=put_enabled,
        ),
        OptionSpec(
            "turn",
            "text",
            "bool",
            "session",
            "the transcript's last word counts too ('set a timer for' is unfinished)",
            get_session=lambda s: s.endpoint.turn_text,
            set_session=put_text,
        ),
        OptionSpec(
            "turn",
            "llm",
            "bool",
            "session",
            "the language model's end-of-turn probability for the words so far counts too",
            get_session=lambda s: s.endpoint.turn_llm,
            set_session=put_flag("turn_llm"),
        ),
        OptionSpec(
            "turn",
            "adapt",
            "bool",
            "session",
            "a user who goes on after long pauses is given longer pauses (dynamic endpointing)",
            get_session=lambda s: s.endpoint.turn_adapt,
            set_session=put_flag("turn_adapt"),
        ),
        OptionSpec(
            "turn",
            "recover",
            "bool",
            "session",
            "speech within 2 s of the answer's start continues the turn (the answer is taken back)",
            get_session=lambda s: s.endpoint.turn_recover,
            set_session=put_flag("turn_recover"),
        ),
        OptionSpec(
            "turn",
            "backchannel",
            "bool",
            "session",
            "'mm-hm', 'yeah' while the bot speaks hold its voice a moment instead of stopping it",
            get_session=lambda s: s.endpoint.turn_backchannel,
            set_session=put_flag("turn_backchannel"),
        ),
    ]
    numbers = {
        "threshold": "P(turn complete) that ends the turn",
        "hold_threshold": "below: wait up to max_secs",
        "stop_secs": "silence before the turn model is asked",
        "unsure_secs": "silence that ends an unsure turn",
        "recheck_secs": "ask again this often (0 = once)",
        "max_secs": "the longest silence inside a turn",
        "hold_floor": "graded hold: above this P the longest silence shrinks (0 = off)",
        "grace_secs": "a verdict on its way is waited this long",
        "llm_weight": "the language model's weight beside the audio model's",
        "llm_neutral": "the language model's probability that pulls neither way",
    }
    for name, what in numbers.items():
        get, put = _vad_param(f"turn_{name}")
        limits = _from_config("turn", name)
        opts.append(OptionSpec("turn", name, "number", "session", what, get, put, **limits))
    return opts


def _build_options() -> list[OptionSpec]:
    opts: list[OptionSpec] = [
        OptionSpec(
            "vad",
            "params",
            "object",
            "session",
            "VAD and endpointing: threshold, start_secs, stop_secs, min_speech_secs",
            get_session=_vad_params_get,
            set_session=_vad_params_set,
            check=_check_vad_params,
        ),
    ]
    for key in _VAD_PARAMS:
        get, put = _vad_param(key)
        opts.append(
            OptionSpec(
                "vad",
                f"params.{key}",
                "number",
                "session",
                f"VAD {key.replace('_', ' ')}",
                get_session=get,
                set_session=put,
                **_from_config("vad", key),
            )
        )
    opts += _turn_options()
    opts += [
        OptionSpec(
            "vad",
            "engine",
            "string",
            "device",
            "the voice activity detector",
            config_key=("vad", "engine"),
            **_from_config("vad", "engine"),
        ),
        OptionSpec(
            "stt",
            "engine",
            "string",
            "device",
            "speech-to-text on the device, or a LAN server (wyoming, openai)",
            config_key=("stt", "engine"),
            **_from_config("stt", "engine"),
        ),
        OptionSpec(
            "stt",
            "model",
            "string",
            "device",
            "model path ('' = the engine's packaged default)",
            config_key=("stt", "model"),
        ),
        OptionSpec(
            "stt",
            "language",
            "string",
            "device",
            "language code, e.g. en",
            config_key=("stt", "language"),
        ),
        OptionSpec(
            "stt",
            "interim_secs",
            "number",
            "session",
            "how often interim transcripts are made while the user speaks",
            **_from_config("stt", "interim_secs"),
            **_session("interim_secs", float),
        ),
        OptionSpec(
            "llm",
            "model",
            "string",
            "device",
            "GGUF model path ('' = SmolLM2-135M-Instruct)",
            config_key=("llm", "model"),
        ),
        OptionSpec(
            "llm",
            "system_prompt",
            "string",
            "session",
            "the system prompt",
            **_session("system_prompt"),
        ),
        OptionSpec(
            "llm",
            "initial_messages",
            "array",
            "session",
            "messages that start the conversation (resets the context)",
            check=_messages_check,
            **_session("initial_messages"),
        ),
        OptionSpec(
            "llm",
            "tools",
            "array",
            "session",
            "functions the client runs (OpenAI function schemas)",
            check=_tools_check,
            **_session("tools"),
        ),
        OptionSpec(
            "llm",
            "temperature",
            "number",
            "session",
            "sampling temperature",
            **_from_config("llm", "temperature"),
            **_session("temperature", float),
        ),
        OptionSpec(
            "llm",
            "top_p",
            "number",
            "session",
            "nucleus sampling",
            **_from_config("llm", "top_p"),
            **_session("top_p", float),
        ),
        OptionSpec(
            "llm",
            "max_tokens",
            "integer",
            "session",
            "longest answer in tokens",
            **_from_config("llm", "max_tokens"),
            **_session("max_tokens", int),
        ),
        OptionSpec(
            "tts",
            "voice",
            "string",
            "device",
            "Piper voice .onnx path ('' = en_US joe medium)",
            config_key=("tts", "voice"),
        ),
        OptionSpec(
            "tts",
            "speed",
            "number",
            "session",
            "speaking rate, 1.0 = normal",
            **_from_config("tts", "speed"),
            **_session("tts_speed", float),
        ),
        OptionSpec(
            "audio",
            "volume",
            "number",
            "session",
            "output gain (1.0 = as synthesised)",
            **_from_config("audio", "volume"),
            **_session("volume", float),
        ),
        OptionSpec(
            "audio", "muted", "bool", "session", "ignore the microphone", **_session("muted")
        ),
        OptionSpec(
            "audio",
            "echo_guard",
            "string",
            "session",
            "half-duplex (ignore the mic while the bot speaks) or barge-in",
            **_from_config("audio", "echo_guard"),
            **_session("echo_guard", EchoGuard),
        ),
    ]
    opts += _lan_server_options()
    return opts


def _engine_list(*allowed: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        for name in value:
            if name not in allowed:
                raise ServiceConfigError(f"{name!r} is not one of {', '.join(allowed)}")
        if len(set(value)) != len(value):
            raise ServiceConfigError("an engine is listed twice")
        return tuple(value)

    return check


def _url(*schemes: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value and not value.startswith(tuple(f"{s}://" for s in schemes)):
            raise ServiceConfigError(f"must start with {' or '.join(s + '://' for s in schemes)}")
        return value

    return check


def _lan_server_options() -> list[OptionSpec]:
    """Switching to a LAN server and back at run time (docs/lan-server.md).
    api_key stays in the config file: options are readable by every client."""
    stages = {
        "stt": (choices_of("stt", "engine"), ("tcp", "http", "https")),
        "llm": (choices_of("llm", "engine"), ("http", "https")),
        "tts": (choices_of("tts", "engine"), ("tcp", "http", "https")),
    }
    opts: list[OptionSpec] = [
        OptionSpec(
            "llm",
            "engine",
            "string",
            "device",
            "llama (on the device) or openai (a LAN server, [llm] base_url)",
            config_key=("llm", "engine"),
            **_from_config("llm", "engine"),
        ),
        OptionSpec(
            "tts",
            "engine",
            "string",
            "device",
            "piper (on the device), or a LAN server: wyoming, openai",
            config_key=("tts", "engine"),
            **_from_config("tts", "engine"),
        ),
    ]
    for stage, (engines, schemes) in stages.items():
        opts += [
            OptionSpec(
                stage,
                "base_url",
                "string",
                "device",
                "the LAN server: tcp://HOST:PORT (wyoming) or http://HOST:PORT/v1 (openai)",
                config_key=(stage, "base_url"),
                check=_url(*schemes),
            ),
            OptionSpec(
                stage,
                "fallback",
                "array",
                "device",
                "engines tried in order when the one before is down, failing or slow",
                config_key=(stage, "fallback"),
                check=_engine_list(*engines),
            ),
        ]
    opts.append(
        OptionSpec(
            "llm",
            "remote_model",
            "string",
            "device",
            "the LAN server's model name ('' = the first it lists)",
            config_key=("llm", "remote_model"),
        )
    )
    return opts


OPTIONS: list[OptionSpec] = _build_options()
SERVICES: list[str] = list(dict.fromkeys(o.service for o in OPTIONS))
BY_KEY: dict[tuple[str, str], OptionSpec] = {(o.service, o.name): o for o in OPTIONS}


def describe_config() -> list[dict[str, Any]]:
    return [
        {"name": svc, "options": [o.describe() for o in OPTIONS if o.service == svc]}
        for svc in SERVICES
    ]


def current_config(settings: SessionSettings, config: Config) -> list[dict[str, Any]]:
    out = []
    for svc in SERVICES:
        options = []
        for o in OPTIONS:
            if o.service != svc or "." in o.name:
                continue  # dotted aliases are write-only conveniences
            if o.scope == "session" and o.get_session is not None:
                value = o.get_session(settings)
            elif o.config_key is not None:
                section, key = o.config_key
                value = getattr(getattr(config, section), key)
            else:
                continue
            options.append({"name": o.name, "value": value})
        out.append({"service": svc, "options": options})
    return out


def session_changes(
    current: SessionSettings, base: SessionSettings
) -> list[tuple[OptionSpec, Any]]:
    """The session options `current` holds apart from `base`: the session's own layer."""
    changes = []
    for o in OPTIONS:
        if o.scope != "session" or o.get_session is None or o.type == "object":
            continue  # (vad.params is the sum of its dotted parts, which are compared)
        value = o.get_session(current)
        if value != o.get_session(base):
            changes.append((o, copy.deepcopy(value)))
    return changes


def apply_session(settings: SessionSettings, changes: list[tuple[OptionSpec, Any]]) -> None:
    for option, value in changes:
        assert option.set_session is not None
        option.set_session(settings, value)
