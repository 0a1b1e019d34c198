"""ESPHome API messages: aioesphomeapi's protobuf classes and their type numbers."""

from __future__ import annotations

from typing import Any

from google.protobuf import message as pb_message
from google.protobuf.message import Message

from rtvi_edge.errors import ProtocolError
from rtvi_edge.homeassistant.framing import Frame

try:
    from aioesphomeapi import api_pb2
    from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
except ImportError as exc:  # pragma: no cover - a broken install
    raise ImportError(
        "the Home Assistant satellite needs aioesphomeapi (scripts/setup installs it)"
    ) from exc


pb: Any = api_pb2  # generated at import time: no types for mypy to see
TYPE_OF: dict[type[Any], int] = {cls: num for num, cls in MESSAGE_TYPE_TO_PROTO.items()}

__all__ = ["TYPE_OF", "Message", "decode", "pb", "type_of"]


def type_of(msg: Message) -> int:
    return TYPE_OF[type(msg)]


def decode(frame: Frame) -> Message:
    """The message in a frame; ProtocolError for an unknown type or a bad payload."""
    cls = MESSAGE_TYPE_TO_PROTO.get(frame.msg_type)
    if cls is None:
        raise ProtocolError(f"unknown message type {frame.msg_type}")
    try:
        msg: Message = cls.FromString(frame.payload)
    except pb_message.DecodeError as exc:
        raise ProtocolError(f"bad {cls.__name__} payload: {exc}") from exc
    return msg
