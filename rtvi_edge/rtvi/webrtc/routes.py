"""SmallWebRTC's HTTP side on the RTVI port, wire-compatible with pipecat's runner.

* `POST /start` (with `{"transport": "webrtc"}`) or `POST /webrtc/start`: what
  `startBotAndConnect` expects, `{sessionId, iceConfig}`; the client then sends its
  offer to `/sessions/<sessionId>/api/offer` next to it.
* `POST /api/offer` (also under `/webrtc` and `/sessions/<id>`): an SDP offer →
  `{sdp, type: "answer", pc_id}`; with `pc_id`, a renegotiation of that peer, with
  `restart_pc` a new connection for the same session.
* `PATCH /api/offer`: trickled ICE candidates for a `pc_id`.

As in pipecat, `restart_pc` with a `pc_id` whose session has ended (the client
reconnects after lost Wi-Fi, later than `peer_timeout_secs`) starts a new session,
admitted like a first offer; the ended session's pairing carries over for
`ENDED_SECS`. A renegotiation (no `restart_pc`) of an unknown `pc_id` is a 404:
the client's peer connection cannot go on with a new one here.

The pairing token and origin rules are those of the WebSocket: the token comes
with `/start` (its session id remembers it for a minute), or with the offer.

The WebRTC stack (aiortc, PyAV, cryptography, SRTP: ~19 MiB resident) is imported at
the first offer, in a thread so that other sessions' turns go on, not at start-up: a
device whose clients use the WebSocket never holds it (issue 25). Settings are checked
at start-up all the same (options.py); an aiortc that cannot be imported makes each
offer a 503 that says so, and the daemon goes on serving. The peer connections run
on their own event loop thread (media_loop.py), started with the stack and joined at
shutdown once every peer is closed.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rtvi_edge import text_limits
from rtvi_edge.config import WebRtcConfig
from rtvi_edge.rtvi.hub import SessionHub, limited_address, refusal
from rtvi_edge.rtvi.security import Access, Caller, Policy
from rtvi_edge.rtvi.webrtc import signalling as sig
from rtvi_edge.rtvi.webrtc.options import (
    NoFreePort,
    check_ice_urls,
    check_range,
    client_ice_config,
)

if TYPE_CHECKING:
    from rtvi_edge.rtvi.webrtc.media_loop import MediaLoop
    from rtvi_edge.rtvi.webrtc.peer import WebRtcPeer

log = logging.getLogger(__name__)

BODY_LIMIT = 128 * 1024
TICKET_SECS = 60.0  # a /start session id must be used this soon
NEGOTIATION_SECS = 15.0  # aiortc's answer (ICE gathering) must not hang a request
PREFIXES = ("", "/webrtc")
ENDED_SECS = 300.0  # an ended session's pc_id still restarts (with its pairing) this long
ENDED_LIMIT = 256  # ended pc_ids remembered at most


@dataclass
class _Ticket:
    paired: bool
    client_id: str | None
    expires: float


class WebRtcRoutes:
    def __init__(
        self,
        config: WebRtcConfig,
        hub: SessionHub,
        policy: Policy,
        caller: Callable[[web.Request, str | None], Caller],
    ) -> None:
        self.config = config
        self.hub = hub
        self.policy = policy
        self._caller = caller
        check_ice_urls(config)  # a bad setting is a ConfigError at start-up
        check_range(config.port_min, config.port_max)
        self._servers: list[Any] | None = None  # aiortc's, once the stack is imported
        self._media: MediaLoop | None = None  # the peer connections' loop, with the stack
        self.peers: dict[str, WebRtcPeer] = {}
        self._tickets: dict[str, _Ticket] = {}
        self._ended: dict[str, _Ticket] = {}  # pc_id → its session's pairing
        self._tasks: set[asyncio.Task[None]] = set()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        for prefix in PREFIXES:
            for offer in (f"{prefix}/api/offer", f"{prefix}/sessions/{{sid}}/api/offer"):
                router.add_post(offer, self.handle_offer)
                router.add_patch(offer, self.handle_patch)
        router.add_post("/webrtc/start", self.handle_start)

    async def close(self) -> None:
        for peer in list(self.peers.values()):
            await peer.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._media is not None:
            await self._media.stop()

    # -- /start -----------------------------------------------------------------------
    @staticmethod
    def wants_webrtc(request: web.Request, body: Any) -> bool:
        if request.query.get("transport") == "webrtc":
            return True
        return isinstance(body, dict) and (
            body.get("transport") == "webrtc" or "enableDefaultIceServers" in body
        )

    def start_reply(self, caller: Caller, body: Any) -> web.Response:
        """startBotAndConnect's answer; the session id carries the caller's pairing."""
        now = time.monotonic()
        for sid in [s for s, t in self._tickets.items() if t.expires < now]:
            del self._tickets[sid]
        if len(self._tickets) >= 4 * self.hub.slots.max_waiting:
            return web.json_response(
                {"error": "too many sessions are starting; try later"}, status=503
            )
        sid = secrets.token_urlsafe(12)
        client_id = body.get("client_id") if isinstance(body, dict) else None
        self._tickets[sid] = _Ticket(
            self.policy.decide(caller) is Access.PAIRED,
            client_id if isinstance(client_id, str) else None,
            now + TICKET_SECS,
        )
        reply: dict[str, Any] = {"sessionId": sid}
        ice = client_ice_config(self.config)
        if ice["iceServers"]:  # as pipecat: [] would replace the servers the client has
            reply["iceConfig"] = ice
        return web.json_response(reply)

    async def handle_start(self, request: web.Request) -> web.Response:
        body = await _read_json(request)
        if isinstance(body, web.Response):
            return body
        token = body.get("token") if isinstance(body, dict) else None
        caller = self._caller(request, token if isinstance(token, str) else None)
        access = self.policy.decide(caller)
        refused = refusal(access)
        if refused is not None:
            return refused
        why = self.hub.refuse(
            limited_address(request.remote, caller, access, self.policy.open_device)
        )
        if why is not None:
            return web.json_response({"error": why}, status=503)
        return self.start_reply(caller, body)

    # -- offers -----------------------------------------------------------------------
    async def handle_offer(self, request: web.Request) -> web.Response:
        body = await _read_json(request)
        if isinstance(body, web.Response):
            return body
        try:
            offer = sig.parse_offer(body)
        except sig.SignallingError as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)
        caller = self._caller(request, None)
        access = self.policy.decide(caller)
        refused = refusal(access)
        if refused is not None:
            return refused
        if offer.pc_id is not None and (offer.pc_id in self.peers or not offer.restart_pc):
            return await self._renegotiate(offer)
        ticket = self._ended_ticket(offer.pc_id) or self._ticket(request)
        if isinstance(ticket, web.Response):
            return ticket
        paired_at_start = ticket is not None and ticket.paired  # the token came with /start
        paired = access is Access.PAIRED or paired_at_start
        address = (
            None  # a token holder: only the global limits
            if paired_at_start
            else limited_address(request.remote, caller, access, self.policy.open_device)
        )
        why = self.hub.refuse(address)
        if why is not None:
            return web.json_response({"error": why}, status=503)
        client_id = ticket.client_id if ticket else request.query.get("client_id")
        answer = await self._new_peer(offer, paired, client_id, request.remote, address)
        if answer.status == 200:  # used; a refused offer (a full device) may try again
            if offer.pc_id is not None:
                self._ended.pop(offer.pc_id, None)
            self._tickets.pop(request.match_info.get("sid", ""), None)
        return answer

    def _ended_ticket(self, pc_id: str | None) -> _Ticket | None:
        """An ended session's pairing, for its client's restart_pc (until it succeeds)."""
        now = time.monotonic()
        for old in [p for p, t in self._ended.items() if t.expires < now]:
            del self._ended[old]
        return self._ended.get(pc_id) if pc_id else None

    def _remember_ended(self, peer: WebRtcPeer) -> None:
        if peer.session is None:
            return
        if len(self._ended) >= ENDED_LIMIT:
            del self._ended[next(iter(self._ended))]  # the oldest
        self._ended[peer.pc_id] = _Ticket(
            peer.session.paired, peer.client_id, time.monotonic() + ENDED_SECS
        )

    def _ticket(self, request: web.Request) -> _Ticket | web.Response | None:
        sid = request.match_info.get("sid")
        if sid is None:
            return None
        ticket = self._tickets.get(sid)  # used up by the session it opens, not before
        if ticket is None or ticket.expires < time.monotonic():
            return web.json_response(
                {"error": "unknown or expired session id: call /start again"}, status=404
            )
        return ticket

    async def _new_peer(
        self,
        offer: sig.Offer,
        paired: bool,
        client_id: str | None,
        remote: str | None,
        address: str | None,
    ) -> web.Response:
        try:
            servers, media = await self._load_stack()
        except Exception as exc:  # missing or broken: this offer fails, the daemon serves on
            log.error("WebRTC is unavailable: aiortc could not be loaded: %r", exc)
            return web.json_response(
                {"error": f"WebRTC is unavailable on this device: {type(exc).__name__}: {exc}"},
                status=503,
            )
        from rtvi_edge.rtvi.webrtc.audio import WebRtcSink
        from rtvi_edge.rtvi.webrtc.peer import WebRtcPeer

        pc_id = secrets.token_urlsafe(12)
        peer = WebRtcPeer(
            pc_id, servers, self.hub.config.output_rate, self.config.peer_timeout_secs, media
        )
        try:
            async with peer.lock:
                sdp = await asyncio.wait_for(peer.answer(offer.sdp), NEGOTIATION_SECS)
        except Exception as exc:
            await peer.close()
            return _unusable(exc)
        session = self.hub.open(
            peer,
            lambda s: WebRtcSink(lambda: peer.bot_track, peer.output_rate),
            paired=paired,
            wire="json",
            client_id=client_id,
            kind="webrtc",
            address=address,
        )
        peer.session = session
        peer.name = session.session_id
        peer.client_id = client_id
        self.peers[pc_id] = peer
        log.info(
            "session %s connected from %s over WebRTC (%s)",
            session.session_id,
            remote,
            "paired" if paired else "guest",
        )
        task = asyncio.create_task(self._serve(peer), name=f"webrtc-{session.session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response({"sdp": sdp, "type": "answer", "pc_id": pc_id})

    async def _load_stack(self) -> tuple[list[Any], MediaLoop]:
        """aiortc & co. imported (once, in a thread) and set up: the device's ICE servers,
        and the media loop running."""
        if self._servers is None:
            for name in ("peer", "audio", "ice", "ports", "media_loop"):
                await asyncio.to_thread(importlib.import_module, f"rtvi_edge.rtvi.webrtc.{name}")
            from rtvi_edge.rtvi.webrtc.ice import ice_servers, restrict_host_addresses
            from rtvi_edge.rtvi.webrtc.ports import use_port_range

            servers = ice_servers(self.config)
            restrict_host_addresses(self.config.host_addresses)
            use_port_range(check_range(self.config.port_min, self.config.port_max))
            self._servers = servers
        if self._media is None:
            from rtvi_edge.rtvi.webrtc.media_loop import MediaLoop

            self._media = MediaLoop()
        self._media.start()  # at once when it runs already
        return self._servers, self._media

    async def _serve(self, peer: WebRtcPeer) -> None:
        assert peer.session is not None
        try:
            await self.hub.run(peer.session)
        finally:
            self.peers.pop(peer.pc_id, None)
            self._remember_ended(peer)
            await peer.close()

    async def _renegotiate(self, offer: sig.Offer) -> web.Response:
        assert offer.pc_id is not None
        peer = self.peers.get(offer.pc_id)
        if peer is None:
            return _unknown_peer(offer.pc_id)
        try:
            async with peer.lock:
                sdp = await asyncio.wait_for(
                    peer.answer(offer.sdp, restart=offer.restart_pc), NEGOTIATION_SECS
                )
        except Exception as exc:
            if offer.restart_pc:  # the old connection is gone already: so is the session
                await peer.close()
            return _unusable(exc)
        return web.json_response({"sdp": sdp, "type": "answer", "pc_id": peer.pc_id})

    # -- trickled candidates ------------------------------------------------------------
    async def handle_patch(self, request: web.Request) -> web.Response:
        body = await _read_json(request)
        if isinstance(body, web.Response):
            return body
        try:
            pc_id, candidates = sig.parse_candidates(body, self.config.max_candidates)
        except sig.SignallingError as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)
        peer = self.peers.get(pc_id)
        if peer is None:
            return _unknown_peer(pc_id)
        if peer.candidates_taken + len(candidates) > self.config.max_candidates:
            return web.json_response(
                {"error": f"this peer sent more than {self.config.max_candidates} candidates"},
                status=429,
            )
        try:
            await peer.add_candidates(candidates)
        except (ValueError, IndexError) as exc:
            return web.json_response({"error": f"unusable candidate: {exc}"}, status=400)
        return web.json_response({"status": "success"})


async def _read_json(request: web.Request) -> Any:
    """The body as JSON, or the response that says what is wrong with it."""
    length = request.content_length
    if length is not None and length > BODY_LIMIT:
        return web.json_response({"error": f"body over {BODY_LIMIT} bytes"}, status=413)
    try:
        raw = await asyncio.wait_for(request.read(), 15.0)
        return text_limits.loads(raw, "body") if raw.strip() else {}
    except TimeoutError:
        return web.json_response({"error": "the body did not arrive in time"}, status=408)
    except web.HTTPRequestEntityTooLarge:
        return web.json_response({"error": f"body over {BODY_LIMIT} bytes"}, status=413)
    except text_limits.InputError as exc:
        return web.json_response({"error": f"body must be JSON: {exc}"}, status=400)


def _unknown_peer(pc_id: str) -> web.Response:
    return web.json_response(
        {"error": f"unknown pc_id {pc_id!r}: the session ended; send a new offer without pc_id"},
        status=404,
    )


def _unusable(exc: BaseException) -> web.Response:
    if isinstance(exc, NoFreePort):
        log.warning("WebRTC offer refused: %s", exc)
        return web.json_response({"error": f"the device is busy: {exc}"}, status=503)
    if isinstance(exc, TimeoutError):
        return web.json_response(
            {"error": "the device could not answer the offer in time"}, status=503
        )
    log.info("WebRTC offer refused: %s: %s", type(exc).__name__, exc)
    return web.json_response({"error": f"the device cannot use this offer: {exc}"}, status=400)
