"""The RTVI sessions of every transport, opened, admitted and run one way.

A WebSocket and a WebRTC peer differ only in their `Link` and audio sink: the
session (protocol core, conversation, services), its id, its slot, the
client-ready deadline, the owner of its timers and its logging are the same.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from rtvi_edge import __version__
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.config import RtviConfig
from rtvi_edge.events import ClientInput, EventBus
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.rtvi.admission import AddressLimits, Slots
from rtvi_edge.rtvi.messages import ClientReady
from rtvi_edge.rtvi.protocol import RtviProtocol, Wire
from rtvi_edge.rtvi.security import Access, Caller
from rtvi_edge.rtvi.session import Link, RtviSession
from rtvi_edge.services.conversation_services import ConversationServices
from rtvi_edge.tools.trust import owner_name

log = logging.getLogger(__name__)


class SessionFactory(Protocol):
    bus: EventBus
    # the application's hook for dtmf, ui-* and app client-messages (None: bus only)
    on_client_input: Callable[[ClientInput], Awaitable[Any]] | None

    def new_conversation(self, session_id: str, sink: AudioSink) -> Conversation: ...

    def new_services(
        self, conversation: Conversation, disconnect: Callable[[], Awaitable[None]]
    ) -> ConversationServices: ...

    def health(self) -> tuple[bool, dict[str, Any]]: ...

    def bind_owner(self, session_id: str, owner: str | None) -> None: ...


class SessionHub:
    def __init__(self, config: RtviConfig, factory: SessionFactory) -> None:
        self.factory = factory
        self.sessions: dict[str, RtviSession] = {}
        self.slots = Slots(config.max_sessions, config.max_waiting)
        self.use_config(config)
        # Unique across restarts: a timer or a log line never names another client.
        self._prefix = uuid.uuid4().hex[:6]
        self._ids = itertools.count(1)
        self._running: set[asyncio.Task[None]] = set()

    def use_config(self, config: RtviConfig) -> None:
        """The limits, at start and after each change: they apply to the next session
        (one already open keeps its slot)."""
        self.config = config
        self.slots.max_sessions = config.max_sessions
        self.slots.max_waiting = config.max_waiting
        self.slots.per_address = AddressLimits(
            config.max_waiting_per_address,
            config.max_sessions_per_address,
            config.max_connections_per_address,
        )

    def refuse(self, address: str | None) -> str | None:
        """Why no new session may open now (the device starting, full, or this address's
        share used up; `address` None: only the global limits), or None."""
        ready, _info = self.factory.health()
        return self.slots.refuse_connect(address) if ready else "the device is still starting"

    def open(
        self,
        link: Link,
        make_sink: Callable[[RtviSession], AudioSink],
        *,
        paired: bool,
        wire: Wire,
        client_id: str | None = None,
        kind: str = "rtvi",
        address: str | None = None,
    ) -> RtviSession:
        """A new session, counted as waiting for client-ready; `run` serves it."""
        session_id = f"{kind}-{self._prefix}-{next(self._ids)}"
        protocol = RtviProtocol(
            self.config.max_message_bytes,
            about={"library": "rtvi-edge", "library_version": __version__},
            wire=wire,
        )
        f = self.factory
        session = RtviSession(
            session_id,
            link,
            lambda s: f.new_conversation(session_id, s.sink),
            f.new_services,
            f.bus,
            protocol,
            make_sink,
            on_client_input=f.on_client_input,
        )
        session.paired = paired
        session.host.paired = paired

        def admit(ready: ClientReady) -> str | None:
            why = self.slots.make_ready(session_id)
            if why is None:
                chosen = _client_id(ready.about.get("client_id")) or _client_id(client_id)
                f.bind_owner(session_id, owner_name(session_id, chosen, paired))
            return why

        session.admit = admit
        session.on_closing = lambda: self.slots.closed(session_id)
        session.ready_timeout = self.config.ready_timeout_secs
        self.sessions[session_id] = session
        self.slots.connected(session_id, address)
        # Who it is, before anything is served: a guest's tools change only its session.
        f.bind_owner(session_id, owner_name(session_id, None, paired))
        return session

    async def run(self, session: RtviSession) -> None:
        """Serves a session until it ends, then frees everything it held."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await session.run()
        finally:
            self.sessions.pop(session.session_id, None)
            self.slots.closed(session.session_id)
            self.factory.bind_owner(session.session_id, None)
            if task is not None:
                self._running.discard(task)
            log.info("session %s closed", session.session_id)

    async def close_all(self, why: str) -> None:
        for session in list(self.sessions.values()):
            session.protocol.send("error", {"error": why, "fatal": True})
            session.flush()
            await session.close()
        if self._running:
            await asyncio.wait(self._running, timeout=5)


def limited_address(
    remote: str | None, caller: Caller, access: Access, open_device: bool
) -> str | None:
    """The address whose share a caller's sessions count against; None for the token
    holder and the device itself (only the global limits hold them). With
    `open_device` everyone is paired, but only these two are exempt: fairness is not
    a matter of trust."""
    exempt = access is Access.PAIRED and (bool(caller.token) or not open_device)
    return None if exempt else (remote or "unknown")


def refusal(access: Access) -> web.Response | None:
    """The HTTP answer to a caller the pairing and origin rules turn away, or None."""
    if access is Access.FORBIDDEN_ORIGIN:
        return web.json_response(
            {"error": "origin not allowed (add it to [rtvi] allowed_origins, or pair)"},
            status=403,
        )
    if access is Access.WRONG_TOKEN:
        return web.json_response({"error": "missing or wrong token"}, status=401)
    return None


_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _client_id(value: Any) -> str | None:
    """A client's own stable id (it owns its timers across reconnects and restarts)."""
    return value if isinstance(value, str) and _CLIENT_ID.fullmatch(value) else None
