"""Blocking HTTP for the remote engines (they run in worker threads): JSON requests,
server-sent events, and errors that name the config key to fix.

The standard library's urllib is enough here: one request per call, HTTP/1.1,
TLS from the system trust store, timeouts per socket operation.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.client import HTTPException, HTTPResponse
from typing import Any

from rtvi_edge.errors import ConfigError, EngineError


class RemoteError(EngineError):
    """A LAN server could not serve a request; the message names the config key."""


def check_base_url(section: str, url: str, schemes: tuple[str, ...]) -> str:
    """The URL without a trailing slash, or ConfigError naming `[section] base_url`."""
    parts = urllib.parse.urlsplit(url)
    if not url:
        raise ConfigError([f"[{section}] base_url: required by a remote engine"])
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{s}://HOST:PORT" for s in schemes)
        raise ConfigError([f"[{section}] base_url = {url!r}: must look like {wanted}"])
    return url.rstrip("/")


class HttpClient:
    """Requests to one server, for one stage's config section."""

    def __init__(self, section: str, base_url: str, api_key: str, timeout: float) -> None:
        self.section = section
        self.base_url = check_base_url(section, base_url, ("http", "https"))
        self.api_key = api_key
        self.timeout = timeout

    def where(self) -> str:
        return f"[{self.section}] base_url = {self.base_url!r}"

    def _request(self, path: str, body: bytes | None, content_type: str) -> urllib.request.Request:
        req = urllib.request.Request(self.base_url + path, data=body)
        if body is not None:
            req.add_header("Content-Type", content_type)
        if self.api_key:
            req.add_header("Authorization", f"Bearer {self.api_key}")
        return req

    def open(
        self,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> HTTPResponse:
        """The response, status 2xx, or RemoteError saying what went wrong."""
        req = self._request(path, body, content_type)
        try:
            resp: HTTPResponse = urllib.request.urlopen(req, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            if exc.code in (401, 403):
                raise RemoteError(
                    f"[{self.section}] api_key: {self.base_url}{path} refused it "
                    f"(HTTP {exc.code}{detail})"
                ) from None
            raise RemoteError(f"{self.where()}: {path} answered HTTP {exc.code}{detail}") from None
        except urllib.error.URLError as exc:
            raise RemoteError(f"{self.where()}: {_reason(exc.reason)}") from None
        except TimeoutError:
            raise RemoteError(
                f"{self.where()}: no answer within {timeout or self.timeout:g} s"
            ) from None
        except (ssl.SSLError, OSError) as exc:
            raise RemoteError(f"{self.where()}: {_reason(exc)}") from None
        return resp

    def get_json(self, path: str, timeout: float | None = None) -> Any:
        with self.open(path, timeout=timeout) as resp:
            return self._json(resp.read(), path)

    def post_json(self, path: str, payload: dict[str, Any], timeout: float | None = None) -> Any:
        with self.open(path, json.dumps(payload).encode(), timeout=timeout) as resp:
            return self._json(self._read(resp, path), path)

    def _read(self, resp: HTTPResponse, path: str) -> bytes:
        try:
            return resp.read()
        except (TimeoutError, OSError, HTTPException) as exc:
            raise RemoteError(f"{self.where()}: {path} broke off: {_reason(exc)}") from None

    def _json(self, data: bytes, path: str) -> Any:
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RemoteError(
                f"{self.where()}: {path} did not answer JSON: {data[:80]!r}"
            ) from None

    def events(self, resp: HTTPResponse, path: str, cancel: threading.Event) -> Iterator[Any]:
        """The JSON `data:` payloads of a server-sent-events stream until [DONE].

        A stream that stops without [DONE] or a finish_reason was cut off (a server
        that died mid-answer): that is an error, not a short answer."""
        finished = False
        try:
            for raw in resp:
                if cancel.is_set():
                    return
                line = raw.decode("utf-8", "replace").strip()
                if not line or line.startswith(":") or not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except json.JSONDecodeError:
                    raise RemoteError(
                        f"{self.where()}: {path} sent a garbled event: {data[:80]!r}"
                    ) from None
                finished = finished or _finish_reason(event)
                yield event
        except (TimeoutError, OSError, HTTPException) as exc:
            raise RemoteError(f"{self.where()}: {path} broke off: {_reason(exc)}") from None
        if not finished and not cancel.is_set():
            raise RemoteError(f"{self.where()}: {path} broke off before the end of the answer")


def _finish_reason(event: Any) -> bool:
    try:
        return bool(event["choices"][0].get("finish_reason"))
    except (KeyError, IndexError, TypeError, AttributeError):
        return False


def _reason(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({reason.verify_message})"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error ({reason.reason or reason})"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(reason, socket.gaierror):
        return f"unknown host ({reason.strerror})"
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(reason, OSError):
        return reason.strerror or str(reason) or type(reason).__name__
    return str(reason) or type(reason).__name__


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read()[:300].decode("utf-8", "replace")
    except OSError:
        return ""
    try:
        data = json.loads(body)
        message = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(message, dict):
            message = message.get("message", message)
        body = str(message)
    except json.JSONDecodeError:
        pass
    return f": {body.strip()[:200]}" if body.strip() else ""


def probe_alive(client: HttpClient) -> None:
    """A speech server is up when it answers HTTP at all: not all of them list models."""
    try:
        client.get_json("/models", timeout=min(client.timeout, 5.0))
    except RemoteError as exc:
        if "answered HTTP 4" in str(exc) or "did not answer JSON" in str(exc):
            return
        raise
