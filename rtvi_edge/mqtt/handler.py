"""Runs checked commands against the device and reports how each went."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rtvi_edge.errors import RtviEdgeError
from rtvi_edge.mqtt import commands as cmd
from rtvi_edge.mqtt import payloads as p
from rtvi_edge.mqtt.control import DeviceControl
from rtvi_edge.mqtt.topics import CommandKind, Topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """Where the answer to a command goes: an MQTT 5 response topic (with its
    correlation data), or `<base>/action/response` for actions."""

    topic: str
    correlation: bytes | None = None


class CommandHandler:
    def __init__(
        self,
        control: DeviceControl,
        topics: Topics,
        send: Callable[[p.Publish], None],
        answer: Callable[[Reply, dict[str, Any]], None],
    ) -> None:
        self.control = control
        self.topics = topics
        self._send = send  # queued like any message
        self._answer = answer  # sent now or never: only the waiting asker wants it
        self._config_lock = asyncio.Lock()

    def device_state(self) -> list[p.Publish]:
        """The retained snapshot of the device: config, state, mute and volume."""
        c, t = self.control, self.topics
        return [p.config(t, c.get_config()), p.state(t, c.state()), *self.mute_volume()]

    def mute_volume(self) -> list[p.Publish]:
        c, t = self.control, self.topics
        return [p.mute(t, c.muted()), p.volume(t, c.volume())]

    async def run(
        self, kind: CommandKind, topic: str, command: cmd.Command, reply: Reply | None
    ) -> None:
        req_id = command.id if isinstance(command, cmd.RunAction) else None
        try:
            body = await self._apply(command)
        except (RtviEdgeError, ValueError) as exc:
            self.refuse(kind, topic, str(exc), reply, req_id)
            return
        except Exception as exc:  # a bug behind the control must not end the bridge
            log.exception("MQTT: %s failed", topic)
            self.refuse(kind, topic, f"{kind}: internal error: {exc}", reply, req_id)
            return
        if reply is not None:
            self._answer(reply, body)

    def refuse(
        self, kind: CommandKind, topic: str, error: str, reply: Reply | None, req_id: Any = None
    ) -> None:
        """Nothing was applied: an error event, and an answer if the asker waits for one."""
        log.info("MQTT: %s refused: %s", topic, error)
        extra: dict[str, Any] = {"topic": topic, "command": kind}
        if kind == "action":
            extra["id"] = req_id
        self._send(p.error(self.topics, error, **extra))
        if reply is not None:
            body = {"id": req_id, "error": error} if kind == "action" else {"error": error}
            self._answer(reply, body)

    async def _apply(self, command: cmd.Command) -> dict[str, Any]:
        c = self.control
        body: dict[str, Any] = {"ok": True}
        match command:
            case cmd.SetConfig(config=items, interrupt=interrupt):
                async with self._config_lock:  # each update all-or-nothing, one at a time
                    new = await c.update_config(items, interrupt)
                self._send(p.config(self.topics, new))
                body = {"config": new}
            case cmd.RunAction(service=service, action=action, arguments=args, id=req_id):
                body = {"id": req_id, "result": await c.run_action(service, action, args)}
            case cmd.Say(text=text):
                await c.say(text)
            case cmd.Ask(text=text):
                body = {"answer": await c.ask(text)}
            case cmd.SetMute(muted=muted):
                c.set_muted(muted)
            case cmd.SetVolume(volume=volume):
                c.set_volume(volume)
            case cmd.Stop():
                await c.stop()
            case cmd.Listen():
                await c.run_action("audio", "listen", [])
        for message in self.mute_volume():  # any command may have changed them
            self._send(message)
        return body
