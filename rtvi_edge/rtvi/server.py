"""The RTVI HTTP/WebSocket server: `/ws`, `POST /start`, `GET /health`, one port.

Security for a LAN device: an optional token (on /start and /ws), allowed
origins, a session limit, a message size limit. Bad input never closes the
daemon; a refused client gets a clear RTVI `error` before the socket closes.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from rtvi_edge import __version__
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.config import RtviConfig
from rtvi_edge.events import EventBus
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.rtvi.protocol import RtviProtocol
from rtvi_edge.rtvi.session import RtviSession
from rtvi_edge.services.conversation_services import ConversationServices

log = logging.getLogger(__name__)


class SessionFactory(Protocol):
    bus: EventBus

    def new_conversation(self, session_id: str, sink: AudioSink) -> Conversation: ...

    def new_services(
        self, conversation: Conversation, disconnect: Callable[[], Awaitable[None]]
    ) -> ConversationServices: ...

    def health(self) -> tuple[bool, dict[str, Any]]: ...


class RtviServer:
    def __init__(
        self, config: RtviConfig, factory: SessionFactory, web_root: Path | None = None
    ) -> None:
        self.config = config
        self.factory = factory
        self.web_root = web_root
        self.sessions: dict[str, RtviSession] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port: int = 0
        self._session_tasks: set[asyncio.Task[None]] = set()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._cors], client_max_size=64 * 1024)
        app.router.add_get("/ws", self.handle_ws)
        app.router.add_post("/start", self.handle_start)
        app.router.add_post("/connect", self.handle_start)  # pipecat's name for the same
        app.router.add_get("/health", self.handle_health)
        app.router.add_route("OPTIONS", "/{tail:.*}", self.handle_options)
        if self.web_root is not None and (self.web_root / "index.html").is_file():
            app.router.add_get("/", self.handle_index)
            app.router.add_static("/static", self.web_root)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.config.port
        log.info("RTVI server listening on %s:%d", self.config.host, self.port)

    async def stop(self) -> None:
        for session in list(self.sessions.values()):
            session.protocol.send("error", {"error": "the device is shutting down", "fatal": True})
            session.flush()
            await session.close()
        if self._session_tasks:
            await asyncio.wait(self._session_tasks, timeout=5)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- security ------------------------------------------------------------
    def _token_ok(self, request: web.Request, body_token: str | None = None) -> bool:
        expected = self.config.token
        if not expected:
            return True
        given = request.query.get("token") or body_token or ""
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            given = given or auth[7:].strip()
        return hmac.compare_digest(given.encode(), expected.encode())

    def _origin_ok(self, request: web.Request) -> bool:
        allowed = self.config.allowed_origins
        origin = request.headers.get("Origin")
        return not allowed or origin is None or origin in allowed or "*" in allowed

    @web.middleware
    async def _cors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        origin = request.headers.get("Origin")
        if origin and self._origin_ok(request) and not response.prepared:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response

    # -- handlers ----------------------------------------------------------------
    async def handle_options(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def handle_health(self, request: web.Request) -> web.Response:
        ready, info = self.factory.health()
        info = {
            "status": "ok" if ready else "starting",
            "version": __version__,
            "sessions": len(self.sessions),
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
        return web.FileResponse(self.web_root / "index.html")

    async def handle_start(self, request: web.Request) -> web.Response:
        body: Any = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return web.json_response({"error": "body must be JSON"}, status=400)
        body_token = body.get("token") if isinstance(body, dict) else None
        if not self._origin_ok(request):
            return web.json_response({"error": "origin not allowed"}, status=403)
        if not self._token_ok(request, body_token if isinstance(body_token, str) else None):
            return web.json_response({"error": "missing or wrong token"}, status=401)
        if len(self.sessions) >= self.config.max_sessions:
            return web.json_response(
                {"error": f"the device already serves {self.config.max_sessions} sessions"},
                status=503,
            )
        scheme = "wss" if request.secure or _behind_tls_proxy(request) else "ws"
        reply: dict[str, Any] = {"wsUrl": f"{scheme}://{request.host}/ws"}
        if self.config.token:
            reply["token"] = self.config.token
        return web.json_response(reply)

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        if not self._origin_ok(request):
            return web.json_response({"error": "origin not allowed"}, status=403)
        if not self._token_ok(request):
            return web.json_response({"error": "missing or wrong token"}, status=401)
        # aiohttp closes the socket on anything bigger than max_msg_size; keep that
        # well above our own limit so an oversized message gets an error-response.
        ws = web.WebSocketResponse(
            max_msg_size=self.config.max_message_bytes * 4 + 65536, heartbeat=30
        )
        await ws.prepare(request)
        session_id = f"rtvi-{next(self._ids)}"
        protocol = RtviProtocol(
            self.config.max_message_bytes,
            about={"library": "rtvi-edge", "library_version": __version__},
        )
        ready, _info = self.factory.health()
        if len(self.sessions) >= self.config.max_sessions or not ready:
            why = (
                f"the device already serves {self.config.max_sessions} sessions"
                if ready
                else "the device is still starting"
            )
            protocol.send("error", {"error": why, "fatal": True})
            for data in protocol.take():
                await ws.send_bytes(data)
            await ws.close()
            return ws
        f = self.factory
        session = RtviSession(
            session_id,
            ws,
            lambda s: f.new_conversation(session_id, s.sink),
            f.new_services,
            f.bus,
            protocol,
            self.config.output_rate,
            on_client_input=getattr(f, "on_client_input", None),
        )
        self.sessions[session_id] = session
        log.info("session %s connected from %s", session_id, request.remote)
        task = asyncio.current_task()
        if task is not None:
            self._session_tasks.add(task)
        try:
            await session.run()
        finally:
            self.sessions.pop(session_id, None)
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
