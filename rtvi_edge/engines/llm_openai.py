"""A language model on a LAN server that speaks the OpenAI chat API (llama.cpp's
server, llama-cpp-python's, Ollama, vLLM, LocalAI).

Answers stream as server-sent events. Tool calls go through the same router as
the local model: the router picks a tool with `choose`, the arguments come from
`json_arguments`, both sent natively as a forced function call (`tools` +
`tool_choice`); a server that refuses that gets a GBNF `grammar` (llama.cpp's
servers), and one that refuses both a plain answer matched against the options.
Context trimming uses the server's own token counts (`/tokenize`, learnt after
each answer) and a cautious estimate for text it has not counted yet, so the
event loop never waits on the network.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from rtvi_edge.engines.base import GenerationParams, GenerationStats
from rtvi_edge.engines.remote_http import HttpClient, RemoteError

log = logging.getLogger(__name__)

TOKEN_CACHE_SIZE = 512


def estimate_tokens(text: str) -> int:
    """Errs high (about 3 characters a token), so the trimmed context still fits."""
    return len(text) // 3 + 1


class OpenAiLlm:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout: float = 30.0,
        concurrency: int = 2,
    ) -> None:
        self._http = HttpClient("llm", base_url, api_key, timeout)
        parts = urllib.parse.urlsplit(self._http.base_url)
        root_path = parts.path[: -len("/v1")] if parts.path.endswith("/v1") else parts.path
        root = urllib.parse.urlunsplit((parts.scheme, parts.netloc, root_path, "", ""))
        self._root = HttpClient("llm", root, api_key, timeout)
        self._wanted_model = model
        self._model = model
        self.model_name = f"openai:{model or '?'}"
        self.timeout = timeout
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._counts_lock = threading.Lock()
        self._tokenize: str | None = "?"  # the server's tokenize route, None = it has none
        self._native_tools: bool | None = None  # None: not tried yet
        self._grammar: bool | None = None

    # -- health ----------------------------------------------------------------------
    def probe(self) -> None:
        """Checks the server answers and has the model; learns its default model."""
        listing = self._http.get_json("/models", timeout=min(self.timeout, 5.0))
        data = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(data, list):
            raise RemoteError(
                f"{self._http.where()}: /models answered something else than a model list"
            )
        ids = [str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id")]
        if self._wanted_model and ids and self._wanted_model not in ids:
            raise RemoteError(
                f"[llm] remote_model = {self._wanted_model!r}: the server at "
                f"{self._http.base_url} has no such model (it has {', '.join(ids[:8])})"
            )
        if not self._wanted_model:
            if not ids:
                raise RemoteError(f"{self._http.where()}: the server lists no model")
            self._model = ids[0]
            self.model_name = f"openai:{ids[0]}"

    def _ensure_model(self) -> str:
        if not self._model:
            self.probe()
        return self._model

    # -- tokens ----------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        with self._counts_lock:
            known = self._counts.get(text)
        return known if known is not None else estimate_tokens(text)

    def learn_token_counts(self, texts: list[str]) -> None:
        """Asks the server to count what it has not counted yet (best effort)."""
        for text in texts:
            with self._counts_lock:
                if text in self._counts or self._tokenize is None:
                    continue
            n = self._server_count(text)
            if n is None:
                return
            with self._counts_lock:
                self._counts[text] = n
                while len(self._counts) > TOKEN_CACHE_SIZE:
                    self._counts.popitem(last=False)

    def _server_count(self, text: str) -> int | None:
        # llama-cpp-python: /extras/tokenize/count; llama.cpp's server: /tokenize.
        routes = [self._tokenize] if self._tokenize not in (None, "?") else []
        routes = routes or ["/extras/tokenize/count", "/tokenize"]
        for route in routes:
            assert route is not None
            body = {"input": text} if route.startswith("/extras") else {"content": text}
            try:
                reply = self._root.post_json(route, body, timeout=5.0)
            except RemoteError:
                continue
            n = _count_from(reply)
            if n is not None:
                self._tokenize = route
                return n
        if self._tokenize == "?":
            log.info("%s has no tokenize route: estimating tokens", self._http.base_url)
            self._tokenize = None
        return None

    # -- answers ---------------------------------------------------------------------------
    def _payload(self, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {"model": self._ensure_model(), "messages": messages, **extra}

    def _slot(self) -> None:
        if not self._slots.acquire(timeout=self.timeout):
            raise RemoteError(
                f"[llm] server_concurrency = {self.concurrency}: this device's requests to "
                f"{self._http.base_url} are all still running"
            )

    def stream_chat(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        cancel: threading.Event,
        stats: GenerationStats,
    ) -> Iterator[str]:
        self._slot()
        try:
            payload = self._payload(
                messages,
                stream=True,
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
            )
            resp = self._http.open("/chat/completions", json.dumps(payload).encode())
            with resp:
                for event in self._http.events(resp, "/chat/completions", cancel):
                    piece = _delta_text(event, self._http.where())
                    usage = event.get("usage") if isinstance(event, dict) else None
                    if isinstance(usage, dict):
                        stats.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                    if piece:
                        stats.completion_tokens += 1
                        yield piece
                    if cancel.is_set():
                        return
        finally:
            self._slots.release()
        if not cancel.is_set():
            self.learn_token_counts([str(m.get("content") or "") for m in messages])

    def _complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        self._slot()
        try:
            reply = self._http.post_json("/chat/completions", payload)
        finally:
            self._slots.release()
        message = _first_message(reply)
        if message is None:
            raise RemoteError(f"{self._http.where()}: the answer has no choices[0].message")
        return message

    # -- tools (ConstrainedModel) ---------------------------------------------------------------
    def choose(self, messages: list[dict[str, Any]], options: list[str]) -> str:
        schema = {
            "type": "object",
            "properties": {"name": {"type": "string", "enum": options}},
            "required": ["name"],
        }
        grammar = "root ::= " + " | ".join(json.dumps(o) for o in options)
        try:
            value = self._structured(messages, schema, "choose_function", grammar, 24)
        except RemoteError:
            raise
        except ValueError:
            return options[-1]
        picked = value.get("name") if isinstance(value, dict) else value
        return str(picked) if picked in options else options[-1]

    def json_arguments(self, messages: list[dict[str, Any]], schema: dict[str, Any]) -> Any:
        try:
            return self._structured(messages, schema, "arguments", None, 160)
        except ValueError as exc:
            raise RemoteError(f"the server's arguments were not valid JSON: {exc}") from None

    def _structured(
        self,
        messages: list[dict[str, Any]],
        schema: dict[str, Any],
        fn_name: str,
        grammar: str | None,
        max_tokens: int,
    ) -> Any:
        """A value shaped by `schema`: native forced function call, else grammar/JSON text."""
        if self._native_tools is not False:
            tool = {"type": "function", "function": {"name": fn_name, "parameters": schema}}
            payload = self._payload(
                messages,
                tools=[tool],
                tool_choice={"type": "function", "function": {"name": fn_name}},
                max_tokens=max_tokens,
                temperature=0.0,
            )
            try:
                calls = self._complete(payload).get("tool_calls") or []
                if calls and isinstance(calls[0], dict):
                    self._native_tools = True
                    args = calls[0].get("function", {}).get("arguments", "{}")
                    return json.loads(args) if isinstance(args, str) else args
                if self._native_tools is None:
                    log.info("%s ignores forced tool calls: using grammar", self._http.base_url)
                self._native_tools = False
            except RemoteError as exc:
                if self._native_tools or "HTTP 4" not in str(exc):
                    raise  # a down server, not a refusal of tools
                log.info("%s refuses tools (%s): using grammar", self._http.base_url, exc)
                self._native_tools = False
        extra: dict[str, Any] = {"max_tokens": max_tokens, "temperature": 0.0}
        constrained = dict(extra)
        if grammar is not None:
            constrained["grammar"] = grammar
        else:
            constrained["response_format"] = {"type": "json_object", "schema": schema}
        message: dict[str, Any] | None = None
        if self._grammar is not False:
            try:
                message = self._complete(self._payload(messages, **constrained))
                self._grammar = True
            except RemoteError as exc:
                if self._grammar or "HTTP 4" not in str(exc):
                    raise
                log.info("%s refuses grammars (%s): plain text", self._http.base_url, exc)
                self._grammar = False
        if message is None:  # neither tools nor grammars: the answer's text, checked
            message = self._complete(self._payload(messages, **extra))
        text = str(message.get("content") or "").strip()
        if grammar is not None and text and not text.startswith(("{", '"')):
            return text  # a bare option from the grammar
        return json.loads(text)


def _count_from(reply: Any) -> int | None:
    if not isinstance(reply, dict):
        return None
    if isinstance(reply.get("count"), int):
        return int(reply["count"])
    tokens = reply.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None


def _first_message(reply: Any) -> dict[str, Any] | None:
    try:
        message = reply["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return None
    return message if isinstance(message, dict) else None


def _delta_text(event: Any, where: str) -> str:
    if not isinstance(event, dict):
        raise RemoteError(f"{where}: a stream event is not an object: {str(event)[:80]!r}")
    if "error" in event:
        raise RemoteError(f"{where}: the server failed mid-answer: {event['error']}")
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise RemoteError(f"{where}: a stream event has no choices: {str(event)[:80]!r}")
    if not choices:
        return ""  # the usage-only last event
    delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return str(content) if content else ""
