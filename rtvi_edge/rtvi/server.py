"""The RTVI HTTP/WebSocket server: `/ws`, `POST /start`, `GET /health`, one port.

Security for a LAN device (security.py): a pairing token needed for device-wide
changes and actions, origins checked against the config. Admission (admission.py):
slots for ready sessions only, a client-ready deadline, 503 before the upgrade,
a connection cap and idle timeouts. Bad input never closes the daemon.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from rtvi_edge import __version__, text_limits
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.config import RtviConfig
from rtvi_edge.events import ClientInput, EventBus
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.rtvi.admission import AddressLimits, ConnectionGuard, Slots, websocket_limit
from rtvi_edge.rtvi.http_log import http_logger
from rtvi_edge.rtvi.messages import ClientReady
from rtvi_edge.rtvi.protocol import RtviProtocol
from rtvi_edge.rtvi.security import Access, Caller, Policy
from rtvi_edge.rtvi.session import RtviSession
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


class RtviServer:
    def __init__(
        self,
        config: RtviConfig,
        factory: SessionFactory,
        web_root: Path | None = None,
        token: str = "",
    ) -> None:
        self.config = config
        self.factory = factory
        self.web_root = web_root
        self.sessions: dict[str, RtviSession] = {}
        # Unique across restarts: a timer or a log line never names another client.
        self._prefix = uuid.uuid4().hex[:6]
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self.guard: ConnectionGuard | None = None
        self.port: int = 0
        self._session_tasks: set[asyncio.Task[None]] = set()
        self.policy = Policy(
            config.token or token,
            config.allowed_origins,
            open_device=config.open_device,
            trust_loopback=config.trust_loopback,
        )
        self.slots = Slots(
            config.max_sessions,
            config.max_waiting,
            AddressLimits(
                config.max_waiting_per_address,
                config.max_sessions_per_address,
                config.max_connections_per_address,
            ),
        )

    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._track, self._cors], client_max_size=START_BODY_LIMIT
        )
        app.router.add_get("/ws", self.handle_ws)
        app.router.add_post("/start", self.handle_start)
        app.router.add_post("/connect", self.handle_start)  # pipecat's name for the same
        app.router.add_get("/health", self.handle_health)
        app.router.add_route("OPTIONS", "/{tail:.*}", self.handle_options)
        if self.web_root is not None and (self.web_root / "index.html").is_file():
            app.router.add_get("/", self.handle_index)
            app.router.add_static("/static", self.web_root)
        app.router.add_get("/{tail:.*}", self.handle_not_found)  # not 405
        return app

    async def start(self) -> None:
        idle = self.config.idle_timeout_secs
        self._runner = web.AppRunner(
            self.app(),
            access_log=None,
            handle_signals=False,
            keepalive_timeout=idle,
            logger=http_logger(),  # a malformed request: one line per peer a minute
        )
        await self._runner.setup()
        assert self._runner.server is not None
        self.guard = ConnectionGuard(
            self._runner.server,
            self.config.max_connections,
            idle,
            self.config.max_connections_per_address,
        )
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.guard, self.config.host, self.config.port, reuse_address=True
        )
        self.guard.start()
        sockets: list[Any] = list(self._server.sockets or [])
        self.port = sockets[0].getsockname()[1] if sockets else self.config.port
        log.info("RTVI server listening on %s:%d", self.config.host, self.port)

    async def stop(self) -> None:
        for session in list(self.sessions.values()):
            session.protocol.send("error", {"error": "the device is shutting down", "fatal": True})
            session.flush()
            await session.close()
        if self._session_tasks:
            await asyncio.wait(self._session_tasks, timeout=5)
        if self.guard is not None:
            await self.guard.stop()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- security ----------------------------------------------------------------
    def _caller(self, request: web.Request, body_token: str | None = None) -> Caller:
        given = request.query.get("token") or body_token or None
        auth = request.headers.get("Authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip() or None
        return Caller(request.remote, request.host, request.headers.get("Origin"), given)

    def _limited_address(self, request: web.Request, caller: Caller, access: Access) -> str | None:
        """The address whose share a caller's sockets count against; None for the token
        holder and the device itself (only the global limits hold them). With
        `open_device` everyone is paired, but only these two are exempt: fairness is not
        a matter of trust."""
        exempt = access is Access.PAIRED and (bool(caller.token) or not self.policy.open_device)
        return None if exempt else (request.remote or "unknown")

    @staticmethod
    def _refusal(access: Access) -> web.Response | None:
        if access is Access.FORBIDDEN_ORIGIN:
            return web.json_response(
                {"error": "origin not allowed (add it to [rtvi] allowed_origins, or pair)"},
                status=403,
            )
        if access is Access.WRONG_TOKEN:
            return web.json_response({"error": "missing or wrong token"}, status=401)
        return None

    @web.middleware
    async def _track(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Tells the idle reaper that this connection is inside a request."""
        guard, transport = self.guard, request.transport
        if guard is None or transport is None:
            return await handler(request)
        guard.begin(transport)
        try:
            return await handler(request)
        finally:
            guard.end(transport)

    @web.middleware
    async def _cors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        origin = request.headers.get("Origin")
        # Only configured origins get CORS: the served page is same-origin and needs none.
        if origin and self.policy.origin_configured(origin) and not response.prepared:
            wildcard = "*" in self.policy.allowed_origins
            response.headers["Access-Control-Allow-Origin"] = "*" if wildcard else origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response

    # -- handlers ----------------------------------------------------------------
    async def handle_options(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def handle_not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"error": f"no such page: {request.path[:80]!r}"}, status=404)

    async def handle_health(self, request: web.Request) -> web.Response:
        ready, info = self.factory.health()
        info = {
            "status": "ok" if ready else "starting",
            "version": __version__,
            "sessions": len(self.slots.ready),
            **info,
        }
        return web.json_response(info, status=200 if ready else 503)

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        assert self.web_root is not None
        if not (self.web_root / "app.js").is_file():
            return web.Response(
                status=503,
                text="The web page is not built yet: run "
                "scripts/setup (it runs `npm run build` in web/).",
            )
        page = (self.web_root / "index.html").read_text(encoding="utf-8")
        if self.policy.shows_token(self._caller(request)) and self.policy.token:
            page = _with_pairing(page, self.policy.token)
        return web.Response(text=page, content_type="text/html", headers=_NO_STORE)

    async def handle_start(self, request: web.Request) -> web.Response:
        body: Any = {}
        if request.can_read_body:
            length = request.content_length
            if length is not None and length > START_BODY_LIMIT:
                return web.json_response(
                    {"error": f"body over {START_BODY_LIMIT} bytes"}, status=413
                )
            try:
                raw = await asyncio.wait_for(request.read(), self.config.idle_timeout_secs)
                body = text_limits.loads(raw, "body") if raw.strip() else {}
            except TimeoutError:
                return web.json_response({"error": "the body did not arrive in time"}, status=408)
            except web.HTTPRequestEntityTooLarge:
                return web.json_response(
                    {"error": f"body over {START_BODY_LIMIT} bytes"}, status=413
                )
            except text_limits.InputError as exc:
                return web.json_response({"error": f"body must be JSON: {exc}"}, status=400)
        body_token = body.get("token") if isinstance(body, dict) else None
        caller = self._caller(request, body_token if isinstance(body_token, str) else None)
        access = self.policy.decide(caller)
        refusal = self._refusal(access)
        if refusal is not None:
            return refusal
        why = self.slots.refuse_connect(self._limited_address(request, caller, access))
        if why is not None:
            return web.json_response({"error": why}, status=503)
        scheme = "wss" if request.secure or _behind_tls_proxy(request) else "ws"
        reply: dict[str, Any] = {"wsUrl": f"{scheme}://{request.host}/ws"}
        if caller.token:
            reply["token"] = caller.token  # the transport adds it to wsUrl
        return web.json_response(reply)

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        caller = self._caller(request)
        access = self.policy.decide(caller)
        refusal = self._refusal(access)
        if refusal is not None:
            return refusal
        ready, _info = self.factory.health()
        limited = self._limited_address(request, caller, access)
        why = self.slots.refuse_connect(limited) if ready else "the device is still starting"
        if why is not None:  # before the upgrade: the client's connect() fails at once
            return web.json_response({"error": why}, status=503)
        ws = web.WebSocketResponse(
            max_msg_size=websocket_limit(self.config.max_message_bytes), heartbeat=30
        )
        await ws.prepare(request)
        session_id = f"rtvi-{self._prefix}-{next(self._ids)}"
        protocol = RtviProtocol(
            self.config.max_message_bytes,
            about={"library": "rtvi-edge", "library_version": __version__},
        )
        f = self.factory
        session = RtviSession(
            session_id,
            ws,
            lambda s: f.new_conversation(session_id, s.sink),
            f.new_services,
            f.bus,
            protocol,
            self.config.output_rate,
            on_client_input=f.on_client_input,
        )
        session.paired = access is Access.PAIRED
        session.host.paired = session.paired
        query_client = request.query.get("client_id")

        def admit(ready: ClientReady) -> str | None:
            why = self.slots.make_ready(session_id)
            if why is None:
                client_id = _client_id(ready.about.get("client_id")) or _client_id(query_client)
                f.bind_owner(session_id, owner_name(session_id, client_id, session.paired))
            return why

        session.admit = admit
        session.on_closing = lambda: self.slots.closed(session_id)
        session.ready_timeout = self.config.ready_timeout_secs
        self.sessions[session_id] = session
        self.slots.connected(session_id, limited)
        # Who it is, before anything is served: a guest's tools change only its session.
        f.bind_owner(session_id, owner_name(session_id, None, session.paired))
        log.info("session %s connected from %s (%s)", session_id, request.remote, access.value)
        task = asyncio.current_task()
        if task is not None:
            self._session_tasks.add(task)
        try:
            await session.run()
        finally:
            self.sessions.pop(session_id, None)
            self.slots.closed(session_id)
            f.bind_owner(session_id, None)
            if task is not None:
                self._session_tasks.discard(task)
            log.info("session %s closed", session_id)
        return ws


def _behind_tls_proxy(request: web.Request) -> bool:
    """A reverse proxy terminating HTTPS says so; the socket URL must then be wss://."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if forwarded == "https":
        return True
    first = request.headers.get("Forwarded", "").split(",")[0]
    return any(
        part.strip().lower() in ("proto=https", 'proto="https"') for part in first.split(";")
    )


START_BODY_LIMIT = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store"}  # the page may carry the token
_PAIRING_ANCHOR = '<p class="hint">Remembered by this browser'


def _with_pairing(page: str, token: str) -> str:
    """The page as served to the device itself: it shows the token to pair other devices."""
    note = (
        '<p class="hint" id="pairing">This device\'s pairing token: <code>'
        f"{html.escape(token)}</code>. Type it here on a phone or laptop to change "
        "settings and run actions from there.</p>"
    )
    at = page.find(_PAIRING_ANCHOR)
    if at < 0:
        at = page.find("</main>")
    return page if at < 0 else page[:at] + note + page[at:]


_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _client_id(value: Any) -> str | None:
    """A client's own stable id (it owns its timers across reconnects and restarts)."""
    return value if isinstance(value, str) and _CLIENT_ID.fullmatch(value) else None
