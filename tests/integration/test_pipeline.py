"""The voice loop with the real models: espeak-ng speech in, Piper speech out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rtvi_edge import events as ev
from rtvi_edge.audio.local import FileSink, FileSource
from rtvi_edge.audio.wav import read_wav
from rtvi_edge.config import Config
from rtvi_edge.engines.hub import EngineHub, Engines
from rtvi_edge.pipeline.conversation import Conversation, Shared
from rtvi_edge.pipeline.settings import SessionSettings
from tests.helpers import drain, next_event

pytestmark = pytest.mark.integration


def conversation(
    engines: Engines, sink: object, **changes: object
) -> tuple[Conversation, ev.Subscription]:
    config = Config()
    bus = ev.EventBus()
    settings = SessionSettings.from_config(config)
    for key, value in changes.items():
        setattr(settings, key, value)
    conv = Conversation("t", Shared(EngineHub(engines, config), bus), settings, sink)  # type: ignore[arg-type]
    return conv, bus.subscribe()


async def play(conv: Conversation, wav: Path, tail_secs: float = 0.0) -> None:
    """Feed a WAV in real time, like a microphone."""
    source = FileSource(wav, 32)
    end = None
    async for frame in source.frames():
        conv.feed_audio(frame)
        if source.finished.is_set():
            end = end or time.monotonic() + tail_secs
            if time.monotonic() >= end:
                break
    source.close()


async def test_spoken_question_gets_a_spoken_answer(
    engines: Engines, speech: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "bot.wav"
    sink = FileSink(out, 22050)
    conv, sub = conversation(engines, sink)
    feeder = asyncio.create_task(play(conv, speech("What is the capital of France?"), 1.0))
    final = await next_event(sub, ev.UserTranscription)
    while isinstance(final, ev.UserTranscription) and not final.final:
        final = await next_event(sub, ev.UserTranscription)
    assert isinstance(final, ev.UserTranscription)
    assert "capital" in final.text.lower() and "france" in final.text.lower()
    metrics = await next_event(sub, ev.TurnMetrics, 60)
    await feeder
    await conv.close()
    sink.close()
    assert isinstance(metrics, ev.TurnMetrics)
    assert metrics.voice_to_voice is not None and metrics.voice_to_voice > 0  # timing: bench
    answer = conv.context.messages()[-1]
    assert answer["role"] == "assistant" and len(answer["content"]) > 3
    audio = np.frombuffer(read_wav(out, 22050), dtype=np.int16)
    assert audio.size > 22050 * 0.5 and np.abs(audio).max() > 1000  # really spoke


async def test_interruption_cuts_the_bot_and_trims_the_context(
    engines: Engines, speech: Callable[[str], Path]
) -> None:
    from rtvi_edge.audio.sink import NullSink

    conv, sub = conversation(
        engines, NullSink(24000), echo_guard="barge-in", barge_in_threshold=0.5, max_tokens=200
    )
    await conv.send_text("Tell me a long story about a brave dragon and a knight.")
    await next_event(sub, ev.BotStartedSpeaking, 30)
    while not (await next_event(sub, ev.BotOutput, 30)).spoken:
        pass  # until a phrase was heard
    await play(conv, speech("Wait a moment please"), 0.6)
    interrupted = await next_event(sub, ev.BotInterrupted, 10)
    await conv.wait_idle(30)
    await conv.close()
    assert isinstance(interrupted, ev.BotInterrupted)
    msgs = conv.context.messages()
    assistant = [m for m in msgs if m["role"] == "assistant"]
    assert assistant, msgs
    heard = assistant[0]["content"]
    assert heard == interrupted.spoken_text
    # What stays in the context is what was played before the barge-in: a few seconds
    # of speech, not the whole story the LLM had written.
    generated = "".join(e.text for e in drain(sub) if isinstance(e, ev.BotLlmText))
    assert 0 < len(heard.split()) < 40
    assert len(heard) < len(generated) or not generated
    # The user's barge-in follows the cut answer, and was answered in turn.
    after = msgs[msgs.index(assistant[0]) + 1]
    assert after["role"] == "user" and "wait" in after["content"].lower()


async def test_typed_turns_keep_system_prompt_under_trimming(engines: Engines) -> None:
    # Five exchanges take at least 5 x (9 + 5) = 70 tokens however short the answers
    # (each message costs 4 more than its words), so 50 must drop the oldest.
    conv, sub = conversation(engines, None, history_tokens=50, max_tokens=24)
    conv.context.history_tokens = 50
    for question in [
        "Name a color.",
        "Name an animal.",
        "Name a fruit.",
        "Name a city.",
        "Name a planet.",
    ]:
        await conv.send_text(question, audio_response=False)
        await next_event(sub, ev.TurnMetrics, 90)  # a loaded CI box is slow
    msgs = conv.context.for_llm()
    await conv.close()
    assert msgs[0]["role"] == "system" and msgs[0]["content"] == conv.settings.system_prompt
    asked = [m["content"] for m in msgs if m["role"] == "user"]
    assert "Name a color." not in asked  # the oldest turn was dropped
    assert asked[-1] == "Name a planet."
