"""A WebRTC peer's data channel, without a network: what the session says while a
restarted connection's channel is not open yet waits for it (bounded, as pipecat),
and a closed peer says peerLeft first."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rtvi_edge.rtvi.webrtc.peer import PENDING_LIMIT, WebRtcPeer


class FakeChannel:
    """The few RTCDataChannel parts the peer uses."""

    def __init__(self, state: str = "open") -> None:
        self.readyState = state
        self.bufferedAmount = 0
        self.sent: list[str] = []
        self.handlers: dict[str, Callable[..., Any]] = {}

    def send(self, text: str) -> None:
        self.sent.append(text)

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        if handler is not None:
            self.handlers[event] = handler
            return handler
        return lambda fn: self.on(event, fn)

    def opens(self) -> None:
        self.readyState = "open"
        self.handlers["open"]()


async def test_messages_wait_for_the_next_channel_in_order_and_bounded() -> None:
    peer = WebRtcPeer("pc", [], 22050, 5.0)
    for i in range(PENDING_LIMIT + 5):  # no channel yet (a restart): kept, the oldest dropped
        await peer.send(json.dumps({"n": i}))
    channel = FakeChannel("connecting")
    peer._use_channel(channel)  # type: ignore[arg-type]
    await peer.send(json.dumps({"n": "last"}))  # its channel still connecting: waits too
    assert channel.sent == []
    channel.opens()
    got = [json.loads(m)["n"] for m in channel.sent]
    assert got == [*range(6, PENDING_LIMIT + 5), "last"]  # the newest PENDING_LIMIT
    await peer.send(b'{"n": "bytes"}')  # an open channel: straight through, as text
    assert channel.sent[-1] == '{"n": "bytes"}'
    await peer.close()


async def test_closing_says_peer_left_first() -> None:
    peer = WebRtcPeer("pc", [], 22050, 5.0)
    channel = FakeChannel()
    peer._use_channel(channel)  # type: ignore[arg-type]
    await peer.close()
    assert json.loads(channel.sent[0]) == {"type": "signalling", "message": {"type": "peerLeft"}}
