"""Issue 28, the sans-I/O parts: a hostile LAN peer. Fair admission per address, an
exact connection cap, fields that cannot kill a session, one log line per bad HTTP
peer a minute, the WebSocket size limit, and what a guest's spoken commands change."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.http_exceptions import BadHttpMessage

from rtvi_edge.config import Config, config_from_mapping
from rtvi_edge.errors import ServiceConfigError
from rtvi_edge.rtvi import frames
from rtvi_edge.rtvi.admission import AddressLimits, ConnectionGuard, Slots, websocket_limit
from rtvi_edge.rtvi.http_log import ParserErrorFilter
from rtvi_edge.rtvi.messages import parse_version
from rtvi_edge.rtvi.protocol import RtviProtocol
from rtvi_edge.tools.setup import ToolSetup
from rtvi_edge.tools.trust import GUEST_REFUSAL, Guests, is_guest_owner, owner_name
from tests.helpers import replies, rtvi_frame

# -- 2: a bad version (or any field) never ends the session ------------------------------


@pytest.mark.parametrize("version", ["²", "1" * 5000, "١.٢.٣", "1.²", "1.2.3.4", "", " 1"])
def test_a_bad_version_gets_an_error_response_and_the_session_starts(version: str) -> None:
    proto = RtviProtocol(1 << 20)
    inbound = proto.receive(rtvi_frame("client-ready", {"version": version}, "r"))
    assert len(inbound) == 1 and proto.state == "ready"  # before: ValueError escaped
    (reply,) = replies(proto)
    assert reply["type"] == "error-response" and "version" in reply["data"]["error"]


def test_versions_that_are_fine_still_parse() -> None:
    assert parse_version("2.1.0") == (2, 1, 0)
    assert parse_version("1") == (1, 0, 0)
    assert parse_version("0.3-beta") == (0, 3, 0)


@pytest.mark.parametrize(
    ("channels", "rate", "needle"),
    [(0, 16000, "num_channels"), (2**40, 16000, "num_channels"), (1, 0, "sample_rate")],
)
def test_bad_audio_fields_get_an_error_response(channels: int, rate: int, needle: str) -> None:
    proto = RtviProtocol(1 << 20)
    assert proto.receive(frames.encode_audio(b"\0" * 64, rate, channels)) == []
    (reply,) = replies(proto)
    assert reply["type"] == "error-response" and needle in reply["data"]["error"]


# -- 1, 6: fair admission and an exact cap ---------------------------------------------------


def test_a_guest_address_gets_its_share_and_no_more() -> None:
    slots = Slots(max_sessions=4, max_waiting=8, per_address=AddressLimits(2, 2, 16))
    attacker, friend = "192.168.1.66", "192.168.1.20"
    slots.connected("a1", attacker)
    slots.connected("a2", attacker)
    assert "waiting" in (slots.refuse_connect(attacker) or "")  # its third silent socket
    assert slots.refuse_connect(friend) is None  # everyone else still gets in
    assert slots.refuse_connect(None) is None  # and a paired caller
    assert slots.make_ready("a1") is None and slots.make_ready("a2") is None
    slots.connected("a3", attacker)
    assert "sessions" in (slots.make_ready("a3") or "")  # two ready sessions are its share
    assert "sessions" in (slots.refuse_connect(attacker) or "")
    slots.closed("a1")
    slots.closed("a3")
    assert slots.refuse_connect(attacker) is None


class _Transport:
    def __init__(self, peer: str = "127.0.0.1") -> None:
        self.peer = peer
        self.closed = False
        self.written = b""

    def get_extra_info(self, name: str) -> Any:
        return (self.peer, 40000) if name == "peername" else None

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True


class _WriteTransport(_Transport, asyncio.WriteTransport):
    pass


def test_a_burst_of_connects_cannot_overrun_the_cap() -> None:
    """The loop calls the factory for a whole burst before any connection is made."""
    guard = ConnectionGuard(lambda: asyncio.Protocol(), max_connections=64, idle_secs=5)
    protocols = [guard() for _ in range(70)]  # before: 70 made, 70 held
    transports = [_WriteTransport(f"10.0.0.{i}") for i in range(70)]
    for protocol, transport in zip(protocols, transports, strict=True):
        protocol.connection_made(transport)
    assert guard.connections == 64
    refused = [t for t in transports if t.closed]
    assert len(refused) == 6 and all(t.written.startswith(b"HTTP/1.1 503") for t in refused)


def test_one_address_cannot_take_every_connection() -> None:
    guard = ConnectionGuard(lambda: asyncio.Protocol(), 64, 5, per_address=16)
    mine = [_WriteTransport("127.0.0.2") for _ in range(20)]
    for t in mine:
        guard().connection_made(t)
    assert sum(not t.closed for t in mine) == 16
    friend = _WriteTransport("127.0.0.1")
    guard().connection_made(friend)
    assert not friend.closed and guard.connections == 17


def test_connection_guard_caps_and_reaps_idle_connections() -> None:
    guard = ConnectionGuard(lambda: asyncio.Protocol(), max_connections=2, idle_secs=5)
    a, b, c = _WriteTransport(), _WriteTransport(), _WriteTransport()
    guard().connection_made(a)
    guard().connection_made(b)
    guard().connection_made(c)
    assert c.closed and c.written.startswith(b"HTTP/1.1 503")  # over the cap
    guard.begin(b)  # b is inside a request (or a WebSocket)
    assert guard.reap_once(time.monotonic() + 10) == 1
    assert a.closed and not b.closed and guard.connections == 1
    guard.end(b)
    assert guard.reap_once(time.monotonic() + 1) == 0
    assert guard.reap_once(time.monotonic() + 10) == 1 and b.closed


# -- 4: one line per bad HTTP peer a minute ------------------------------------------------------


def _record(peer: str) -> logging.LogRecord:
    exc = BadHttpMessage("Duplicate 'Host' header found.")
    return logging.LogRecord(
        "rtvi_edge.rtvi.http",
        logging.ERROR,
        __file__,
        1,
        "Error handling request from %s",
        (peer,),
        (type(exc), exc, None),
    )


def test_malformed_requests_are_logged_once_per_peer_a_minute() -> None:
    now = [0.0]
    f = ParserErrorFilter(clock=lambda: now[0])
    kept = [r for r in (_record("10.0.0.9") for _ in range(100)) if f.filter(r)]
    assert len(kept) == 1 and kept[0].exc_info is None  # before: 100 tracebacks
    assert kept[0].levelno == logging.WARNING and "10.0.0.9" in kept[0].getMessage()
    assert f.filter(_record("10.0.0.10"))  # another peer has its own line
    now[0] = 61.0
    later = _record("10.0.0.9")
    assert f.filter(later) and "99 more" in later.getMessage()
    bug = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), None)
    assert f.filter(bug) and f.filter(bug)  # not a parser error: never held back


# -- 5: the WebSocket limit leaves room for the protocol's own answer ----------------------------


def test_the_websocket_limit_is_well_above_max_message_bytes() -> None:
    for limit in (1024, 1 << 20, 64 << 20):
        assert websocket_limit(limit) >= 4 * limit
    assert websocket_limit(1 << 20) >= 16 << 20  # the 4.2 MB message is answered


# -- the policy: a guest's spoken commands change only its own session -------------------------


class _Session:
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.volume = 1.0

    def set_volume(self, volume: float) -> None:
        self.volume = volume

    async def interrupt(self) -> bool:
        return False


async def test_a_guest_cannot_switch_the_homes_devices() -> None:
    published: list[tuple[str, str]] = []
    config = config_from_mapping({"tools": {"devices": ["lamp = home/lamp/set"]}})
    setup = ToolSetup(config, None, lambda t, p: published.append((t, p)) or True, Guests())
    owner = owner_name("rtvi-x-1", "alice", paired=False)
    assert is_guest_owner(owner) and owner != "client:alice"  # cannot claim alice's timers
    setup.guests.bind("rtvi-x-1", owner)
    guest = setup.for_session(_Session("rtvi-x-1"), False).runner.local
    result = await guest.call("control_device", {"device": "lamp", "state": "on"})
    assert result == {"error": GUEST_REFUSAL} and published == []
    paired = setup.for_session(_Session("rtvi-x-2"), False).runner.local
    setup.guests.bind("rtvi-x-2", owner_name("rtvi-x-2", "bob", paired=True))
    assert (await paired.call("control_device", {"device": "lamp", "state": "on"}))["state"]
    assert published == [("home/lamp/set", "ON")]
    mine = _Session("rtvi-x-1")
    muted = setup.for_session(mine, False).runner.local
    await muted.call("mute_speaker", {"muted": True})
    assert mine.volume == 0.0  # its own session's volume, the only one it can reach


# -- 3: every unusable STT model path gets the same answer -------------------------------------


async def test_unusable_stt_model_paths_get_one_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from rtvi_edge.engines.hub import EngineHub
    from rtvi_edge.services.settings_owner import SettingsOwner
    from tests.fakes import fake_engines

    base = Config()
    hub = EngineHub(fake_engines(), base)
    device = SettingsOwner(base, tmp_path)
    device.hub = hub
    answers = set()
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    for engine in ("whisper", "pocketsphinx", "vosk"):
        for path in ("/etc/passwd", str(empty), "/no/such/model", "Systran/faster-whisper-x"):
            new = config_from_mapping({"stt": {"engine": engine, "model": path}})
            with pytest.raises(ServiceConfigError) as info:
                await device.apply_device(new)
            answers.add(str(info.value))
    assert len(answers) == 1, answers  # before: "Repo id must be…", "Unable to open file…"
    assert "cannot be used" in answers.pop()
    assert not [r for r in caplog.records if r.exc_info]  # no traceback in the log


async def test_a_guests_timer_rings_only_in_its_own_session(tmp_path: Path) -> None:
    from tests.fakes import fake_engines
    from tests.integration.daemon_harness import running_daemon

    async with running_daemon(tmp_path, fake_engines()) as daemon:
        assert daemon.local is not None and daemon.timers is not None
        said: list[str] = []

        async def say(text: str, *args: Any, **kwargs: Any) -> None:
            said.append(text)

        daemon.local.say = say  # type: ignore[method-assign]
        daemon.bind_owner("rtvi-x-1", owner_name("rtvi-x-1", "alice", paired=False))
        daemon.bind_owner("rtvi-x-2", owner_name("rtvi-x-2", "bob", paired=True))
        guest = daemon.timers.add(600, "tea", "rtvi-x-1")
        paired = daemon.timers.add(600, "oven", "rtvi-x-2")
        daemon._timer_fired(guest)  # its session is not connected: it passes silently
        daemon._timer_fired(paired)  # a paired client's: the device says it
        await asyncio.sleep(0.1)
        assert said == ["Your oven timer is done."]
