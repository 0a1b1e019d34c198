"""How a transcript ends: the turn policy's text cue."""

import pytest

from rtvi_edge.pipeline.text_cue import TextEnd, classify


@pytest.mark.parametrize(
    "text",
    [
        "Set a timer for",
        "Set a timer for.",  # Whisper closes fragments too
        "Is it going to?",
        "Tell me how to",
        "Add milk and",
        "What time does the...",
        "Turn on the",
        "Um",
        "I want to go to the kitchen and, ",
    ],
)
def test_unfinished_endings_are_open(text: str) -> None:
    assert classify(text) is TextEnd.OPEN


@pytest.mark.parametrize(
    "text",
    [
        "What is 2 plus 2?",
        "How many legs does a spider have?",
        "What is this?",
        "Turn the lights on.",
        "Name a fruit that is yellow.",
        "Stop!",
    ],
)
def test_finished_sentences_are_closed(text: str) -> None:
    assert classify(text) is TextEnd.CLOSED


@pytest.mark.parametrize("text", ["", "   ", "?!", "play some relaxing music in the bedroom"])
def test_no_punctuation_or_no_words_says_nothing(text: str) -> None:
    assert classify(text) is TextEnd.UNKNOWN


def test_the_text_cue_is_for_english_transcripts_only() -> None:
    from rtvi_edge.config import config_from_mapping
    from rtvi_edge.pipeline.settings import SessionSettings

    def text_on(language: str) -> bool:
        config = config_from_mapping({"stt": {"language": language}})
        return SessionSettings.from_config(config).endpoint.turn_text

    assert text_on("en") and text_on("en-GB") and text_on("")
    assert not text_on("de") and not text_on("fr")
