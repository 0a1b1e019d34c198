"""`update-config`: validate everything first, then apply all of it or nothing."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from rtvi_edge.config import Config, replace_section
from rtvi_edge.errors import ServiceConfigError
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.services.options import BY_KEY, SERVICES
from rtvi_edge.services.value_types import type_ok


@dataclass
class ConfigUpdate:
    settings: SessionSettings
    device: Config
    device_changed: bool = False
    context_reset: bool = False
    changed: list[str] = field(default_factory=list)


def plan_update(items: Any, settings: SessionSettings, device: Config) -> ConfigUpdate:
    """Returns the new session settings and device config; raises ServiceConfigError
    naming the first bad service, option, type or value (nothing is applied)."""
    if not isinstance(items, list):
        raise ServiceConfigError("config: must be a list of {service, options} objects")
    new_settings = copy.deepcopy(settings)
    update = ConfigUpdate(settings=new_settings, device=device)
    for i, item in enumerate(items):
        where = f"config[{i}]"
        if not isinstance(item, dict):
            raise ServiceConfigError(f"{where}: must be an object with service and options")
        service = item.get("service")
        if service not in SERVICES:
            raise ServiceConfigError(
                f"{where}.service = {service!r}: unknown service (known: {', '.join(SERVICES)})"
            )
        options = item.get("options")
        if not isinstance(options, list):
            raise ServiceConfigError(f"{where}.options: must be a list of {{name, value}}")
        for j, opt in enumerate(options):
            _plan_option(f"{where}.options[{j}]", service, opt, update)
    return update


def _plan_option(where: str, service: str, opt: Any, update: ConfigUpdate) -> None:
    if not isinstance(opt, dict) or "name" not in opt or "value" not in opt:
        raise ServiceConfigError(f"{where}: must be an object with name and value")
    name, value = opt["name"], opt["value"]
    spec = BY_KEY.get((service, name)) if isinstance(name, str) else None
    if spec is None:
        known = ", ".join(o for (s, o) in BY_KEY if s == service)
        raise ServiceConfigError(f"{where}: {service} has no option {name!r} (known: {known})")
    label = f"{where} ({service}.{name})"
    if not type_ok(spec.type, value):
        raise ServiceConfigError(f"{label} = {value!r}: must be of type {spec.type}")
    if spec.check is not None:
        try:
            value = spec.check(value)
        except ServiceConfigError as exc:
            raise ServiceConfigError(f"{label} = {value!r}: {exc}") from None
    update.changed.append(f"{service}.{name}")
    if spec.scope == "session":
        assert spec.set_session is not None
        spec.set_session(update.settings, value)
        if (service, name) == ("llm", "initial_messages"):
            update.context_reset = True
        return
    assert spec.config_key is not None
    section, key = spec.config_key
    if getattr(getattr(update.device, section), key) != value:
        try:
            update.device = replace_section(update.device, section, **{key: value})
        except (TypeError, ValueError) as exc:  # pragma: no cover - types checked above
            raise ServiceConfigError(f"{label}: {exc}") from None
        update.device_changed = True
