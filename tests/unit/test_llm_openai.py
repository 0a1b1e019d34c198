"""The OpenAI-API client against a scripted loopback HTTP server: which tool route
it falls back to, and errors that name the key."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from rtvi_edge.engines.base import GenerationParams, GenerationStats
from rtvi_edge.engines.llm_openai import OpenAiLlm, estimate_tokens
from rtvi_edge.engines.remote_http import RemoteError


class Scripted(http.server.BaseHTTPRequestHandler):
    refuse: ClassVar[set[str]] = set()  # "tools", "grammar"
    bodies: ClassVar[list[dict[str, Any]]] = []
    key: ClassVar[str] = ""

    def _send(self, status: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"data": [{"id": "m1"}, {"id": "m2"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.bodies.append(body)
        if self.key and self.headers.get("Authorization") != f"Bearer {self.key}":
            return self._send(401, {"error": {"message": "invalid api key"}})
        if "tools" in body and "tools" in self.refuse:
            return self._send(400, {"error": {"message": "tools are not supported"}})
        if "grammar" in body and "grammar" in self.refuse:
            return self._send(400, {"error": {"message": "unknown field grammar"}})
        if body.get("stream"):
            events = [
                {"choices": [{"delta": {"content": "Hi"}, "finish_reason": None}]},
                {"choices": [{"delta": {"content": " there"}, "finish_reason": "stop"}]},
            ]
            sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            return self._send(200, sse.encode(), "text/event-stream")
        if "tools" in body:
            args = json.dumps({"name": "set_timer"})
            call = {"type": "function", "function": {"name": "x", "arguments": args}}
            return self._send(200, {"choices": [{"message": {"tool_calls": [call]}}]})
        return self._send(200, {"choices": [{"message": {"content": "set_timer"}}]})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Scripted.refuse, Scripted.bodies, Scripted.key = set(), [], ""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


OPTIONS = ["set_timer", "get_time", "none"]
ASK = [{"role": "user", "content": "timer"}]


def test_streams_and_learns_the_default_model(server: str) -> None:
    llm = OpenAiLlm(server, "")
    stats = GenerationStats()
    text = "".join(llm.stream_chat(ASK, GenerationParams(), threading.Event(), stats))
    assert text == "Hi there" and stats.completion_tokens == 2
    assert llm.model_name == "openai:m1" and Scripted.bodies[0]["model"] == "m1"
    # No tokenize route on this server: the cautious estimate stays.
    assert llm.count_tokens("timer") == estimate_tokens("timer")


def test_tools_native_then_grammar_then_plain(server: str) -> None:
    llm = OpenAiLlm(server, "m1")
    assert llm.choose(ASK, OPTIONS) == "set_timer" and llm._native_tools is True
    Scripted.refuse = {"tools"}
    llm = OpenAiLlm(server, "m1")
    assert llm.choose(ASK, OPTIONS) == "set_timer"
    assert llm._native_tools is False and llm._grammar is True
    assert "grammar" in Scripted.bodies[-1]
    Scripted.refuse = {"tools", "grammar"}
    llm = OpenAiLlm(server, "m1")
    assert llm.choose(ASK, OPTIONS) == "set_timer" and llm._grammar is False
    assert "grammar" not in Scripted.bodies[-1] and "tools" not in Scripted.bodies[-1]


def test_errors_name_the_key(server: str) -> None:
    with pytest.raises(RemoteError, match=r"\[llm\] remote_model = 'gpt-9'.*\(it has m1, m2\)"):
        OpenAiLlm(server, "gpt-9").probe()
    Scripted.key = "secret"
    with pytest.raises(RemoteError, match=r"\[llm\] api_key: .* refused it \(HTTP 401"):
        list(
            OpenAiLlm(server, "m1", api_key="wrong").stream_chat(
                ASK, GenerationParams(), threading.Event(), GenerationStats()
            )
        )
    assert "Hi" in "".join(
        OpenAiLlm(server, "m1", api_key="secret").stream_chat(
            ASK, GenerationParams(), threading.Event(), GenerationStats()
        )
    )


def test_per_device_concurrency_limit(server: str) -> None:
    llm = OpenAiLlm(server, "m1", timeout=0.3, concurrency=1)
    first = llm.stream_chat(ASK, GenerationParams(), threading.Event(), GenerationStats())
    assert next(first) == "Hi"  # holds this device's one slot on the server
    second = llm.stream_chat(ASK, GenerationParams(), threading.Event(), GenerationStats())
    with pytest.raises(RemoteError, match=r"\[llm\] server_concurrency = 1: .* still running"):
        next(second)
    first.close()  # the slot is free again
    again = llm.stream_chat(ASK, GenerationParams(), threading.Event(), GenerationStats())
    assert "".join(again) == "Hi there"
