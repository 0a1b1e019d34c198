"""End of turn on real human recordings, through the official client (client-js under
Node): a sentence with a long pause in it is one turn and one answer; an answer given
too soon, which the speaker talks through, leaves no trace in the context; a finished
sentence is answered without waiting out the long allowance. The recordings come from
registry packages (`scripts/fetch-human-speech`, run by scripts/setup)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from bench import human_set
from bench.turn_set import TurnItem
from rtvi_edge.pipeline.conversation import Conversation
from tests.integration.daemon_harness import running_daemon
from tests.integration.rtvi_client import run_client, speak_step
from tests.integration.test_turn_taking import espeak

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not human_set.available(), reason="no human recordings: run scripts/fetch-human-speech"
    ),
]

SHORT_ANSWERS = {"max_tokens": 24}


def item(name: str, folder: Path) -> TurnItem:
    found = [i for i in human_set.build(folder) if i.name == name]
    assert found, name
    return found[0]


def finals(run: Any) -> list[str]:
    return [t["data"]["text"] for t in run.of("userTranscript") if t["data"]["final"]]


def plan(port: int, wav: TurnItem, tail_ms: int = 300) -> dict[str, Any]:
    return {
        "wsUrl": f"ws://127.0.0.1:{port}/ws",
        "steps": [
            {"do": "connect"},
            {**speak_step(wav.wav, wav.end * 1000), "waitForEnd": True},
            {"do": "wait", "type": "bot-stopped-speaking", "timeoutMs": 60000, "fromStart": True},
            {"do": "sleep", "ms": tail_ms},
        ],
    }


@contextlib.asynccontextmanager
async def watching(daemon: Any) -> Any:
    """The client's conversation, caught while it is connected (its context is read after)."""
    seen: list[Conversation] = []

    async def watch() -> None:
        while True:
            seen.extend(s.conversation for s in daemon.rtvi.sessions.values() if not seen)
            await asyncio.sleep(0.05)

    task = asyncio.create_task(watch())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_long_pause_inside_a_spoken_sentence_is_one_turn_and_one_answer(
    tmp_path: Path,
) -> None:
    # A woman reading: "he was not | an ill disposed young man", her own pause at the
    # bar lengthened to 0.7 s (the turn model alone ended it there before).
    wav = item("librivox-sense_and_sensibility_01_austen_64kb-0880-p0", tmp_path)
    async with running_daemon(tmp_path, llm=SHORT_ANSWERS) as daemon, watching(daemon) as seen:
        run = await run_client(plan(daemon.rtvi.port, wav), timeout=120)
    assert run.ok, run.failure()
    texts = finals(run)
    assert len(texts) == 1, texts  # one user turn
    assert "not" in texts[0].lower() and "man" in texts[0].lower(), texts
    end = run.first("speechEnd")
    started = run.of("botStartedSpeaking")
    assert end is not None and len(started) == 1, started  # one answer...
    assert started[0]["t"] > end["t"]  # ...never inside the pause
    assert seen and [t["role"] for t in seen[0].context.turns] == ["user", "assistant"]


async def test_an_answer_the_speaker_talks_through_leaves_no_trace(tmp_path: Path) -> None:
    # The fixed 0.35 s timeout (turn model off) answers inside a 1.2 s pause of "unless to
    # be rather cold hearted and rather selfish | is to be ill disposed": the speaker
    # goes on under a second later, so the answer is taken back and the whole sentence
    # is answered once.
    wav = item("librivox-sense_and_sensibility_01_austen_64kb-0890-p0", tmp_path)
    turn = {"enabled": False}
    async with (
        running_daemon(tmp_path, turn=turn, llm={"max_tokens": 80}) as daemon,
        watching(daemon) as seen,
    ):
        run = await run_client(plan(daemon.rtvi.port, wav, tail_ms=500), timeout=120)
    assert run.ok, run.failure()
    assert run.messages("bot-interrupted"), "the answer was not stopped"
    texts = finals(run)
    # the last final is the whole utterance: the first part's words and more after them
    # (the second part is decoded on its own and joined: Whisper tiny.en mishears it more)
    assert len(texts) == 2 and texts[-1].startswith(texts[0]), texts
    assert len(texts[-1].split()) > len(texts[0].split()) + 1, texts
    assert seen
    turns = seen[0].context.turns
    assert [t["role"] for t in turns] == ["user", "assistant"], turns  # no half answer
    assert turns[0]["content"] == texts[-1]


async def test_a_finished_spoken_sentence_is_answered_without_waiting_out_the_allowance(
    tmp_path: Path,
) -> None:
    # "he might even have been made amiable himself" (a woman reading)
    wav = item("librivox-sense_and_sensibility_01_austen_64kb-0930", tmp_path)
    turn = {"enabled": True, "max_secs": 5.0}
    async with running_daemon(tmp_path, turn=turn, llm=SHORT_ANSWERS) as daemon:
        run = await run_client(plan(daemon.rtvi.port, wav, tail_ms=1000), timeout=120)
    assert run.ok, run.failure()
    metrics = [m for m in run.messages("metrics") if m["data"].get("processing")]
    endpointing = [
        p["value"]
        for m in metrics
        for p in m["data"]["processing"]
        if p["processor"] == "endpointing"
    ]
    assert endpointing and endpointing[0] < turn["max_secs"]  # not the long allowance


async def test_a_backchannel_over_the_answer_does_not_stop_it(tmp_path: Path) -> None:
    # A real question (LibriVox reader), then "yeah" (espeak-ng) while the answer plays.
    question = item("librivox-sense_and_sensibility_01_austen_64kb-0930", tmp_path)
    yeah = espeak("Yeah.", tmp_path / "yeah.wav", lead_secs=0.3, tail_secs=1.5)
    async with running_daemon(tmp_path, llm={"max_tokens": 200}) as daemon:
        run = await run_client(
            {
                "wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws",
                "steps": [
                    {"do": "connect"},
                    {**speak_step(question.wav, question.end * 1000), "waitForEnd": True},
                    {"do": "wait", "type": "bot-started-speaking", "timeoutMs": 60000},
                    {**speak_step(yeah), "waitForEnd": True},
                    {"do": "wait", "type": "bot-stopped-speaking", "timeoutMs": 90000},
                    {"do": "sleep", "ms": 300},
                ],
            },
            timeout=180,
        )
    assert run.ok, run.failure()
    assert not run.messages("bot-interrupted"), "a backchannel stopped the answer"
    yeah_end = run.of("speechEnd")[-1]["t"]
    stopped = run.of("botStoppedSpeaking")
    if stopped and stopped[0]["t"] > yeah_end:  # said while the answer played (not after it)
        assert len(finals(run)) == 1, finals(run)  # "yeah" is no user turn
