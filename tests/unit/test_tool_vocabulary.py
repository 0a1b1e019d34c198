"""Vocabulary, not cases (issue #26, set 3's misses): a function is found by the common
words for its thing (synonym groups), by the things its description names, by parts of
its compound words, and by the proper names among its enum values; a note's or a
message's text is all that follows its lead words; a state question about any thing
nobody declared gets an honest answer; generic and knowledge questions call nothing."""

from __future__ import annotations

from typing import Any

import pytest

from rtvi_edge.tools import honesty, slots, speech_acts
from rtvi_edge.tools.policy import ToolPolicy
from rtvi_edge.tools.registry import Tool, tool_from_schema


def fn(name: str, description: str, properties: dict[str, Any] | None = None) -> Tool:
    params: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if properties:
        params["required"] = list(properties)
    function = {"name": name, "description": description, "parameters": params}
    return tool_from_schema({"type": "function", "function": function})


# Functions of kinds no earlier test declared, so the rules, not remembered words, decide.
TOOLS = [
    fn("get_letters", "Whether post has arrived in the mailbox."),
    fn("get_collection_day", "Which waste bin is emptied next."),
    fn("set_log_burner", "Turns the fireplace on or off.", {"on": {"type": "boolean"}}),
    fn("get_pv_output", "Watts from the solar panels."),
    fn("get_cot_camera", "Whether the baby is asleep."),
    fn("fill_bathtub", "Fills the bath.", {"celsius": {"type": "integer"}}),
    fn(
        "tune_radio",
        "Tunes the radio.",
        {"station": {"type": "string", "enum": ["Smooth Radio", "Heart FM"]}},
    ),
    fn("store_memo", "Keeps a memo.", {"text": {"type": "string"}}),
]


def choose(text: str) -> tuple[str | None, dict[str, Any]]:
    d = ToolPolicy().decide(text, TOOLS, None)
    return (d.tool.name if d.tool else None), d.args


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("Has the postman been?", "get_letters"),  # synonym group: mail
        ("Any letters for me?", "get_letters"),
        ("When do they take the rubbish away?", "get_collection_day"),  # bin group
        ("Is it the recycling this week?", "get_collection_day"),
        ("How much are the panels producing?", "get_pv_output"),  # a thing in the description
        ("Is the newborn asleep?", "get_cot_camera"),  # baby group
    ],
)
def test_synonyms_and_described_things_find_the_function(text: str, tool: str) -> None:
    assert choose(text)[0] == tool


def test_a_part_of_a_compound_and_a_verb_light() -> None:
    assert choose("Light the fire.") == ("set_log_burner", {"on": True})
    assert choose("Fill the tub to 37 degrees.") == ("fill_bathtub", {"celsius": 37})


def test_a_proper_name_of_an_enum_names_the_function() -> None:
    assert choose("Play Heart FM.") == ("tune_radio", {"station": "Heart FM"})
    assert choose("Put Smooth Radio on.") == ("tune_radio", {"station": "Smooth Radio"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Make a memo that the boiler service is on Friday.", "the boiler service is on Friday"),
        ("Note down: renew the passport", "renew the passport"),
        ("Remind me to water the ferns", "water the ferns"),
        ("Send a message saying the taxi is here.", "the taxi is here"),
    ],
)
def test_all_after_a_text_lead_is_the_text(text: str, value: str) -> None:
    assert slots.whole_text(text) == value


def test_a_note_or_a_message_goes_whole_into_its_argument() -> None:
    assert choose("Note down pick up the dry cleaning.") == (
        "store_memo",
        {"text": "pick up the dry cleaning"},
    )
    assert choose("Save a memo: the spare key is under the pot.") == (
        "store_memo",
        {"text": "the spare key is under the pot"},
    )


def test_no_text_after_the_lead_is_no_text() -> None:
    assert slots.whole_text("Save a note") is None
    assert slots.whole_text("Take a note.") is None


@pytest.mark.parametrize(
    "text",
    [
        "How humid is it in the loft?",
        "How damp is the garage?",
        "Did I leave the curling iron on?",
        "Have we left the back window open?",
        "Is the steam room hot yet?",
        "How full is the rain barrel?",
    ],
)
def test_a_state_of_any_undeclared_thing_is_honest(text: str) -> None:
    assert honesty.needs_tool(text) == "device_state"


@pytest.mark.parametrize(
    "text",
    [
        "What's the average snowfall in Oslo?",
        "What does DAB stand for?",
        "How does a letter get delivered abroad?",
        "How hot should a baby's bottle be?",
        "Any ideas for a rainy day?",
    ],
)
def test_knowledge_questions_call_nothing(text: str) -> None:
    assert choose(text)[0] is None


def test_a_long_remark_is_no_request() -> None:
    assert speech_acts.not_a_request("Volume three of the series was the best one.")
    assert not speech_acts.not_a_request("Volume three please.")
