"""Timers and alarms that survive a restart.

Kept in `<state dir>/timers.json` with their wall-clock due time; at start the
ones still ahead are scheduled again and the ones that came due while the
device was off go off at once.

Each timer has a stable *owner*: `device` (the local conversation, MQTT), a
client id an RTVI client sent (`client:<id>`), or else its session (a name that
no later run reuses). A client sees, cancels and is limited by its own timers
only; a timer whose owner is gone is announced on the device.
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
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.text_limits import clean_text
from rtvi_edge.tools.numbers import say_duration

log = logging.getLogger(__name__)

MAX_TIMERS = 64  # all owners together
MAX_PER_OWNER = 8
MAX_SECONDS = 7 * 24 * 3600
MAX_LABEL = 60
DEVICE_OWNER = "device"


@dataclass(frozen=True)
class Timer:
    id: str
    label: str
    seconds: float
    due: float  # epoch seconds
    owner: str  # "device", "client:<id>" or "session:<id>"
    session_id: str = ""  # the session that set it, this run only

    def remaining(self) -> float:
        return max(0.0, self.due - time.time())


class TimerService:
    def __init__(self, state_dir: Path, bus: ev.EventBus, on_fire: Callable[[Timer], None]) -> None:
        self._path = state_dir / "timers.json"
        self._bus = bus
        self._on_fire = on_fire
        self._timers: dict[str, Timer] = {}
        self._handles: dict[str, asyncio.TimerHandle] = {}
        self._owners: dict[str, str] = {}  # session id → owner

    def bind(self, session_id: str, owner: str) -> None:
        """The owner of what a session does from now on (its client id, or the device)."""
        self._owners[session_id] = owner

    def unbind(self, session_id: str) -> None:
        self._owners.pop(session_id, None)

    def owner_of(self, session_id: str) -> str:
        return self._owners.get(session_id) or f"session:{session_id}"

    def sessions_of(self, owner: str) -> list[str]:
        return [sid for sid, o in self._owners.items() if o == owner]

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
        owner = self.owner_of(session_id)
        if len(self.pending(owner)) >= MAX_PER_OWNER:
            raise ValueError(f"you already have {MAX_PER_OWNER} timers")
        if len(self._timers) >= MAX_TIMERS:
            raise ValueError(f"there are already {MAX_TIMERS} timers")
        label = _clean_label(label) or say_duration(seconds)
        timer = Timer(
            uuid.uuid4().hex[:8], label, seconds, time.time() + seconds, owner, session_id
        )
        self._timers[timer.id] = timer
        self._schedule(timer)
        self._save()
        self._publish(timer, "set")
        return timer

    def cancel(
        self, owner: str, timer_id: str | None = None, label: str | None = None
    ) -> list[Timer]:
        """Cancels the owner's timer by id or label, or all of its timers when neither is given."""
        chosen = [
            t
            for t in self._timers.values()
            if t.owner == owner
            and (timer_id is None or t.id == timer_id)
            and (label is None or label.lower() in t.label.lower())
        ]
        for timer in chosen:
            self._drop(timer.id)
            self._publish(timer, "cancelled")
        if chosen:
            self._save()
        return chosen

    def pending(self, owner: str | None = None) -> list[Timer]:
        """The owner's timers (all of them when None), soonest first."""
        mine = (t for t in self._timers.values() if owner is None or t.owner == owner)
        return sorted(mine, key=lambda t: t.due)

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
            return [_restored(item) for item in raw]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("ignoring unreadable %s: %s", self._path, exc)
            return []

    def _save(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_suffix(".tmp")
            saved = [{**asdict(t), "session_id": ""} for t in self._timers.values()]
            tmp.write_text(json.dumps(saved), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("could not save timers to %s: %s", self._path, exc)


def _restored(item: dict[str, Any]) -> Timer:
    """A saved timer; one saved before owners existed belongs to the device (its session
    name restarted at rtvi-1 and would ring for a stranger)."""
    return Timer(
        id=str(item["id"]),
        label=_clean_label(str(item["label"])) or say_duration(float(item["seconds"])),
        seconds=float(item["seconds"]),
        due=float(item["due"]),
        owner=str(item.get("owner") or DEVICE_OWNER),
    )


def _clean_label(label: str) -> str:
    """A label is spoken: no JSON, markup or control characters, and short."""
    label = clean_text(label)
    label = "".join(c if c.isalnum() or c in " '-" else " " for c in label)
    return " ".join(label.split())[:MAX_LABEL].strip()
