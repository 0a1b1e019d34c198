"""Command payloads → typed commands (sans-I/O).

Here the payload's form is checked (JSON, text, numbers, the shape of a config
or an action), so that a bad message is refused with an error that names the
problem. What a config or an action means (services, options, types, ranges,
arguments) is checked once, by the RTVI services behind `DeviceControl`, and
refused the same way, before anything is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rtvi_edge import text_limits
from rtvi_edge.errors import RtviEdgeError
from rtvi_edge.mqtt.topics import CommandKind

MAX_PAYLOAD = 256 * 1024  # a config with a long prompt fits; a runaway publisher does not
MAX_TEXT = 4096


class PayloadError(RtviEdgeError):
    """A command payload that cannot be used; nothing was applied."""

    def __init__(self, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.request_id = request_id  # an action's "id", when it could be read


@dataclass(frozen=True)
class SetConfig:
    config: list[dict[str, Any]]
    interrupt: bool = False


@dataclass(frozen=True)
class RunAction:
    service: str
    action: str
    arguments: list[dict[str, Any]]
    id: Any = None


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Ask:
    text: str


@dataclass(frozen=True)
class SetMute:
    muted: bool


@dataclass(frozen=True)
class SetVolume:
    volume: float  # 0.0-1.0 (the topic takes 0-100)


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Listen:
    pass


Command = SetConfig | RunAction | Say | Ask | SetMute | SetVolume | Stop | Listen


def parse_command(kind: CommandKind, payload: bytes) -> Command:
    """The command on a topic; raises PayloadError naming what is wrong."""
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"{kind}: payload is larger than {MAX_PAYLOAD} bytes")
    if kind == "config/set":
        return _config(payload)
    if kind == "action":
        return _action(payload)
    if kind == "say":
        return Say(_text(payload, kind))
    if kind == "ask":
        return Ask(_text(payload, kind))
    if kind == "mute/set":
        return SetMute(_switch(payload, kind))
    if kind == "volume/set":
        return SetVolume(_number(payload, kind, 0, 100) / 100)
    if kind == "stop":
        return Stop()
    return Listen()


# -- JSON and plain values ------------------------------------------------------
def _decode(payload: bytes, what: str) -> str:
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError(f"{what}: payload is not UTF-8 text") from None


def _json(payload: bytes, what: str) -> Any:
    raw = _decode(payload, what)
    try:
        return text_limits.loads(raw, "payload")
    except text_limits.InputError as exc:
        raise PayloadError(f"{what}: {exc}") from None


def _text(payload: bytes, what: str) -> str:
    """Plain text, or JSON {"text": "..."}."""
    raw = _decode(payload, what)
    if raw.startswith("{"):
        obj = _json(payload, what)
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise PayloadError(f'{what}: a JSON payload must be {{"text": "..."}}')
        raw = obj["text"].strip()
    if not raw:
        raise PayloadError(f"{what}: empty text")
    try:
        text_limits.check_text(raw)
    except text_limits.InputError as exc:
        raise PayloadError(f"{what}: {exc}") from None
    if len(raw) > MAX_TEXT:
        raise PayloadError(f"{what}: text is longer than {MAX_TEXT} characters")
    return raw


_ON = ("on", "true", "1", "yes")
_OFF = ("off", "false", "0", "no")


def _switch(payload: bytes, what: str) -> bool:
    value = _decode(payload, what).lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise PayloadError(f"{what}: payload must be ON or OFF (or true/false), got {value[:20]!r}")


def _number(payload: bytes, what: str, lo: float, hi: float) -> float:
    raw = _decode(payload, what)
    try:
        obj = text_limits.loads(raw, "payload")
    except text_limits.InputError:
        obj = None
    if isinstance(obj, dict):
        obj = obj.get("value")
    if isinstance(obj, bool) or not isinstance(obj, int | float):
        raise PayloadError(f"{what}: payload must be a number, got {raw[:20]!r}")
    value = float(obj)
    if not lo <= value <= hi:
        raise PayloadError(f"{what}: {value:g} is outside {lo:g}-{hi:g}")
    return value


# -- config/set -------------------------------------------------------------------
def _config(payload: bytes) -> SetConfig:
    obj = _json(payload, "config/set")
    interrupt: Any = False
    if isinstance(obj, dict) and "config" in obj:
        interrupt = obj.get("interrupt", False)
        if not isinstance(interrupt, bool):
            raise PayloadError("config/set: interrupt must be true or false")
        obj = obj["config"]
    if not isinstance(obj, list):
        raise PayloadError(
            "config/set: payload must be a list of {service, options} "
            'or {"config": [...], "interrupt": bool}'
        )
    for i, item in enumerate(obj):
        _check_service(f"config/set: config[{i}]", item)
    return SetConfig(obj, interrupt)


def _check_service(where: str, item: Any) -> None:
    if not isinstance(item, dict):
        raise PayloadError(f"{where}: must be an object with service and options")
    if not isinstance(item.get("service"), str):
        raise PayloadError(f"{where}.service: must be a string")
    options = item.get("options")
    if not isinstance(options, list):
        raise PayloadError(f"{where}.options: must be a list of {{name, value}}")
    for j, opt in enumerate(options):
        at = f"{where}.options[{j}]"
        if not isinstance(opt, dict) or not isinstance(opt.get("name"), str) or "value" not in opt:
            raise PayloadError(f"{at}: must be an object with a name (string) and a value")


# -- action ---------------------------------------------------------------------
def _action(payload: bytes) -> RunAction:
    obj = _json(payload, "action")
    if not isinstance(obj, dict):
        raise PayloadError("action: payload must be an object {service, action, arguments, id?}")
    req_id = obj.get("id")
    service, action = obj.get("service"), obj.get("action")
    if not isinstance(service, str) or not isinstance(action, str):
        raise PayloadError("action: service and action must be strings", req_id)
    arguments = _arguments(f"action {service}:{action}", obj.get("arguments"), req_id)
    return RunAction(service, action, arguments, req_id)


def _arguments(where: str, raw: Any, req_id: Any) -> list[dict[str, Any]]:
    if raw is None:
        raw = []
    if isinstance(raw, dict):  # {"text": "hi"} is accepted for [{"name": "text", "value": "hi"}]
        raw = [{"name": k, "value": v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise PayloadError(f"{where}: arguments must be a list of {{name, value}}", req_id)
    for i, arg in enumerate(raw):
        if not isinstance(arg, dict) or not isinstance(arg.get("name"), str) or "value" not in arg:
            raise PayloadError(
                f"{where}: arguments[{i}] must be an object with a name (string) and a value",
                req_id,
            )
    return raw
