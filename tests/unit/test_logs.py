"""Logging: plain stderr, the native journal protocol on a real datagram socket, fallbacks."""

from __future__ import annotations

import logging
import os
import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtvi_edge import logs
from tests.helpers import datagram_listener


@pytest.fixture(autouse=True)
def restore_root_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("JOURNAL_STREAM", "INVOCATION_ID"):
        monkeypatch.delenv(var, raising=False)
    root = logging.getLogger()
    level = root.level
    yield
    for handler in logs.installed_handlers():
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.fixture
def journal() -> Iterator[tuple[str, socket.socket]]:
    with datagram_listener("journal") as bound:
        yield bound


def parse(payload: bytes) -> dict[str, str]:
    """The native journal protocol, as journald reads it."""
    fields: dict[str, str] = {}
    i = 0
    while i < len(payload):
        end = payload.index(b"\n", i)
        line = payload[i:end]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = end + 1
        else:
            key = line
            (size,) = struct.unpack("<Q", payload[end + 1 : end + 9])
            value = payload[end + 9 : end + 9 + size]
            assert payload[end + 9 + size : end + 10 + size] == b"\n"
            i = end + 10 + size
        fields[key.decode()] = value.decode()
    return fields


def test_plain_stderr_format(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup_logging("info", "off")
    logging.getLogger("rtvi_edge.demo").info("hello %s", "world")
    logging.getLogger("rtvi_edge.demo").debug("hidden")
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO rtvi_edge\.demo: hello world\n", err
    ), err


def test_debug_level_shows_debug(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup_logging("debug", "off")
    logging.getLogger("rtvi_edge.demo").debug("details")
    assert "DEBUG rtvi_edge.demo: details" in capsys.readouterr().err


def test_calling_twice_does_not_duplicate(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup_logging("info", "off")
    logs.setup_logging("warning", "off")
    assert len(logs.installed_handlers()) == 1
    logging.getLogger("rtvi_edge.demo").warning("once")
    assert capsys.readouterr().err.count("once") == 1
    assert logging.getLogger().level == logging.WARNING


def test_rejects_unknown_values() -> None:
    with pytest.raises(ValueError, match="log level"):
        logs.setup_logging("verbose", "off")
    with pytest.raises(ValueError, match="journald"):
        logs.setup_logging("info", "maybe")


def test_auto_is_plain_outside_systemd(journal: tuple[str, socket.socket]) -> None:
    logs.setup_logging("info", "auto", journal_socket=journal[0])
    (handler,) = logs.installed_handlers()
    assert type(handler) is logging.StreamHandler


@pytest.mark.parametrize("var", ["JOURNAL_STREAM", "INVOCATION_ID"])
def test_auto_uses_journal_under_systemd(
    journal: tuple[str, socket.socket], monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    monkeypatch.setenv(var, "8:1234")
    logs.setup_logging("info", "auto", journal_socket=journal[0])
    (handler,) = logs.installed_handlers()
    assert isinstance(handler, logs.JournalSocketHandler)


def test_journal_fields(journal: tuple[str, socket.socket]) -> None:
    path, sock = journal
    logs.setup_logging("info", "on", journal_socket=path)
    log = logging.getLogger("rtvi_edge.pipeline")
    log.warning(
        "turn %d took %.1f s", 3, 1.25, extra={"fields": {"turn_id": 3, "session-id": "abc"}}
    )
    fields = parse(sock.recv(65536))
    assert fields["MESSAGE"] == "turn 3 took 1.2 s"
    assert fields["PRIORITY"] == "4"
    assert fields["SYSLOG_IDENTIFIER"] == "rtvi-edge"
    assert fields["LOGGER"] == "rtvi_edge.pipeline"
    assert fields["CODE_FILE"] == __file__
    assert int(fields["CODE_LINE"]) > 0
    assert fields["CODE_FUNC"] == "test_journal_fields"
    assert fields["TURN_ID"] == "3"
    assert fields["SESSION_ID"] == "abc"


def test_journal_multiline_message_uses_length_framing(journal: tuple[str, socket.socket]) -> None:
    path, sock = journal
    logs.setup_logging("info", "on", journal_socket=path)
    try:
        raise ValueError("bad value")
    except ValueError:
        logging.getLogger("rtvi_edge.demo").exception("it broke")
    fields = parse(sock.recv(65536))
    assert fields["PRIORITY"] == "3"
    assert fields["MESSAGE"].startswith("it broke\nTraceback")
    assert "ValueError: bad value" in fields["MESSAGE"]


def test_journal_huge_message_goes_through_a_sealed_memfd(
    journal: tuple[str, socket.socket],
) -> None:
    path, sock = journal
    logs.setup_logging("info", "on", journal_socket=path)
    big = "x" * 4_000_000  # above any AF_UNIX datagram limit
    logging.getLogger("rtvi_edge.demo").info("%s", big)
    data, fds, _flags, _addr = socket.recv_fds(sock, 16, 1)
    assert data == b"" and len(fds) == 1
    try:
        payload = os.pread(fds[0], 8_000_000, 0)
    finally:
        os.close(fds[0])
    assert parse(payload)["MESSAGE"] == big


def test_missing_journal_socket_falls_back_to_prefixed_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.setup_logging("info", "on", journal_socket=str(tmp_path / "none"))
    logging.getLogger("rtvi_edge.demo").warning("careful\nsecond line")
    assert capsys.readouterr().err == "<4>rtvi_edge.demo: careful\n<4>second line\n"


def test_journal_going_away_falls_back_to_prefixed_stderr(
    journal: tuple[str, socket.socket], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _sock = journal
    logs.setup_logging("info", "on", journal_socket=path)
    os.unlink(path)
    logging.getLogger("rtvi_edge.demo").error("still logged")
    assert capsys.readouterr().err == "<3>rtvi_edge.demo: still logged\n"


@pytest.mark.parametrize(
    ("key", "name"),
    [("turn_id", "TURN_ID"), ("session-id", "SESSION_ID"), ("_PID", "PID"), ("9lives", "F_9LIVES")],
)
def test_field_names_are_valid_journal_fields(key: str, name: str) -> None:
    assert logs.field_name(key) == name


def test_priorities() -> None:
    assert [logs.syslog_priority(n) for n in (10, 20, 30, 40, 50)] == [7, 6, 4, 3, 2]


def test_fields_are_lifted_for_systemd_pythons_handler() -> None:
    # systemd.journal.JournalHandler sends upper-case record attributes as journal fields.
    record = logging.LogRecord("rtvi_edge.x", logging.INFO, __file__, 1, "m", None, None)
    record.fields = {"turn_id": 7}
    assert logs.LiftFields().filter(record)
    assert record.__dict__["TURN_ID"] == "7"
