"""Health of the backends of each stage (LAN servers, local engines) and their recovery.

`BackendHealth` is a sans-I/O state machine: a failure marks a backend down
until `retry_at` (exponential backoff, capped); turns skip it meanwhile, so a
dead server costs the user nothing after its first miss. `BackendMonitor`
owns every stage's health, probes the down ones in the background at their
retry times, and reports every change (`BackendEvent`) to whoever listens:
the daemon forwards them onto the event bus, and `/health` reads `snapshot()`.
Engine calls run in worker threads, so everything here is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from rtvi_edge import events as ev

log = logging.getLogger(__name__)

# A down server is probed again after 1, 2, 4, 4, … s: one connection each, and a
# server back on the LAN is in use again within ~4 s however long it was gone.
BACKOFF_FIRST_SECS = 1.0
BACKOFF_MAX_SECS = 4.0

# The conversation a turn belongs to, so a fallback event reaches its own client.
# BotTurn sets it; asyncio tasks and `to_thread` carry it into the engine threads.
current_session: ContextVar[str] = ContextVar("rtvi_edge_turn_session", default="")

Stage = Literal["stt", "llm", "tts"]


class BackendState(enum.Enum):
    UP = "up"
    DOWN = "down"


class Probeable(Protocol):
    def probe(self) -> None:
        """Raises EngineError (naming the config key) when the backend cannot serve."""


@dataclass
class BackendHealth:
    """One backend of one stage."""

    stage: Stage
    name: str  # "openai", "wyoming", "llama", ...
    remote: bool
    state: BackendState = BackendState.UP
    failures: int = 0  # in a row
    retry_at: float = 0.0
    last_error: str = ""
    served: int = 0
    skipped: int = 0

    def usable(self, now: float) -> bool:
        return self.state is BackendState.UP

    def failed(self, now: float, reason: str) -> bool:
        """Returns True when this changed its state (up → down)."""
        self.failures += 1
        self.skipped += 1
        self.last_error = reason
        backoff = min(BACKOFF_MAX_SECS, BACKOFF_FIRST_SECS * 2 ** (self.failures - 1))
        self.retry_at = now + backoff
        was_up = self.state is BackendState.UP
        self.state = BackendState.DOWN
        return was_up

    def succeeded(self) -> bool:
        """Returns True when this changed its state (down → up)."""
        self.served += 1
        was_down = self.state is BackendState.DOWN
        self.state = BackendState.UP
        self.failures = 0
        self.last_error = ""
        return was_down

    def describe(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": self.name,
            "state": self.state.value,
            "served": self.served,
            "skipped": self.skipped,
        }
        if self.state is BackendState.DOWN:
            out["retry_in_secs"] = round(max(0.0, self.retry_at - now), 1)
            out["error"] = self.last_error
        return out


@dataclass
class _Entry:
    health: BackendHealth
    engine: Probeable | None  # None: a local engine, never probed


@dataclass
class BackendMonitor:
    """Every stage's backends; probes the down ones with backoff in the background."""

    listener: Callable[[ev.BackendEvent], None] | None = None
    _entries: dict[tuple[str, str], _Entry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)

    def register(self, stage: Stage, name: str, engine: Any, remote: bool) -> BackendHealth:
        # A rebuilt engine (new URL, new model) starts with a clean slate.
        entry = _Entry(
            BackendHealth(stage, name, remote),
            engine if remote and hasattr(engine, "probe") else None,
        )
        with self._lock:
            self._entries[(stage, name)] = entry
        return entry.health

    def unregister_stage(self, stage: Stage, keep: set[str]) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == stage and k[1] not in keep]:
                del self._entries[key]

    # -- reports from the failover engines (worker threads) ----------------------
    def failed(self, health: BackendHealth, reason: str, kind: str, fallback: str) -> None:
        with self._lock:
            went_down = health.failed(time.monotonic(), reason)
        log.warning(
            "%s backend %s %s: %s; %s",
            health.stage,
            health.name,
            kind,
            reason,
            f"answering with {fallback}" if fallback else "no fallback left",
        )
        self._emit(health, kind, reason, fallback)
        if went_down:
            self._wake.set()

    def succeeded(self, health: BackendHealth) -> None:
        with self._lock:
            came_back = health.succeeded()
        if came_back:
            log.info("%s backend %s is back", health.stage, health.name)
            self._emit(health, "recovered", "", "")

    def _emit(self, health: BackendHealth, kind: str, reason: str, fallback: str) -> None:
        if self.listener is None:
            return
        event = ev.BackendEvent(
            session_id=current_session.get(),
            stage=health.stage,
            backend=health.name,
            kind=kind,  # type: ignore[arg-type]
            reason=reason,
            fallback=fallback,
        )
        with contextlib.suppress(RuntimeError):  # the loop is closing: nobody left to tell
            self.listener(event)

    # -- /health -------------------------------------------------------------------
    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        now = time.monotonic()
        out: dict[str, list[dict[str, Any]]] = {}
        with self._lock:
            for (stage, _name), entry in self._entries.items():
                out.setdefault(stage, []).append(entry.health.describe(now))
        return out

    # -- background recovery -----------------------------------------------------------
    def due(self, now: float) -> list[_Entry]:
        with self._lock:
            return [
                e
                for e in self._entries.values()
                if e.engine is not None
                and e.health.state is BackendState.DOWN
                and e.health.retry_at <= now
            ]

    def probe_once(self) -> None:
        """Probe every down backend whose retry time has come (blocking)."""
        from rtvi_edge.errors import RtviEdgeError

        for entry in self.due(time.monotonic()):
            assert entry.engine is not None
            try:
                entry.engine.probe()
            except (RtviEdgeError, OSError) as exc:
                with self._lock:
                    entry.health.failed(time.monotonic(), str(exc))
                    entry.health.skipped -= 1  # a probe is not a skipped turn
                log.debug("%s %s still down: %s", entry.health.stage, entry.health.name, exc)
                continue
            with self._lock:
                entry.health.served -= 1  # a probe is not a served turn
            self.succeeded(entry.health)

    def next_retry_in(self, now: float) -> float:
        with self._lock:
            waits = [
                e.health.retry_at - now
                for e in self._entries.values()
                if e.engine is not None and e.health.state is BackendState.DOWN
            ]
        return max(0.05, min(waits)) if waits else BACKOFF_MAX_SECS

    def check_all(self) -> None:
        """One probe of every LAN server (at start): a wrong URL, model or key is
        reported at once, naming its config key, instead of at the first turn."""
        from rtvi_edge.errors import RtviEdgeError

        with self._lock:
            entries = [e for e in self._entries.values() if e.engine is not None]
        for entry in entries:
            assert entry.engine is not None
            try:
                entry.engine.probe()
            except (RtviEdgeError, OSError) as exc:
                log.error(
                    "%s backend %s cannot serve: %s", entry.health.stage, entry.health.name, exc
                )
                with self._lock:
                    entry.health.failed(time.monotonic(), str(exc))
                self._emit(entry.health, "error", str(exc), "")
                continue

    async def run(self) -> None:
        """Owned by the daemon: checks the servers once, then probes the down ones
        at their retry times."""
        await asyncio.to_thread(self.check_all)
        while True:
            self._wake.clear()
            await asyncio.to_thread(self.probe_once)
            deadline = time.monotonic() + self.next_retry_in(time.monotonic())
            # Polled, not a blocking wait in a thread: shutdown must not wait for it.
            while not self._wake.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
