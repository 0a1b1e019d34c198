"""Words tied to client functions by rules, not by case (issue #26, session 6): remarks and
questions of taste call nothing, a compound or a past tense still finds its function, a
command acts on a thing the function knows and never just reads it, arguments come from a
state's verb, an enum value's common word, a range's ends, or all the words after "add"."""

from __future__ import annotations

from typing import Any

import pytest

from rtvi_edge.tools import honesty, slots
from rtvi_edge.tools.policy import ToolPolicy
from rtvi_edge.tools.registry import Tool, tool_from_schema


def fn(
    name: str,
    description: str,
    properties: dict[str, Any] | None = None,
    **hints: list[str],  # the optional `examples` and `keywords` a client may declare
) -> Tool:
    params: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if properties:
        params["required"] = list(properties)
    function = {"name": name, "description": description, "parameters": params, **hints}
    return tool_from_schema({"type": "function", "function": function})


TOOLS = [
    fn("get_doorbell_visitor", "Says who rang the doorbell most recently and when."),
    fn(
        "preheat_oven",
        "Preheats the kitchen oven to a temperature.",
        {"celsius": {"type": "integer"}},
    ),
    fn("set_tv_power", "Turns the TV on or off.", {"on": {"type": "boolean"}}),
    fn("get_car_charge", "Battery charge and driving range of the electric car."),
    fn(
        "set_light_color",
        "Changes the colour of the living room lamp.",
        {"color": {"type": "string", "enum": ["red", "blue"]}},
    ),
    fn(
        "set_alarm_system",
        "Arms or disarms the house security alarm.",
        {"armed": {"type": "boolean"}},
    ),
    fn("set_door_lock", "Locks or unlocks the front door.", {"locked": {"type": "boolean"}}),
    fn("get_door_lock", "Tells whether the front door is locked or unlocked."),
    fn(
        "media_control",
        "Controls the music player: play, pause, next or previous track.",
        {"command": {"type": "string", "enum": ["play", "pause", "next", "previous"]}},
        keywords=["music", "song", "track"],
    ),
    fn("get_now_playing", "Says which song is playing on the music player."),
    fn(
        "set_blinds",
        "Moves the living room blinds to a position in percent.",
        {"position": {"type": "integer", "minimum": 0, "maximum": 100}},
    ),
    fn(
        "set_hvac_mode",
        "Switches the heating system between heat, cool and off.",
        {"mode": {"type": "string", "enum": ["heat", "cool", "off"]}},
        keywords=["air conditioning", "heating"],
    ),
    fn(
        "add_to_todo",
        "Adds a task to the family to-do list.",
        {"task": {"type": "string"}},
        examples=["Add pay the bills to my to-do list"],
    ),
    fn("set_volume_level", "Sets the speaker volume.", {"level": {"type": "integer"}}),
    fn("get_electricity_usage", "Electricity the house used today, in kilowatt hours."),
]
POLICY = ToolPolicy()


def choice(text: str) -> tuple[str | None, dict[str, Any]]:
    d = POLICY.decide(text, TOOLS, None)
    return (d.tool.name if d.tool else None), d.args


@pytest.mark.parametrize(
    "text",
    [
        "The TV show was a real turn off.",  # a remark, not a command
        "My car is my pride and joy.",
        "Red or blue, which color do you prefer?",  # the assistant's taste
        "Do you like music?",
        "How do I clean the inside of an oven?",  # a how-to
        "Let's play a word game.",  # a suggestion
        "Sing me a song.",
        "Who wrote the play Romeo and Juliet?",  # who made something: knowledge
        "Tell me something interesting about batteries.",
        "Set the table for four.",  # a thing no function knows
        "Can you lock in my answer as final?",
    ],
)
def test_remarks_tastes_and_other_things_call_nothing(text: str) -> None:
    assert choice(text)[0] is None


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ("Who's at the door?", "get_doorbell_visitor", {}),  # "door" of "doorbell"
        ("Who rang the bell?", "get_doorbell_visitor", {}),  # "rang" is "ring"
        ("Heat the oven up to 180.", "preheat_oven", {"celsius": 180}),  # "heat" of "preheat"
        ("Is the electric car fully charged?", "get_car_charge", {}),  # an adverb, no thing
        ("How many kilowatt hours did we use today?", "get_electricity_usage", {}),
        ("Lock the front door.", "set_door_lock", {"locked": True}),  # a command never reads
        ("Unlock the door for the plumber.", "set_door_lock", {"locked": False}),
        ("Is the front door locked?", "get_door_lock", {}),
        ("Arm the alarm system.", "set_alarm_system", {"armed": True}),  # the state's verb
        ("Disarm the security alarm.", "set_alarm_system", {"armed": False}),
        ("Skip this song.", "media_control", {"command": "next"}),  # an enum's common word
        ("Resume the music.", "media_control", {"command": "play"}),
        ("What's playing on the music player?", "get_now_playing", {}),  # no "play" to set
        ("Turn the heating on.", "set_hvac_mode", {"mode": "heat"}),  # the enum's stem
        ("Open the blinds halfway.", "set_blinds", {"position": 50}),  # a range's middle
        ("Close the blinds.", "set_blinds", {"position": 0}),
        ("Add buy stamps to my to-do list.", "add_to_todo", {"task": "buy stamps"}),
        ("Make the living room lamp blue.", "set_light_color", {"color": "blue"}),
    ],
)
def test_words_tied_to_functions_by_rule(text: str, tool: str, args: dict[str, Any]) -> None:
    assert choice(text) == (tool, args)


@pytest.mark.parametrize(
    ("text", "need"),
    [
        ("Is the dryer finished?", "device_state"),  # any thing, a state word
        ("Is the printer on?", "device_state"),
        ("What's the water level in the pond?", "device_state"),  # a measure of a thing
        ("What's the battery level of my phone?", "device_state"),
        ("How much gas is left in the car?", "device_state"),
        ("What temperature is the fridge at?", "device_state"),
        ("Did the mail come? Check the mailbox sensor.", "device_state"),  # one sentence
        ("Start the coffee machine.", "device_command"),
        ("Set the dining room lights to 40 percent.", "device_command"),
        ("Is the sky blue?", None),
        ("Start the story again.", None),
        ("What is the level of the sea?", None),
    ],
)
def test_a_state_only_a_device_knows_is_never_guessed(text: str, need: str | None) -> None:
    assert honesty.needs_tool(text) == need


def test_state_booleans_ranges_and_synonyms_in_slots() -> None:
    locked = {"type": "boolean"}
    assert slots.local_value("locked", locked, "lock up the front door") is True
    assert slots.local_value("locked", locked, "unlock it") is False
    assert slots.local_value("armed", locked, "switch off the house alarm") is False
    ranged = {"type": "integer", "minimum": 0, "maximum": 100}
    assert slots.local_value("position", ranged, "open the blinds all the way") == 100
    assert slots.local_value("position", ranged, "blinds to 75 percent") == 75
    assert slots.local_value("position", {"type": "integer"}, "open the blinds") is None
