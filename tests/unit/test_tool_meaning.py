"""The meaning signal of tool choice: word vectors (their file, its derivation, how the
matcher uses them), questions about the world, message leads and the new senses."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from rtvi_edge.tools import speech_acts, word_vectors
from rtvi_edge.tools.matching import ToolMatcher
from rtvi_edge.tools.policy import ToolPolicy
from rtvi_edge.tools.registry import Tool
from rtvi_edge.tools.senses import CLOCK, TIMER
from rtvi_edge.tools.slots import whole_text
from rtvi_edge.tools.word_vectors import WordVectors
from rtvi_edge.tools.word_vectors_derive import derive, first_words, snappy_decompress

# A tiny vocabulary: "puppy" means "dog", "radio" is near "tv" (another thing of its kind).
_VECTORS = {
    "dog": [1.0, 0.0, 0.0, 0.0],
    "puppy": [0.95, 0.3, 0.0, 0.0],
    "tv": [0.0, 0.0, 1.0, 0.0],
    "radio": [0.0, 0.1, 0.99, 0.0],
    "weather": [0.0, 0.0, 0.0, 1.0],
}


def tiny_vectors(common: frozenset[str] = frozenset()) -> WordVectors:
    names = sorted(_VECTORS)
    rows = np.array([_VECTORS[n] for n in names], dtype=np.float32)
    scales = (np.abs(rows).max(axis=1) / 127.0).astype(np.float32)
    return WordVectors(
        np.array([n.encode() for n in names], dtype="S16"),
        np.round(rows / scales[:, None]).astype(np.int8),
        scales,
        np.array([10 if n in common else 30000 for n in names], dtype=np.int32),
    )


def _tool(name: str, description: str, **kw: object) -> Tool:
    params = kw.pop("parameters", {"type": "object", "properties": {}})
    return Tool(name=name, description=description, parameters=params, **kw)  # type: ignore[arg-type]


@pytest.fixture
def vectors(monkeypatch: pytest.MonkeyPatch) -> WordVectors:
    wv = tiny_vectors()
    monkeypatch.setattr(word_vectors, "shared", lambda: wv)
    return wv


def test_word_vectors_lookups() -> None:
    wv = tiny_vectors(frozenset({"dog"}))
    assert wv.similarity("puppy", "dog") > 0.9
    assert wv.similarity("puppy", "tv") < 0.1
    assert wv.similarity("puppy", "unheard") == 0.0
    assert wv.rank("dog") == 10 and wv.rank("unheard") is None
    assert wv.closest("puppy", ("tv", "dog", "unheard"))[0] == "dog"
    assert wv.closest("unheard", ("dog",)) == ("", 0.0)


def test_missing_file_degrades_to_words_with_one_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(word_vectors.ENV, str(tmp_path / "absent.npz"))
    with caplog.at_level(logging.WARNING, logger=word_vectors.__name__):
        assert word_vectors.shared() is None
        assert word_vectors.shared() is None
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
    tools = [_tool("find_dog", "Where the dog is right now.")]
    assert ToolPolicy().decide("Where is the dog?", tools, None).tool is tools[0]


def _snappy_literal(data: bytes) -> bytes:
    """A Snappy block of one literal (what a tiny page compresses to)."""
    n = len(data) - 1
    assert n < 60
    return bytes([len(data)]) + bytes([n << 2]) + data


def _zigzag_varint(v: int) -> bytes:
    z, out = (v << 1) ^ (v >> 63), b""
    while z >= 0x80:
        out += bytes([(z & 0x7F) | 0x80])
        z >>= 7
    return out + bytes([z])


def _dictionary_page(words: list[str]) -> bytes:
    plain = b"".join(len(w.encode()).to_bytes(4, "little") + w.encode() for w in words)
    block = _snappy_literal(plain)
    header = (  # thrift compact: type=2 (dictionary), sizes, then the end of the struct
        b"\x15" + _zigzag_varint(2) + b"\x15" + _zigzag_varint(len(plain))
        + b"\x15" + _zigzag_varint(len(block)) + b"\x00"
    )  # fmt: skip
    return b"PAR1" + header + block


def test_snappy_copies_overlap() -> None:
    # "ab" then a copy of 4 bytes from 2 back: "ababab"
    block = bytes([6, 1 << 2]) + b"ab" + bytes([((4 - 4) << 2) | 1, 2])
    assert snappy_decompress(block) == b"ababab"


def test_derive_reads_the_words_and_keeps_plain_ones(tmp_path: Path) -> None:
    words = ["the", "dog", "puppy", "3.5", "tv", "Ünïcode"]
    (tmp_path / "glove_6B_index.parquet").write_bytes(_dictionary_page(words))
    assert first_words((tmp_path / "glove_6B_index.parquet").read_bytes()) == words
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(len(words), 8)).astype(np.float32)
    matrix[2] = matrix[1] * 1.1 + 0.01  # "puppy" is nearly "dog"
    np.save(tmp_path / "glove_6B_50d_emb.npy", matrix)
    out = tmp_path / "out" / "v.npz"
    assert derive(tmp_path, out) == 4  # not "3.5", not a non-ASCII word
    wv = WordVectors.load(out)
    assert wv.rank("dog") == 1 and wv.rank("3.5") is None
    assert wv.similarity("puppy", "dog") > wv.similarity("puppy", "tv")


def test_a_word_no_tool_has_finds_the_tool_it_means(vectors: WordVectors) -> None:
    tools = [_tool("find_dog", "Where the dog is right now, from its GPS collar.")]
    assert ToolPolicy().decide("Can you find the puppy?", tools, None).tool is tools[0]
    assert not ToolMatcher(tools, meaning=False).scores("Can you find the puppy?")


def test_a_thing_of_its_own_is_not_meant(vectors: WordVectors) -> None:
    tools = [_tool("set_tv_power", "Turns the TV on or off.")]
    assert ToolPolicy().decide("Turn off the radio.", tools, None).tool is None


def test_common_words_and_names_mean_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    wv = tiny_vectors(frozenset({"puppy"}))  # as if "puppy" were a frequent word
    monkeypatch.setattr(word_vectors, "shared", lambda: wv)
    tools = [_tool("find_dog", "Where the dog is right now.")]
    assert ToolPolicy().decide("Can you find the puppy?", tools, None).tool is None


@pytest.mark.parametrize(
    "text",
    [
        "How much water should I drink a day?",
        "How long can you keep chicken in a freezer?",
        "Is it safe to sleep with an electric blanket?",
        "Why are there two tides a day?",
        "What's the best temperature to bake bread?",
        "What's the clock in a chess game for?",
        "What's the date of Easter usually based on?",
        "How do bees make honey?",
    ],
)
def test_questions_about_the_world_call_nothing(text: str) -> None:
    assert speech_acts.not_a_request(text)


@pytest.mark.parametrize(
    "text",
    [
        "How many timers do I have running?",
        "How much time is left on my timer?",
        "How long should I run the sprinkler today?",
        "Is the freezer cold enough?",
        "How does it look outside?",
    ],
)
def test_questions_about_this_home_still_may(text: str) -> None:
    assert not speech_acts.not_a_request(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Announce that dinner is ready.", "dinner is ready"),
        ("Broadcast: the film is starting.", "the film is starting"),
        ("Tell everyone on the intercom we leave in five minutes.", "we leave in five minutes"),
    ],
)
def test_message_leads(text: str, message: str) -> None:
    assert whole_text(text) == message
    assert not speech_acts.not_a_request(text)


def test_a_message_carrier_is_not_outscored_by_its_message() -> None:
    tool = _tool(
        "announce_intercom",
        "Speaks a message through the intercom speakers in every room.",
        parameters={
            "type": "object",
            "properties": {"message": {"type": "string"}},
            "required": ["message"],
        },
    )
    text = "Tell everyone on the intercom we leave in five minutes."
    decision = ToolPolicy().decide(text, [tool], None)
    assert decision.tool is tool
    assert decision.args == {"message": "we leave in five minutes"}


def test_new_senses() -> None:
    assert CLOCK.search("is it still morning?")
    assert CLOCK.search("what time do you make it?")
    assert not CLOCK.search("it's still morning in my heart")
    assert not CLOCK.search("is it late to start a garden?")
    assert TIMER.search("time three minutes for my egg.")
    assert TIMER.search("let me know when a quarter of an hour is up.")
    assert not TIMER.search("time flies when you're having fun")


@pytest.mark.parametrize(
    "text", ["What's the air pressure in the car tyres?", "How much battery does my phone have?"]
)
def test_a_measure_of_any_thing_is_not_invented(text: str) -> None:
    decision = ToolPolicy().decide(text, [], None)
    assert decision.tool is None and decision.honest_reply()


@pytest.mark.parametrize(
    "text",
    [
        "is the carbon monoxide alarm working?",
        "the fire alarm at work went off twice today.",
        "the smoke alarm is beeping",
    ],
)
def test_an_alarm_named_for_what_it_warns_of_is_no_timer(text: str) -> None:
    assert not TIMER.search(text)
    assert TIMER.search("set an alarm for seven")
