"""`rtvi-edge chat`: typed turns through the same conversation pipeline."""

from __future__ import annotations

import asyncio
import sys

from rtvi_edge import events as ev
from rtvi_edge.assembly import Assembly
from rtvi_edge.audio.local import open_local_audio
from rtvi_edge.config import Config
from rtvi_edge.engines.hub import EngineHub, Engines, build_engines
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.tools.setup import ToolSetup


async def run_chat(
    config: Config, messages: list[str], speak: bool, engines: Engines | None = None
) -> int:
    """`engines`: already built (tests); None: built from config."""
    if engines is None:
        engines = await asyncio.to_thread(build_engines, config)
    hub = EngineHub(engines, config)
    bus = ev.EventBus()
    # The device's tools and intents; no timers (they would outlive the command) and
    # no MQTT (devices answer that they cannot be reached).
    assembly = Assembly(lambda: config, hub, bus, ToolSetup(config, None, None))
    audio = open_local_audio(config.audio) if speak else None
    conv = assembly.chat(audio[1] if audio else None)
    sub = bus.subscribe("chat")
    lines = [" ".join(messages)] if messages else None
    try:
        while True:
            if lines is not None:
                if not lines:
                    break
                text = lines.pop(0)
            else:
                print("you> ", end="", flush=True)
                text = await asyncio.to_thread(sys.stdin.readline)
                if not text:
                    break
            if not text.strip():
                continue
            await conv.send_text(text, audio_response=speak)
            print("bot> ", end="", flush=True)
            await _print_answer(conv, sub)
    finally:
        await conv.close()
        if audio is not None:
            audio[0].close()
    return 0


async def _print_answer(conv: Conversation, sub: ev.Subscription) -> None:
    """The LLM's words as they stream; a local intent's answer once it is given."""
    idle = asyncio.create_task(conv.wait_idle(120))
    streamed = False
    while True:
        get = asyncio.create_task(sub.get())
        await asyncio.wait({idle, get}, return_when=asyncio.FIRST_COMPLETED)
        if not get.done():
            get.cancel()
            break
        event = get.result()
        if isinstance(event, ev.BotLlmText):
            streamed = True
            print(event.text, end="", flush=True)
        elif isinstance(event, ev.ErrorEvent):
            print(f"\nerror: {event.message}", file=sys.stderr)
    while not sub.queue.empty():  # what was published as the turn ended
        event = sub.queue.get_nowait()
        if isinstance(event, ev.BotLlmText):
            streamed = True
            print(event.text, end="", flush=True)
    if not streamed:
        turns = conv.context.turns
        if turns and turns[-1]["role"] == "assistant":
            print(turns[-1]["content"], end="")
    print(flush=True)
