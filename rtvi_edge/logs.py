"""Logging set-up: journald with structured fields under systemd, plain stderr elsewhere.

Extra journal fields ride on a record as `log.info("...", extra={"fields": {"turn_id": 3}})`;
they become upper-case journal fields (`TURN_ID=3`), so `journalctl -u rtvi-edge TURN_ID=3`
finds them. Without systemd-python the native journal protocol is spoken directly (one
datagram of `KEY=value` lines to /run/systemd/journal/socket, see systemd.journal-fields(7)).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib
import logging
import os
import re
import socket
import struct
import sys
from collections.abc import Iterable, Mapping

IDENTIFIER = "rtvi-edge"
JOURNAL_SOCKET = "/run/systemd/journal/socket"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_MARK = "_rtvi_edge_handler"
_FIELD_OK = re.compile(r"[A-Z][A-Z0-9_]{0,63}")  # journald: no leading digit, <= 64


def syslog_priority(levelno: int) -> int:
    """Python level -> syslog priority (journald's PRIORITY=, the `<N>` stderr prefix)."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def under_systemd(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get("JOURNAL_STREAM") or env.get("INVOCATION_ID"))


def field_name(key: str) -> str:
    """A journal field name: upper case, digits, underscores; no leading underscore (those
    are trusted fields journald sets itself)."""
    name = re.sub(r"[^A-Z0-9_]", "_", key.upper()).lstrip("_")
    return name if _FIELD_OK.fullmatch(name) else ("F_" + name)[:64]


def record_fields(record: logging.LogRecord) -> dict[str, str]:
    fields = getattr(record, "fields", None)
    if not isinstance(fields, Mapping):
        return {}
    return {field_name(str(k)): str(v) for k, v in fields.items()}


def encode_fields(fields: Iterable[tuple[str, str]]) -> bytes:
    """The native protocol: `KEY=value\\n`, or KEY, newline, le64 length, raw value for
    values that contain a newline (tracebacks)."""
    out = bytearray()
    for key, value in fields:
        data = value.encode("utf-8", "replace")
        if b"\n" in data:
            out += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key.encode() + b"=" + data + b"\n"
    return bytes(out)


class PriorityStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr with sd-daemon(3) `<N>` prefixes, which journald's stdout stream understands."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


class JournalSocketHandler(logging.Handler):
    """Native journal protocol without libsystemd; falls back to prefixed stderr."""

    def __init__(self, path: str = JOURNAL_SOCKET, identifier: str = IDENTIFIER) -> None:
        super().__init__()
        self.path = path
        self.identifier = identifier
        self.setFormatter(logging.Formatter("%(message)s"))
        self.fallback = PriorityStderrHandler()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def fields(self, record: logging.LogRecord) -> list[tuple[str, str]]:
        base = [
            ("MESSAGE", self.format(record)),
            ("PRIORITY", str(syslog_priority(record.levelno))),
            ("SYSLOG_IDENTIFIER", self.identifier),
            ("LOGGER", record.name),
            ("CODE_FILE", record.pathname),
            ("CODE_LINE", str(record.lineno)),
            ("CODE_FUNC", record.funcName),
            ("THREAD_NAME", record.threadName or ""),
        ]
        return base + list(record_fields(record).items())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            payload = encode_fields(self.fields(record))
        except Exception:  # a broken __str__ in a log argument must not kill the caller
            self.handleError(record)
            return
        try:
            self._send(payload)
        except OSError:
            self.fallback.emit(record)  # journald gone (or not there): keep the line

    def _send(self, payload: bytes) -> None:
        try:
            self._sock.sendto(payload, self.path)
        except OSError as exc:
            if exc.errno not in (errno.EMSGSIZE, errno.ENOBUFS):
                raise
            self._send_memfd(payload)  # too big for one datagram: journald takes a sealed memfd

    def _send_memfd(self, payload: bytes) -> None:
        fd = os.memfd_create("journal-message", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.write(fd, payload)
            seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))]
            self._sock.sendmsg([], rights, 0, self.path)  # socket.send_fds drops the address
        finally:
            os.close(fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        self.fallback.close()
        super().close()


class LiftFields(logging.Filter):
    """systemd-python's JournalHandler sends upper-case record attributes as fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in record_fields(record).items():
            setattr(record, key, value)
        return True


def _libsystemd_handler() -> logging.Handler | None:
    try:
        journal = importlib.import_module("systemd.journal")
    except ImportError:  # not installed (or only the repo's systemd/ folder is on the path)
        return None
    handler: logging.Handler = journal.JournalHandler(SYSLOG_IDENTIFIER=IDENTIFIER)
    handler.addFilter(LiftFields())
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def journal_handler(socket_path: str | None = None) -> logging.Handler:
    """systemd-python's handler when installed, else our own; prefixed stderr if no journald."""
    path = socket_path or JOURNAL_SOCKET
    if not os.path.exists(path):
        return PriorityStderrHandler()
    if socket_path is None:
        handler = _libsystemd_handler()
        if handler is not None:
            return handler
    return JournalSocketHandler(path)


def plain_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    return handler


def setup_logging(level: str, journald: str, *, journal_socket: str | None = None) -> None:
    """Configure the root logger; calling it again replaces what an earlier call installed.

    `journald`: "on", "off", or "auto" (on when systemd started us: $JOURNAL_STREAM or
    $INVOCATION_ID). `journal_socket` overrides the journal's socket path (tests).
    """
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    if journald not in ("auto", "on", "off"):
        raise ValueError(f"journald must be auto, on or off, not {journald!r}")
    use_journal = journald == "on" or (journald == "auto" and under_systemd())
    handler = journal_handler(journal_socket) if use_journal else plain_handler()
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(LEVELS[level])


def set_level(level: str) -> None:
    """A new `[log] level` (a reload): the root logger's threshold, the handler kept."""
    logging.getLogger().setLevel(LEVELS[level])


def installed_handlers() -> list[logging.Handler]:
    """The handlers setup_logging installed (for tests and diagnostics)."""
    return [h for h in logging.getLogger().handlers if getattr(h, _MARK, False)]
