"""Whose voice a conversation is: the device's (or a paired client's), or a guest's.

The policy (docs/security.md): a guest — an unpaired LAN client — may converse and
change its own session (its volume, its mute, its timers), never the device or the
home. Its spoken commands reach tools that know this: home devices refuse, and
its timers ring only in its own session. A session's owner name marks a guest
(`guest:` + the name), set by the front end before anything is served.
"""

from __future__ import annotations

GUEST_PREFIX = "guest:"
GUEST_REFUSAL = "only a paired client can control the home's devices"


def owner_name(session_id: str, client_id: str | None, paired: bool) -> str:
    """Who a session is, for its timers and tools. A guest's name says so: it cannot
    take a paired client's timers by claiming its id, and what it sets stays its own."""
    name = f"client:{client_id}" if client_id else f"session:{session_id}"
    return name if paired else GUEST_PREFIX + name


def is_guest_owner(owner: str) -> bool:
    return owner.startswith(GUEST_PREFIX)


class Guests:
    """The sessions of unpaired callers (everything else is the device or paired)."""

    def __init__(self) -> None:
        self._sessions: set[str] = set()

    def bind(self, session_id: str, owner: str | None) -> None:
        if owner is not None and is_guest_owner(owner):
            self._sessions.add(session_id)
        else:
            self._sessions.discard(session_id)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions
