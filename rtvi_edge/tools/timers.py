"""Timers and alarms that survive a restart.

Kept in `<state dir>/timers.json` with their wall-clock due time; at start the
ones still ahead are scheduled again and the ones that came due while the
device was off go off at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rtvi_edge import events as ev
from rtvi_edge.tools.numbers import say_duration

log = logging.getLogger(__name__)

MAX_TIMERS = 32
MAX_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Timer:
    id: str
    label: str
    seconds: float
    due: float  # epoch seconds
    session_id: str

    def remaining(self) -> float:
        return max(0.0, self.due - time.time())


class TimerService:
    def __init__(self, state_dir: Path, bus: ev.EventBus, on_fire: Callable[[Timer], None]) -> None:
        self._path = state_dir / "timers.json"
        self._bus = bus
        self._on_fire = on_fire
        self._timers: dict[str, Timer] = {}
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def start(self) -> None:
        """Schedules the saved timers (call with the event loop running)."""
        for timer in self._load():
            self._timers[timer.id] = timer
            self._schedule(timer)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def add(self, seconds: float, label: str, session_id: str) -> Timer:
        if not 0 < seconds <= MAX_SECONDS:
            raise ValueError(f"a timer must be between 1 second and {MAX_SECONDS // 86400} days")
        if len(self._timers) >= MAX_TIMERS:
            raise ValueError(f"there are already {MAX_TIMERS} timers")
        label = label or say_duration(seconds)
        timer = Timer(uuid.uuid4().hex[:8], label, seconds, time.time() + seconds, session_id)
        self._timers[timer.id] = timer
        self._schedule(timer)
        self._save()
        self._publish(timer, "set")
        return timer

    def cancel(self, timer_id: str | None = None, label: str | None = None) -> list[Timer]:
        """Cancels one timer by id or label, or all of them when neither is given."""
        chosen = [
            t
            for t in self._timers.values()
            if (timer_id is None or t.id == timer_id)
            and (label is None or label.lower() in t.label.lower())
        ]
        for timer in chosen:
            self._drop(timer.id)
            self._publish(timer, "cancelled")
        if chosen:
            self._save()
        return chosen

    def pending(self) -> list[Timer]:
        return sorted(self._timers.values(), key=lambda t: t.due)

    def _schedule(self, timer: Timer) -> None:
        loop = asyncio.get_running_loop()
        self._handles[timer.id] = loop.call_later(timer.remaining(), self._fire, timer.id)

    def _fire(self, timer_id: str) -> None:
        timer = self._timers.get(timer_id)
        if timer is None:
            return
        self._drop(timer_id)
        self._save()
        self._publish(timer, "fired")
        try:
            self._on_fire(timer)
        except Exception:
            log.exception("timer %s: announcing failed", timer.id)

    def _drop(self, timer_id: str) -> None:
        self._timers.pop(timer_id, None)
        handle = self._handles.pop(timer_id, None)
        if handle is not None:
            handle.cancel()

    def _publish(self, timer: Timer, action: str) -> None:
        self._bus.publish(
            ev.TimerEvent(
                session_id=timer.session_id,
                timer_id=timer.id,
                label=timer.label,
                action=action,  # type: ignore[arg-type]
                seconds=timer.seconds,
                due=timer.due,
            )
        )

    def _load(self) -> list[Timer]:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
            return [Timer(**item) for item in raw]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError) as exc:
            log.warning("ignoring unreadable %s: %s", self._path, exc)
            return []

    def _save(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps([asdict(t) for t in self._timers.values()]), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("could not save timers to %s: %s", self._path, exc)
