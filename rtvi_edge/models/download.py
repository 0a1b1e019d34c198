"""Resumable, verified HTTP downloads.

Bytes stream into `<dest>.part`; an existing `.part` is continued with an HTTP Range request
(a server that ignores Range sends the whole file and we start over). The SHA-256 is computed
while streaming, checked at the end, and only then is the file renamed into place, so `dest`
never holds unverified bytes. A bad checksum deletes the `.part`: resuming it would only
reproduce the same bad bytes.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

from rtvi_edge import __version__
from rtvi_edge.errors import RtviEdgeError

log = logging.getLogger(__name__)

CHUNK = 1 << 16
BACKOFF = 1.0  # seconds before the first retry; doubles each time
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class DownloadError(RtviEdgeError):
    """A model could not be downloaded or installed."""


class ChecksumError(DownloadError):
    """The downloaded bytes are not the ones the catalogue names."""


class _Retry(Exception):
    """A transient failure: try again, resuming from the `.part`."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class Progress:
    """A redrawn bar on a terminal; a log line every few seconds otherwise (journald, CI)."""

    def __init__(self, label: str, stream: TextIO | None = None, log_every: float = 5.0) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.log_every = log_every
        self.total: int | None = None
        self.done = 0
        self._started = self._last = time.monotonic()
        self._resumed_at = 0
        self._active = False

    def start(self, total: int | None, done: int) -> None:
        self.total, self.done, self._resumed_at = total, done, done
        self._active = True
        self._started = self._last = time.monotonic()
        if done:
            log.info("%s: resuming at %s", self.label, _mb(done))

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= (0.1 if self.tty else self.log_every):
            self._last = now
            self._show(now)

    def finish(self) -> None:
        if not self._active:  # nothing was transferred (e.g. the .part was already whole)
            return
        self._show(time.monotonic())
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        rate = (self.done - self._resumed_at) / max(now - self._started, 1e-6)
        if self.total:
            pct = 100 * self.done / self.total
            return f"{pct:5.1f}% {_mb(self.done)} of {_mb(self.total)}, {rate / 1e6:.1f} MB/s"
        return f"{_mb(self.done)}, {rate / 1e6:.1f} MB/s"

    def _show(self, now: float) -> None:
        if not self.tty:
            log.info("%s: %s", self.label, self.line(now))
            return
        width = 24
        filled = int(width * self.done / self.total) if self.total else 0
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.label[:32]:<32} [{bar}] {self.line(now)}\x1b[K")
        self.stream.flush()


def download_file(
    url: str,
    dest: Path,
    sha256: str | None,
    size: int | None = None,
    *,
    progress: Progress | None = None,
    retries: int = 3,
    timeout: float = 30.0,
) -> str:
    """Download `url` to `dest`, resuming `dest.part`; returns the file's SHA-256.

    `sha256=None` accepts any bytes (the caller records the digest: trust on first use); then
    `size`, when known, is the only check.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    progress = progress or Progress(dest.name)
    attempt = 0
    while True:
        try:
            digest = _fetch(url, part, timeout, progress)
            break
        except _Retry as exc:
            attempt += 1
            if attempt > retries:
                raise DownloadError(
                    f"download of {url} failed: {exc} (run again to resume)"
                ) from exc
            delay = BACKOFF * 2 ** (attempt - 1)
            log.warning("%s: %s; resuming in %.0f s", dest.name, exc, delay)
            time.sleep(delay)
    progress.finish()
    got = part.stat().st_size
    if sha256 is not None and digest != sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"{dest.name} from {url} has SHA-256 {digest}, expected {sha256} "
            f"({got} bytes); the download was deleted"
        )
    if sha256 is None and size is not None and got != size:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{dest.name} from {url} is {got} bytes, expected {size}; deleted")
    os.replace(part, dest)
    return digest


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse | None:
    """The response, or None when a Range request says nothing is left to send (416)."""
    headers = {"User-Agent": f"rtvi-edge/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response: http.client.HTTPResponse = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        )
        return response
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the connection open
        if exc.code == 416 and offset:
            return None
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Retry(f"HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Retry(str(getattr(exc, "reason", exc))) from exc


def _resume_offset(response: http.client.HTTPResponse, offset: int) -> int:
    """Where the server's bytes start: `offset` for a matching 206, else 0 (full body)."""
    if not offset or response.status != 206:
        return 0
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
    if match is None or int(match.group(1)) != offset:
        raise DownloadError(f"server answered Range bytes={offset}- with a different range")
    return offset


def _fetch(url: str, part: Path, timeout: float, progress: Progress) -> str:
    offset = part.stat().st_size if part.exists() else 0
    digest = hashlib.sha256()
    response = _open(url, offset, timeout)
    if response is None:  # the .part is already whole (or junk: the checksum decides)
        return sha256_file(part)
    with response:
        start = _resume_offset(response, offset)
        if start:
            with part.open("rb") as f:  # hash what we already have, then go on streaming
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        progress.start(total, start)
        with part.open("ab" if start else "wb") as f:
            try:
                while chunk := response.read(CHUNK):
                    f.write(chunk)
                    digest.update(chunk)
                    progress.advance(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                raise _Retry(f"connection lost at {_mb(f.tell())}: {exc}") from exc
            finally:
                f.flush()
                os.fsync(f.fileno())
            received = f.tell()
    if total is not None and received < total:
        raise _Retry(f"connection closed at {_mb(received)} of {_mb(total)}")
    return digest.hexdigest()
