"""Intent handling: a `transcript` answered like a typed turn on the device —
its local intents first, then the LLM — and returned as text, not speech."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from rtvi_edge.pipeline.conversation import Conversation

log = logging.getLogger(__name__)

MAX_CONVERSATIONS = 8  # Home Assistant conversations remembered for follow-ups
ANSWER_TIMEOUT_SECS = 120.0
ConversationFactory = Callable[[str], Conversation]


@dataclass(frozen=True)
class Answer:
    text: str
    handled: bool
    conversation_id: str


class _Entry:
    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.lock = asyncio.Lock()


class ConversationAnswerer:
    """Keeps one text-only conversation per Home Assistant conversation id, so a
    follow-up question has its context; the least recently used is closed."""

    def __init__(self, new_conversation: ConversationFactory) -> None:
        self._new = new_conversation
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def answer(self, text: str, conversation_id: str | None) -> Answer:
        cid = conversation_id or uuid.uuid4().hex
        entry = await self._entry(cid)
        async with entry.lock:
            conv = entry.conversation
            before = len(conv.context.turns)
            await conv.send_text(text, audio_response=False)
            await conv.wait_idle(ANSWER_TIMEOUT_SECS)
            turns = conv.context.turns
            last = turns[-1] if len(turns) > before else None
        if last is None or last.get("role") != "assistant":
            log.warning("wyoming handle: no answer for %r", text[:80])
            return Answer("Sorry, I could not answer that.", False, cid)
        return Answer(str(last.get("content", "")), True, cid)

    async def _entry(self, cid: str) -> _Entry:
        entry = self._entries.get(cid)
        if entry is not None and not entry.conversation.closed:
            self._entries.move_to_end(cid)
            return entry
        entry = _Entry(self._new(f"wyoming-{cid[:40]}"))
        self._entries[cid] = entry
        while len(self._entries) > MAX_CONVERSATIONS:
            _old_id, old = self._entries.popitem(last=False)
            await old.conversation.close()
        return entry

    async def close(self) -> None:
        entries, self._entries = list(self._entries.values()), OrderedDict()
        for entry in entries:
            await entry.conversation.close()
