"""`rtvi-edge chat` gets the device's intents and tools (fake engines)."""

from __future__ import annotations

import datetime as dt

import pytest

from rtvi_edge.chat import run_chat
from rtvi_edge.config import Config
from tests.fakes import FakeLlm, fake_engines


async def test_chat_answers_the_real_time(capsys: pytest.CaptureFixture[str]) -> None:
    llm = FakeLlm(lambda _m: "It is noon.")  # what a small model guesses
    now = dt.datetime.now().astimezone()
    assert await run_chat(Config(), ["what", "time", "is", "it"], False, fake_engines(llm=llm)) == 0
    out = capsys.readouterr().out
    assert any(f"{(now.hour + d) % 12 or 12}:" in out for d in (0, 1)), out
    assert "noon" not in out and llm.calls == []


async def test_chat_never_claims_to_switch_a_device_that_is_not_set_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    llm = FakeLlm(lambda _m: "Done, the kitchen light is on.")
    engines = fake_engines(llm=llm)
    assert await run_chat(Config(), ["turn on the kitchen light"], False, engines) == 0
    out = capsys.readouterr().out
    assert "can't control the kitchen light" in out and "Done" not in out


async def test_chat_streams_the_llm_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_chat(Config(), ["hello"], False, fake_engines()) == 0
    assert "bot> You said hello.\n" in capsys.readouterr().out
