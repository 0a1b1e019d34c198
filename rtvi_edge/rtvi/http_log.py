"""What the HTTP server logs about requests it could not parse: one line per peer a minute.

aiohttp logs every malformed request (two `Host` headers, a bad request line) as an
ERROR with a traceback: a peer on the LAN can write a thousand journal lines a second.
A malformed request is the client's mistake, not ours: it gets one line without a
traceback, at most once per peer per minute, and the count of the ones left out.
Anything else aiohttp logs (a real bug) passes unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp.http_exceptions import HttpProcessingError

WINDOW_SECS = 60.0
MAX_PEERS = 1024  # peers remembered at once; the oldest are forgotten


class ParserErrorFilter(logging.Filter):
    """Rate-limits aiohttp's "Error handling request" records caused by bad input."""

    def __init__(
        self, window: float = WINDOW_SECS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.window = window
        self._clock = clock
        self._last: dict[str, tuple[float, int]] = {}  # peer → (when logged, left out since)
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        peer = str(args[0]) if args else "a client"
        now = self._clock()
        last = self._last.get(peer)
        if last is not None and now - last[0] < self.window:
            self._last[peer] = (last[0], last[1] + 1)
            self.suppressed += 1
            return False
        left_out = last[1] if last is not None else 0
        self._remember(peer, now)
        reason = " ".join(str(exc.message or exc).split())[:200]
        record.msg = "malformed HTTP request from %s: %s%s"
        record.args = (peer, reason, f" ({left_out} more since)" if left_out else "")
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        record.stack_info = None
        return True

    def _remember(self, peer: str, now: float) -> None:
        self._last.pop(peer, None)
        self._last[peer] = (now, 0)
        while len(self._last) > MAX_PEERS:
            self._last.pop(next(iter(self._last)))


def http_logger() -> logging.Logger:
    """The logger the RTVI server hands aiohttp (its filter added once)."""
    logger = logging.getLogger("rtvi_edge.rtvi.http")
    if not any(isinstance(f, ParserErrorFilter) for f in logger.filters):
        logger.addFilter(ParserErrorFilter())
    return logger
