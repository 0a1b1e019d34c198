"""A WebRTC peer's data channel, without a network: what the session says while a
restarted connection's channel is not open yet waits for it (bounded, as pipecat),
and a closed peer says peerLeft first. Sends go out on the media loop's thread, in order."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from rtvi_edge.rtvi.webrtc.media_loop import THREAD_NAME, MediaLoop
from rtvi_edge.rtvi.webrtc.peer import PENDING_LIMIT, WebRtcPeer


async def _drained(media: MediaLoop) -> None:
    """What was posted to the media loop before this has run."""

    async def nothing() -> None:
        pass

    await media.run(nothing())


class FakeChannel:
    """The few RTCDataChannel parts the peer uses."""

    def __init__(self, state: str = "open") -> None:
        self.readyState = state
        self.bufferedAmount = 0
        self.sent: list[str] = []
        self.handlers: dict[str, Callable[..., Any]] = {}

    def send(self, text: str) -> None:
        assert threading.current_thread().name == THREAD_NAME
        self.sent.append(text)

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        if handler is not None:
            self.handlers[event] = handler
            return handler
        return lambda fn: self.on(event, fn)

    def opens(self, peer: WebRtcPeer) -> None:
        self.readyState = "open"
        peer._flush()  # what the channel's open event does, on the daemon's loop


async def test_messages_wait_for_the_next_channel_in_order_and_bounded(media: MediaLoop) -> None:
    peer = WebRtcPeer("pc", [], 22050, 5.0, media)
    for i in range(PENDING_LIMIT + 5):  # no channel yet (a restart): kept, the oldest dropped
        await peer.send(json.dumps({"n": i}))
    channel = FakeChannel("connecting")
    peer._use_channel(channel)  # type: ignore[arg-type]
    await peer.send(json.dumps({"n": "last"}))  # its channel still connecting: waits too
    await _drained(media)
    assert channel.sent == []
    channel.opens(peer)
    await _drained(media)
    got = [json.loads(m)["n"] for m in channel.sent]
    assert got == [*range(6, PENDING_LIMIT + 5), "last"]  # the newest PENDING_LIMIT
    await peer.send(b'{"n": "bytes"}')  # an open channel: straight through, as text
    await _drained(media)
    assert channel.sent[-1] == '{"n": "bytes"}'
    await peer.close()


async def test_closing_says_peer_left_first(media: MediaLoop) -> None:
    peer = WebRtcPeer("pc", [], 22050, 5.0, media)
    channel = FakeChannel()
    peer._use_channel(channel)  # type: ignore[arg-type]
    await peer.close()  # the media side closes after what was posted before it
    assert json.loads(channel.sent[0]) == {"type": "signalling", "message": {"type": "peerLeft"}}
    assert peer.bot_track.readyState == "ended"


async def test_a_closed_media_loop_still_lets_the_peer_close(media: MediaLoop) -> None:
    peer = WebRtcPeer("pc", [], 22050, 5.0, media)
    await media.stop()  # shutdown took the loop first
    await peer.close()
    with pytest.raises(ConnectionError):
        await peer.send("{}")
