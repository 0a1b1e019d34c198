"""Typed RTVI messages: client → server parsed with exact errors, server → client built."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from rtvi_edge import text_limits
from rtvi_edge.errors import ProtocolError

LABEL = "rtvi-ai"
# The newest protocol the current @pipecat-ai/client-js (1.13.1) speaks. pipecat's own
# server says 2.2.0, which only adds `capabilities` to bot-ready and `send-file`.
PROTOCOL_VERSION = "2.1.0"
SUPPORTED_MAJORS = (0, 1, 2)  # 0.x clients keep the services messages they were built on
DTMF_KEYS = frozenset("0123456789*#")


class MessageError(ProtocolError):
    """A message that cannot be served; `msg_id` is echoed in the error-response."""

    def __init__(self, message: str, msg_id: str = "") -> None:
        super().__init__(message)
        self.msg_id = msg_id


@dataclass(frozen=True)
class ClientReady:
    id: str
    version: object  # as sent: checked by the protocol, which still answers a bad one
    about: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientMessage:
    id: str
    t: str
    d: Any


@dataclass(frozen=True)
class SendText:
    id: str
    content: str
    run_immediately: bool = True
    audio_response: bool = True


@dataclass(frozen=True)
class AppendToContext:
    id: str
    role: str
    content: str  # the text (of the text parts, for OpenAI-style content parts)
    run_immediately: bool = False
    dropped: tuple[str, ...] = ()  # types of content parts that carry no text, left out


@dataclass(frozen=True)
class Dtmf:
    """Keypad presses (2.1 `buttons`; 2.0 clients send one `button` per message)."""

    id: str
    buttons: tuple[str, ...]


@dataclass(frozen=True)
class UiMessage:
    """`ui-event`, `ui-snapshot` or `ui-cancel-job-group`: for the application, if any."""

    id: str
    type: Literal["ui-event", "ui-snapshot", "ui-cancel-job-group"]
    data: dict[str, Any]


@dataclass(frozen=True)
class FunctionCallResult:
    id: str
    function_name: str
    tool_call_id: str
    arguments: dict[str, Any]
    result: Any


@dataclass(frozen=True)
class DisconnectBot:
    id: str


@dataclass(frozen=True)
class UpdateConfig:
    id: str
    config: Any
    interrupt: bool = False


@dataclass(frozen=True)
class GetConfig:
    id: str


@dataclass(frozen=True)
class DescribeConfig:
    id: str


@dataclass(frozen=True)
class DescribeActions:
    id: str


@dataclass(frozen=True)
class Action:
    id: str
    service: Any
    action: Any
    arguments: Any


ClientMsg = (
    ClientReady
    | ClientMessage
    | SendText
    | AppendToContext
    | FunctionCallResult
    | DisconnectBot
    | Dtmf
    | UiMessage
    | UpdateConfig
    | GetConfig
    | DescribeConfig
    | DescribeActions
    | Action
)

# client-message `t` values that reach the services mechanism
SERVICE_REQUESTS = ("update-config", "get-config", "describe-config", "describe-actions", "action")


def _get(
    data: dict[str, Any], key: str, kind: type, msg_id: str, where: str, default: Any = ...
) -> Any:
    """A field of the expected JSON type (kinds used: str, bool, dict, list)."""
    if key not in data or data[key] is None:
        if default is ...:
            raise MessageError(f"{where}: missing field {key!r}", msg_id)
        return default
    value = data[key]
    if not isinstance(value, kind):
        names = {str: "a string", bool: "a boolean", dict: "an object", list: "a list"}
        raise MessageError(
            f"{where}: field {key!r} must be {names.get(kind, kind.__name__)}, got {value!r:.60}",
            msg_id,
        )
    return value


Version = tuple[int, int, int]


def parse_version(version: str) -> Version:
    """ "MAJOR.MINOR.PATCH" (a missing minor or patch is 0; a pre-release tag is ignored).

    Only ASCII digits, at most 9 of them per part: `str.isdigit()` also accepts "²",
    which `int()` refuses, and a 5,000-digit part is no version either."""
    if not isinstance(version, str) or len(version) > 64:
        raise ProtocolError(
            f"unparseable protocol version {version!r:.40} (want MAJOR.MINOR.PATCH)"
        )
    core = version.split("-")[0]
    if _VERSION.fullmatch(core) is None:
        raise ProtocolError(f"unparseable protocol version {version!r} (want MAJOR.MINOR.PATCH)")
    numbers = [int(p) for p in core.split(".")] + [0, 0]
    return numbers[0], numbers[1], numbers[2]


_VERSION = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9}){0,2}", re.ASCII)


def format_version(version: Version) -> str:
    return ".".join(str(n) for n in version)


def parse_message(text: str) -> ClientMsg:
    """One RTVI JSON envelope → a typed message; MessageError says exactly what is wrong."""
    try:
        obj = text_limits.loads(text)
    except text_limits.InputError as exc:
        raise MessageError(str(exc)) from None
    if not isinstance(obj, dict):
        raise MessageError("message must be a JSON object")
    raw_id = obj.get("id", "")
    msg_id = str(raw_id) if isinstance(raw_id, str | int) else ""
    if obj.get("label") != LABEL:
        raise MessageError(f"label must be {LABEL!r}, got {obj.get('label')!r:.40}", msg_id)
    mtype = obj.get("type")
    if not isinstance(mtype, str):
        raise MessageError("field 'type' must be a string", msg_id)
    data = obj.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MessageError(f"{mtype}: field 'data' must be an object", msg_id)
    return _parse_typed(mtype, msg_id, data)


def _parse_typed(mtype: str, i: str, d: dict[str, Any]) -> ClientMsg:
    w = mtype
    if mtype == "client-ready":
        about = d.get("about")
        about = about if isinstance(about, dict) else {}
        return ClientReady(i, d.get("version"), about)
    if mtype == "client-message":
        return ClientMessage(i, _get(d, "t", str, i, w), d.get("d"))
    if mtype == "send-text":
        opts = _get(d, "options", dict, i, w, {})
        return SendText(
            i,
            _get(d, "content", str, i, w),
            _get(opts, "run_immediately", bool, i, "send-text options", True),
            _get(opts, "audio_response", bool, i, "send-text options", True),
        )
    if mtype == "append-to-context":
        text, dropped = _content_text(d.get("content"), i)
        return AppendToContext(
            i,
            _get(d, "role", str, i, w),
            text,
            _get(d, "run_immediately", bool, i, w, False),
            dropped,
        )
    if mtype == "dtmf":
        return Dtmf(i, _dtmf_buttons(d, i))
    if mtype == "ui-event":
        _get(d, "event", str, i, w)
        return UiMessage(i, "ui-event", d)
    if mtype == "ui-snapshot":
        return UiMessage(i, "ui-snapshot", d)
    if mtype == "ui-cancel-job-group":
        _get(d, "job_id", str, i, w)
        return UiMessage(i, "ui-cancel-job-group", d)
    if mtype == "llm-function-call-result":
        return FunctionCallResult(
            i,
            _get(d, "function_name", str, i, w),
            _get(d, "tool_call_id", str, i, w),
            _get(d, "arguments", dict, i, w, {}),
            d.get("result"),
        )
    if mtype == "disconnect-bot":
        return DisconnectBot(i)
    return _parse_services(mtype, i, d)


def _content_text(content: Any, msg_id: str) -> tuple[str, tuple[str, ...]]:
    """A string, or OpenAI-style content parts: the text parts joined, the others named."""
    where = "append-to-context"
    if isinstance(content, str):
        return content, ()
    if not isinstance(content, list):
        raise MessageError(
            f"{where}: field 'content' must be a string or a list of content parts, "
            f"got {content!r:.60}",
            msg_id,
        )
    texts: list[str] = []
    dropped: list[str] = []
    for n, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict):
            dropped.append(str(part.get("type", "untyped")))
        else:
            raise MessageError(f"{where}: content part {n} must be an object", msg_id)
    if not texts:
        kinds = ", ".join(dropped) or "none"
        raise MessageError(
            f"{where}: no text in the content (part types: {kinds}); this device's "
            "language model takes text only",
            msg_id,
        )
    return " ".join(texts), tuple(dropped)


def _dtmf_buttons(d: dict[str, Any], msg_id: str) -> tuple[str, ...]:
    if "buttons" in d:
        raw = _get(d, "buttons", list, msg_id, "dtmf")
    else:
        raw = [_get(d, "button", str, msg_id, "dtmf")]
    if not raw or not all(isinstance(b, str) and b in DTMF_KEYS for b in raw):
        raise MessageError(
            f"dtmf: buttons must be keypad keys (0-9, * or #), got {raw!r:.60}", msg_id
        )
    return tuple(raw)


def _parse_services(mtype: str, i: str, d: dict[str, Any]) -> ClientMsg:
    if mtype == "update-config":
        return UpdateConfig(
            i, _get(d, "config", list, i, mtype), _get(d, "interrupt", bool, i, mtype, False)
        )
    if mtype == "get-config":
        return GetConfig(i)
    if mtype == "describe-config":
        return DescribeConfig(i)
    if mtype == "describe-actions":
        return DescribeActions(i)
    if mtype == "action":
        return Action(
            i,
            _get(d, "service", str, i, mtype),
            _get(d, "action", str, i, mtype),
            d.get("arguments", []),
        )
    raise MessageError(f"unknown message type {mtype!r}", i)


def service_request(msg: ClientMessage) -> ClientMsg:
    """A client-message carrying a services request → the 0.x message it stands for."""
    d = msg.d if msg.d is not None else {}
    if msg.t in ("update-config", "action") and not isinstance(d, dict):
        raise MessageError(f"client-message {msg.t}: d must be an object", msg.id)
    return _parse_services(msg.t, msg.id, d if isinstance(d, dict) else {})


# -- server → client -----------------------------------------------------------
def envelope(mtype: str, data: Any = None, msg_id: str | None = None) -> str:
    obj: dict[str, Any] = {"label": LABEL, "type": mtype}
    if msg_id is not None:
        obj["id"] = msg_id
    if data is not None:
        obj["data"] = data
    return text_limits.dumps_clean(obj)
