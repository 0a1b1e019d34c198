"""Command payloads → typed, checked commands (sans-I/O).

Every check happens here, before anything is applied, so that a bad message
is refused as a whole with an error that names the problem. Option values are
checked again (ranges, choices) by `DeviceControl`, which owns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rtvi_edge import text_limits
from rtvi_edge.errors import RtviEdgeError
from rtvi_edge.mqtt.topics import CommandKind
from rtvi_edge.services.value_types import type_ok

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


@dataclass(frozen=True)
class ActionSpec:
    arguments: dict[str, tuple[str, bool]]  # name → (type, required)


@dataclass(frozen=True)
class Catalogue:
    """What the device accepts, from `describe_config()` / `describe_actions()`."""

    options: dict[str, dict[str, str]] = field(default_factory=dict)  # service → name → type
    actions: dict[tuple[str, str], ActionSpec] = field(default_factory=dict)

    @classmethod
    def from_descriptions(
        cls, config: list[dict[str, Any]], actions: list[dict[str, Any]]
    ) -> Catalogue:
        options = {
            str(s["name"]): {str(o["name"]): str(o.get("type", "")) for o in s.get("options", [])}
            for s in config
        }
        specs = {
            (str(a["service"]), str(a["action"])): ActionSpec(
                {
                    str(arg["name"]): (str(arg.get("type", "")), bool(arg.get("required", True)))
                    for arg in a.get("arguments", [])
                }
            )
            for a in actions
        }
        return cls(options, specs)


def parse_command(kind: CommandKind, payload: bytes, catalogue: Catalogue) -> Command:
    """The command on a topic; raises PayloadError naming what is wrong."""
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"{kind}: payload is larger than {MAX_PAYLOAD} bytes")
    if kind == "config/set":
        return _config(payload, catalogue)
    if kind == "action":
        return _action(payload, catalogue)
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
def _config(payload: bytes, catalogue: Catalogue) -> SetConfig:
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
        _check_service(f"config/set: config[{i}]", item, catalogue)
    return SetConfig(obj, interrupt)


def _check_service(where: str, item: Any, catalogue: Catalogue) -> None:
    if not isinstance(item, dict):
        raise PayloadError(f"{where}: must be an object with service and options")
    service = item.get("service")
    if not isinstance(service, str):
        raise PayloadError(f"{where}.service: must be a string")
    known = catalogue.options.get(service)
    if known is None:
        names = ", ".join(catalogue.options) or "none"
        raise PayloadError(f"{where}.service: unknown service {service!r} (known: {names})")
    options = item.get("options")
    if not isinstance(options, list):
        raise PayloadError(f"{where}.options: must be a list of {{name, value}}")
    for j, opt in enumerate(options):
        at = f"{where}.options[{j}]"
        if not isinstance(opt, dict) or not isinstance(opt.get("name"), str) or "value" not in opt:
            raise PayloadError(f"{at}: must be an object with a name (string) and a value")
        name = opt["name"]
        if name not in known:
            names = ", ".join(known) or "none"
            raise PayloadError(f"{at}: {service} has no option {name!r} (known: {names})")
        if not type_ok(known[name], opt["value"]):
            raise PayloadError(
                f"{at}: {service}.{name} = {opt['value']!r} must be of type {known[name]}"
            )


# -- action ---------------------------------------------------------------------
def _action(payload: bytes, catalogue: Catalogue) -> RunAction:
    obj = _json(payload, "action")
    if not isinstance(obj, dict):
        raise PayloadError("action: payload must be an object {service, action, arguments, id?}")
    req_id = obj.get("id")
    service, action = obj.get("service"), obj.get("action")
    if not isinstance(service, str) or not isinstance(action, str):
        raise PayloadError("action: service and action must be strings", req_id)
    spec = catalogue.actions.get((service, action))
    if spec is None:
        known = ", ".join(f"{s}:{a}" for s, a in catalogue.actions) or "none"
        raise PayloadError(f"action: unknown action {service}:{action} (known: {known})", req_id)
    arguments = _arguments(f"action {service}:{action}", obj.get("arguments"), spec, req_id)
    return RunAction(service, action, arguments, req_id)


def _arguments(where: str, raw: Any, spec: ActionSpec, req_id: Any) -> list[dict[str, Any]]:
    if raw is None:
        raw = []
    if isinstance(raw, dict):  # {"text": "hi"} is accepted for [{"name": "text", "value": "hi"}]
        raw = [{"name": k, "value": v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise PayloadError(f"{where}: arguments must be a list of {{name, value}}", req_id)
    given: set[str] = set()
    for i, arg in enumerate(raw):
        if not isinstance(arg, dict) or not isinstance(arg.get("name"), str) or "value" not in arg:
            raise PayloadError(
                f"{where}: arguments[{i}] must be an object with a name (string) and a value",
                req_id,
            )
        name = arg["name"]
        if name not in spec.arguments:
            known = ", ".join(spec.arguments) or "none"
            raise PayloadError(f"{where}: unknown argument {name!r} (known: {known})", req_id)
        type_name = spec.arguments[name][0]
        if not type_ok(type_name, arg["value"]):
            raise PayloadError(
                f"{where}: argument {name!r} = {arg['value']!r} must be of type {type_name}",
                req_id,
            )
        given.add(name)
    for name, (type_name, required) in spec.arguments.items():
        if required and name not in given:
            raise PayloadError(f"{where}: missing argument {name!r} ({type_name})", req_id)
    return raw
