"""Services config: validation names the bad part, and nothing is applied on error."""

from typing import Any

import pytest

from rtvi_edge.config import Config
from rtvi_edge.errors import ServiceConfigError
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.services import actions, options
from rtvi_edge.services.update import plan_update


def opt(service: str, name: str, value: Any) -> list[dict[str, Any]]:
    return [{"service": service, "options": [{"name": name, "value": value}]}]


def test_session_and_device_options_are_planned() -> None:
    settings, device = SessionSettings(), Config()
    plan = plan_update(
        [
            {"service": "vad", "options": [{"name": "params", "value": {"stop_secs": 0.5}}]},
            {"service": "tts", "options": [{"name": "speed", "value": 1.5}]},
            {"service": "stt", "options": [{"name": "engine", "value": "pocketsphinx"}]},
        ],
        settings,
        device,
    )
    assert plan.settings.endpoint.stop_secs == 0.5 and plan.settings.tts_speed == 1.5
    assert plan.device.stt.engine == "pocketsphinx" and plan.device_changed
    assert settings.tts_speed == 1.0 and device.stt.engine == "whisper"  # inputs untouched


def test_dotted_vad_option() -> None:
    plan = plan_update(opt("vad", "params.stop_secs", 0.8), SessionSettings(), Config())
    assert plan.settings.endpoint.stop_secs == 0.8


@pytest.mark.parametrize(
    ("items", "needle"),
    [
        ("nope", "must be a list"),
        (opt("radio", "x", 1), "unknown service"),
        (opt("tts", "pitch", 1), "tts has no option 'pitch'"),
        (opt("tts", "speed", "fast"), "must be of type number"),
        (opt("tts", "speed", 9), "between 0.25 and 4.0"),
        (opt("stt", "engine", "siri"), "must be one of whisper"),
        (opt("vad", "params", {"stop_secs": 99}), "stop_secs must be a number"),
        (opt("vad", "params", {"color": 1}), "unknown key 'color'"),
        (opt("llm", "initial_messages", [{"role": "x", "content": "y"}]), "role"),
        (opt("audio", "muted", "yes"), "type bool"),
        ([{"service": "tts", "options": [{"name": "speed"}]}], "name and value"),
        (
            [
                {"service": "tts", "options": [{"name": "speed", "value": 1.2}]},
                {"service": "tts", "options": [{"name": "speed", "value": -1}]},
            ],
            "config[1]",
        ),
    ],
)
def test_bad_updates_name_the_problem(items: Any, needle: str) -> None:
    with pytest.raises(ServiceConfigError, match=None) as info:
        plan_update(items, SessionSettings(), Config())
    assert needle in str(info.value)


def test_describe_and_current_config_agree() -> None:
    described = {(s["name"], o["name"]) for s in options.describe_config() for o in s["options"]}
    current = {
        (s["service"], o["name"])
        for s in options.current_config(SessionSettings(), Config())
        for o in s["options"]
    }
    assert current <= described
    assert {"vad", "stt", "llm", "tts", "audio"} <= {s for s, _ in described}


def test_action_arguments_are_checked() -> None:
    spec = actions.find_action("tts", "say")
    assert actions.parse_arguments(spec, [{"name": "text", "value": "hi"}]) == {"text": "hi"}
    for bad, needle in [
        ([], "missing argument 'text'"),
        ([{"name": "text", "value": 3}], "must be of type string"),
        ([{"name": "loud", "value": True}], "unknown argument 'loud'"),
        ("x", "must be a list"),
    ]:
        with pytest.raises(ServiceConfigError) as info:
            actions.parse_arguments(spec, bad)
        assert needle in str(info.value)
    with pytest.raises(ServiceConfigError, match="unknown action tts:sing"):
        actions.find_action("tts", "sing")
    assert {
        ("tts", "say"),
        ("tts", "interrupt"),
        ("llm", "append_to_messages"),
        ("llm", "get_context"),
        ("llm", "set_context"),
        ("llm", "run"),
        ("bot", "disconnect"),
    } <= set(actions.BY_NAME)


def test_unknown_value_types_are_accepted() -> None:
    from rtvi_edge.services.value_types import type_ok

    assert type_ok("something-new", object())
    assert not type_ok("integer", True) and type_ok("integer", 3)
    assert type_ok("array", []) and type_ok("object", {}) and not type_ok("object", [])
