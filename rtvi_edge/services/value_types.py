"""The RTVI option and argument type names, and the one check of a value against them
(shared by the RTVI services and the MQTT command parser)."""

from __future__ import annotations

from typing import Any, Literal

TypeName = Literal["number", "integer", "string", "bool", "array", "object"]


def type_ok(type_name: str, value: Any) -> bool:
    """Whether `value` is of the RTVI type; an unknown name accepts anything (the device
    checks it)."""
    if type_name == "bool":
        return isinstance(value, bool)
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "array":
        return isinstance(value, list)
    if type_name == "object":
        return isinstance(value, dict)
    return True
