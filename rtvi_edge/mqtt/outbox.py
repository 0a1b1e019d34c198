"""What the bridge still has to publish, kept while the broker is away (sans-I/O).

Retained topics keep only their latest value and all go out again after every
(re)connect, so a broker that lost them (restarted without persistence) gets
them back. Events wait in a bounded queue; when it is full the oldest is
dropped and counted: a broker that is gone never makes the daemon grow.
"""

from __future__ import annotations

from collections import deque

from rtvi_edge.mqtt.payloads import Publish


class Outbox:
    def __init__(self, max_events: int) -> None:
        self.retained: dict[str, Publish] = {}  # topic → latest value, in first-seen order
        self._due: dict[str, Publish] = {}  # retained values not yet handed to the client
        self._events: deque[Publish] = deque()
        self.max_events = max_events
        self.dropped = 0

    def put(self, message: Publish, *, force: bool = False) -> None:
        """Queue a message. A retained value equal to the last one is not sent again
        unless `force` (Home Assistant asking for discovery again)."""
        if message.retain:
            if not force and self.retained.get(message.topic) == message:
                return
            self.retained[message.topic] = message
            self._due[message.topic] = message
            return
        if len(self._events) >= self.max_events:
            self._events.popleft()
            self.dropped += 1
        self._events.append(message)

    def reconnected(self) -> None:
        """Every retained value is due again, in the order first seen."""
        self._due = dict(self.retained)

    def take(self, room: int) -> list[Publish]:
        """The retained values that are due, then up to `room` events (the client's
        window of unacknowledged messages)."""
        out = list(self._due.values())
        self._due.clear()
        while self._events and room > 0:
            out.append(self._events.popleft())
            room -= 1
        return out

    @property
    def pending_events(self) -> int:
        return len(self._events)
