"""The RTVI HTTP server: `/ws`, SmallWebRTC's `/api/offer`, `POST /start`, `GET /health`, one port.

Security for a LAN device (security.py): a pairing token needed for device-wide
changes and actions, origins checked against the config. Admission (admission.py):
slots for ready sessions only, a client-ready deadline, 503 before the upgrade,
a connection cap and idle timeouts. Bad input never closes the daemon.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rtvi_edge import __version__, text_limits
from rtvi_edge.config import RtviConfig, WebRtcConfig
from rtvi_edge.rtvi.admission import ConnectionGuard, websocket_limit
from rtvi_edge.rtvi.http_log import http_logger
from rtvi_edge.rtvi.hub import SessionFactory, SessionHub, limited_address, refusal
from rtvi_edge.rtvi.security import Access, Caller, Policy
from rtvi_edge.rtvi.session import RtviSession
from rtvi_edge.rtvi.websocket import WebSocketLink, WebSocketSink

if TYPE_CHECKING:
    from rtvi_edge.rtvi.webrtc.routes import WebRtcRoutes

log = logging.getLogger(__name__)

__all__ = ["RtviServer", "SessionFactory"]


class RtviServer:
    def __init__(
        self,
        config: RtviConfig,
        factory: SessionFactory,
        web_root: Path | None = None,
        token: str = "",
        webrtc: WebRtcConfig | None = None,
    ) -> None:
        self.config = config
        self.factory = factory
        self.web_root = web_root
        self._pairing_token = token  # the state dir's, used when `[rtvi] token` is ""
        self.hub = SessionHub(config, factory)
        self.sessions: dict[str, RtviSession] = self.hub.sessions
        self.slots = self.hub.slots
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self.guard: ConnectionGuard | None = None
        self.port: int = 0
        self.policy = Policy(
            config.token or token,
            config.allowed_origins,
            open_device=config.open_device,
            trust_loopback=config.trust_loopback,
        )
        self.webrtc: WebRtcRoutes | None = None  # SmallWebRTC, when enabled
        if webrtc is not None and webrtc.enabled:  # aiortc is imported only then
            from rtvi_edge.rtvi.webrtc.routes import WebRtcRoutes

            self.webrtc = WebRtcRoutes(webrtc, self.hub, self.policy, self.caller)

    def use_config(self, config: RtviConfig) -> None:
        """New settings (a reload, an update): the token, origins and limits apply from
        the next request, connection or session. `host` and `port` are restart-only
        (services/restart_only.py): the socket stays."""
        self.config = config
        self.hub.use_config(config)
        self.policy.configure(
            config.token or self._pairing_token,
            config.allowed_origins,
            config.open_device,
            config.trust_loopback,
        )
        if self.guard is not None:
            self.guard.max_connections = config.max_connections
            self.guard.idle_secs = config.idle_timeout_secs
            self.guard.per_address = config.max_connections_per_address

    def use_webrtc(self, config: WebRtcConfig) -> None:
        """New WebRTC settings: the peer timeout and candidate cap apply to the next peer."""
        if self.webrtc is not None:
            self.webrtc.config = config

    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._track, self._cors], client_max_size=START_BODY_LIMIT
        )
        app.router.add_get("/ws", self.handle_ws)
        app.router.add_post("/start", self.handle_start)
        app.router.add_post("/connect", self.handle_start)  # pipecat's name for the same
        app.router.add_get("/health", self.handle_health)
        if self.webrtc is not None:
            self.webrtc.add_routes(app.router)
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
        await self.hub.close_all("the device is shutting down")
        if self.webrtc is not None:
            await self.webrtc.close()
        if self.guard is not None:
            await self.guard.stop()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- security ----------------------------------------------------------------
    def caller(self, request: web.Request, body_token: str | None = None) -> Caller:
        given = request.query.get("token") or body_token or None
        auth = request.headers.get("Authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip() or None
        return Caller(request.remote, request.host, request.headers.get("Origin"), given)

    _refusal = staticmethod(refusal)

    def _limited_address(self, request: web.Request, caller: Caller, access: Access) -> str | None:
        return limited_address(request.remote, caller, access, self.policy.open_device)

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
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, OPTIONS"
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
        if self.policy.shows_token(self.caller(request)) and self.policy.token:
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
        caller = self.caller(request, body_token if isinstance(body_token, str) else None)
        access = self.policy.decide(caller)
        refusal = self._refusal(access)
        if refusal is not None:
            return refusal
        why = self.slots.refuse_connect(self._limited_address(request, caller, access))
        if why is not None:
            return web.json_response({"error": why}, status=503)
        if self.webrtc is not None and self.webrtc.wants_webrtc(request, body):
            return self.webrtc.start_reply(caller, body)
        scheme = "wss" if request.secure or _behind_tls_proxy(request) else "ws"
        reply: dict[str, Any] = {"wsUrl": f"{scheme}://{request.host}/ws"}
        if caller.token:
            reply["token"] = caller.token  # the transport adds it to wsUrl
        return web.json_response(reply)

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        caller = self.caller(request)
        access = self.policy.decide(caller)
        refusal = self._refusal(access)
        if refusal is not None:
            return refusal
        limited = self._limited_address(request, caller, access)
        why = self.hub.refuse(limited)
        if why is not None:  # before the upgrade: the client's connect() fails at once
            return web.json_response({"error": why}, status=503)
        ws = web.WebSocketResponse(
            max_msg_size=websocket_limit(self.config.max_message_bytes), heartbeat=30
        )
        await ws.prepare(request)
        link = WebSocketLink(ws)
        rate = self.config.output_rate
        session = self.hub.open(
            link,
            lambda s: WebSocketSink(s, rate),
            paired=access is Access.PAIRED,
            wire="protobuf",
            client_id=request.query.get("client_id"),
            address=limited,
        )
        link.name = session.session_id
        log.info(
            "session %s connected from %s (%s)", session.session_id, request.remote, access.value
        )
        await self.hub.run(session)
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
