"""`rtvi-edge chat`: typed turns through the same conversation pipeline."""

from __future__ import annotations

import asyncio
import sys

from rtvi_edge import events as ev
from rtvi_edge.audio.local import open_local_audio
from rtvi_edge.config import Config
from rtvi_edge.engines.hub import EngineHub, build_engines
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.pipeline.settings import SessionSettings


async def run_chat(config: Config, messages: list[str], speak: bool) -> int:
    engines = await asyncio.to_thread(build_engines, config)
    hub = EngineHub(engines, config)
    bus = ev.EventBus()
    audio = open_local_audio(config.audio) if speak else None
    conv = Conversation(
        "chat", hub, bus, SessionSettings.from_config(config), audio[1] if audio else None
    )
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
            while True:
                event = await sub.get()
                if isinstance(event, ev.BotLlmText):
                    print(event.text, end="", flush=True)
                elif isinstance(event, ev.ErrorEvent):
                    print(f"\nerror: {event.message}", file=sys.stderr)
                elif isinstance(event, ev.TurnMetrics):
                    break
            print()
            await conv.wait_idle()
    finally:
        await conv.close()
        if audio is not None:
            audio[0].close()
    return 0
