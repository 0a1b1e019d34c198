"""sd_notify against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtvi_edge.systemd import Notifier
from tests.helpers import datagram_listener


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    with datagram_listener("notify") as bound:
        yield bound


def receive(sock: socket.socket, count: int) -> list[str]:
    return [sock.recv(4096).decode() for _ in range(count)]


@pytest.mark.parametrize("prefer_libsystemd", [False, True])
def test_messages_arrive_in_order(
    listener: tuple[str, socket.socket], monkeypatch: pytest.MonkeyPatch, prefer_libsystemd: bool
) -> None:
    path, sock = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    notifier = Notifier(prefer_libsystemd=prefer_libsystemd)
    assert notifier.enabled
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.status("loading models")
    notifier.ready("ready: whisper, llama, piper")
    notifier.watchdog()
    notifier.reloading()
    notifier.ready_after_reload()
    notifier.stopping("shutting down")
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    got = receive(sock, 6)
    assert got[0] == "STATUS=loading models"
    assert got[1] == "READY=1\nSTATUS=ready: whisper, llama, piper"
    assert got[2] == "WATCHDOG=1"
    reloading, stamp = got[3].split("\n")
    assert reloading == "RELOADING=1"
    key, value = stamp.split("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after
    assert got[4] == "READY=1"
    assert got[5] == "STOPPING=1\nSTATUS=shutting down"


def test_abstract_namespace_socket() -> None:
    name = f"rtvi-edge-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        notifier.ready("up")
        notifier.watchdog()
        assert receive(sock, 2) == ["READY=1\nSTATUS=up", "WATCHDOG=1"]


def test_status_is_one_line(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    Notifier({"NOTIFY_SOCKET": path}).status("line one\nREADY=1")
    assert receive(sock, 1) == ["STATUS=line one READY=1"]


def test_missing_socket_warns_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    with caplog.at_level(logging.WARNING, logger="rtvi_edge.systemd"):
        notifier.ready("up")
        notifier.watchdog()
        notifier.reloading()
        notifier.stopping("bye")
    warnings = [r for r in caplog.records if r.name == "rtvi_edge.systemd"]
    assert len(warnings) == 1
    assert "cannot notify systemd" in warnings[0].getMessage()


def test_socket_removed_while_running(
    listener: tuple[str, socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    path, sock = listener
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.ready("up")
    assert receive(sock, 1) == ["READY=1\nSTATUS=up"]
    os.unlink(path)
    with caplog.at_level(logging.WARNING, logger="rtvi_edge.systemd"):
        notifier.watchdog()
        notifier.watchdog()
    assert len(caplog.records) == 1


def test_outside_systemd_everything_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    notifier.ready("up")
    notifier.watchdog()
    notifier.stopping("bye")


def test_non_unix_notify_socket_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rtvi_edge.systemd"):
        notifier = Notifier({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert "not a unix socket" in caplog.text


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, 15.0),
        ("30000000", "self", 15.0),
        ("30000000", "1", None),  # meant for another process
        ("0", None, None),
        ("soon", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval_is_half_the_period(
    usec: str | None, pid: str | None, expected: float | None
) -> None:
    env = {"NOTIFY_SOCKET": "/run/systemd/notify"}
    if usec is not None:
        env["WATCHDOG_USEC"] = usec
    if pid is not None:
        env["WATCHDOG_PID"] = str(os.getpid()) if pid == "self" else pid
    assert Notifier(env).watchdog_interval == expected


def test_no_watchdog_without_notify_socket() -> None:
    assert Notifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval is None
