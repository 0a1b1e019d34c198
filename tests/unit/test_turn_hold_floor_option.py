"""`[turn] hold_floor` (the graded hold) reaches the endpointer from the file and per session."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rtvi_edge.config import Config
from rtvi_edge.errors import ServiceConfigError
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.services.options import OPTIONS, apply_session, describe_config


def _option(name: str):  # type: ignore[no-untyped-def]
    return next(o for o in OPTIONS if o.service == "turn" and o.name == name)


def test_the_file_sets_it() -> None:
    config = Config()
    config = replace(config, turn=replace(config.turn, hold_floor=0.05))
    assert SessionSettings.from_config(config).endpoint.turn_hold_floor == 0.05
    assert SessionSettings.from_config(Config()).endpoint.turn_hold_floor == 0.0  # off


def test_a_session_sets_it_within_its_limits() -> None:
    described = {
        o["name"]: o for s in describe_config() if s["name"] == "turn" for o in s["options"]
    }
    assert described["hold_floor"]["type"] == "number"
    assert (described["hold_floor"]["min"], described["hold_floor"]["max"]) == (0.0, 0.99)
    check = _option("hold_floor").check
    assert check is not None
    with pytest.raises(ServiceConfigError):
        check(1.5)
    settings = SessionSettings.from_config(Config())
    apply_session(settings, [(_option("hold_floor"), 0.1)])
    assert settings.endpoint.turn_hold_floor == 0.1
