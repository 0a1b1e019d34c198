"""The builtin tools: clock, timers, volume, stop, calculator, and devices over MQTT."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rtvi_edge.config import ToolsConfig
from rtvi_edge.errors import ConfigError
from rtvi_edge.tools.calculator import calculator_tool
from rtvi_edge.tools.numbers import parse_duration, say_duration
from rtvi_edge.tools.registry import Tool
from rtvi_edge.tools.senses import CLOCK, STOP, TIMER
from rtvi_edge.tools.timers import TimerService
from rtvi_edge.tools.trust import GUEST_REFUSAL


@dataclass
class ToolContext:
    """What the builtin tools may touch, for one conversation."""

    session_id: str
    timers: TimerService | None
    get_volume: Callable[[], float]
    set_volume: Callable[[float], None]
    stop: Callable[[], Awaitable[Any]]
    publish: Callable[[str, str], bool] | None = None  # MQTT, when the bridge runs
    devices: dict[str, str] = field(default_factory=dict)  # name → command topic
    payload_on: str = "ON"
    payload_off: str = "OFF"
    tz: dt.tzinfo | None = None
    muted_volume: list[float] = field(default_factory=list)
    guest: Callable[[], bool] = lambda: False  # an unpaired client's session (tools/trust.py)


def parse_devices(entries: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in entries:
        name, sep, topic = entry.partition("=")
        if not sep or not name.strip() or not topic.strip():
            raise ConfigError([f"[tools] devices: {entry!r} must look like 'name = topic'"])
        out[" ".join(name.lower().split())] = topic.strip()
    return out


def timezone(name: str) -> dt.tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError([f"[tools] timezone = {name!r}: unknown time zone"]) from exc


def _spoken_time(now: dt.datetime) -> str:
    hour = now.hour % 12 or 12
    return f"{hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"


def build_tools(ctx: ToolContext, cfg: ToolsConfig) -> list[Tool]:
    enabled = set(cfg.enabled)
    tools: list[Tool] = []

    async def get_time(args: dict[str, Any]) -> dict[str, Any]:
        now = dt.datetime.now(ctx.tz).astimezone(ctx.tz)
        return {
            "time": _spoken_time(now),
            "date": f"{now:%A, %B} {now.day}, {now.year}",
            "iso": now.isoformat(timespec="seconds"),
        }

    if "time" in enabled:
        tools.append(
            Tool(
                "get_time",
                "Tell the current time or today's date",
                handler=get_time,
                keywords=("time", "clock", "date", "day", "o'clock"),
                examples=("What time is it?", "What's the date?", "What day is it?"),
                reply="It is {time} on {date}.",
                sense=CLOCK,
            )
        )

    if "timers" in enabled and ctx.timers is not None:
        timers = ctx.timers

        async def set_timer(args: dict[str, Any]) -> dict[str, Any]:
            seconds = args.get("seconds")
            if seconds is None:
                seconds = parse_duration(str(args.get("duration", "")))
            if not seconds:
                return {"error": "I did not catch how long the timer should be"}
            seconds = float(seconds)
            timer = timers.add(seconds, str(args.get("label", "")), ctx.session_id)
            return {
                "timer_id": timer.id,
                "label": timer.label,
                "seconds": seconds,
                "spoken": say_duration(seconds),
            }

        async def cancel_timer(args: dict[str, Any]) -> dict[str, Any]:
            label = args.get("label") or None
            cancelled = timers.cancel(timers.owner_of(ctx.session_id), label=label)
            return {"cancelled": len(cancelled)}

        async def list_timers(args: dict[str, Any]) -> dict[str, Any]:
            items = [
                {"label": t.label, "remaining": say_duration(t.remaining())}
                for t in timers.pending(timers.owner_of(ctx.session_id))
            ]
            if not items:
                summary = "You have no timers."
            else:
                summary = "; ".join(f"{i['label']} timer: {i['remaining']} left" for i in items)
            return {"timers": items, "summary": summary}

        tools += [
            Tool(
                "set_timer",
                "Start a countdown timer or alarm for a duration",
                {
                    "type": "object",
                    "properties": {
                        "seconds": {"type": "number", "description": "duration in seconds"},
                        "duration": {"type": "string", "description": "e.g. '5 minutes'"},
                        "label": {"type": "string"},
                    },
                },
                handler=set_timer,
                keywords=("timer", "alarm", "remind", "countdown", "wake", "minutes", "seconds"),
                examples=("Set a timer for ten minutes", "Remind me in an hour"),
                reply="Timer set for {spoken}.",
                sense=TIMER,
                llm_parameters={
                    "type": "object",
                    "properties": {"duration": {"type": "string", "description": "e.g. 5 minutes"}},
                    "required": ["duration"],
                },
            ),
            Tool(
                "cancel_timer",
                "Cancel a running timer",
                {"type": "object", "properties": {"label": {"type": "string"}}},
                handler=cancel_timer,
                keywords=("timer", "alarm", "cancel", "delete", "remove", "clear", "rid"),
                examples=("Cancel the timer", "Delete my alarm", "Stop the timer"),
                reply="Cancelled.",
                sense=TIMER,
            ),
            Tool(
                "list_timers",
                "Say which timers run and how much time is left",
                handler=list_timers,
                keywords=("timer", "timers", "left", "remaining"),
                examples=("How much time is left on my timer?", "What timers are set?"),
                reply="{summary}",
                sense=TIMER,
            ),
        ]

    if "volume" in enabled:

        async def set_volume(args: dict[str, Any]) -> dict[str, Any]:
            level = max(0.0, min(100.0, float(args["level"])))
            ctx.set_volume(level / 100.0)
            return {"volume": round(level)}

        async def change_volume(args: dict[str, Any]) -> dict[str, Any]:
            step = 0.2 if args["direction"] == "up" else -0.2
            ctx.set_volume(max(0.0, min(1.0, ctx.get_volume() + step)))  # by voice: up to 100%
            return {"volume": round(ctx.get_volume() * 100)}

        async def mute_speaker(args: dict[str, Any]) -> dict[str, Any]:
            if args["muted"]:
                if ctx.get_volume() > 0:
                    ctx.muted_volume[:] = [ctx.get_volume()]
                ctx.set_volume(0.0)
            else:
                ctx.set_volume(ctx.muted_volume[0] if ctx.muted_volume else 1.0)
            return {"muted": bool(args["muted"]), "volume": round(ctx.get_volume() * 100)}

        tools += [
            Tool(
                "set_volume",
                "Set the speaker volume in percent",
                {
                    "type": "object",
                    "properties": {"level": {"type": "number"}},
                    "required": ["level"],
                },
                handler=set_volume,
                keywords=("volume", "percent", "level"),
                examples=("Set the volume to 50 percent",),
                reply="Volume {volume} percent.",
            ),
            Tool(
                "change_volume",
                "Make the speaker louder or quieter",
                {
                    "type": "object",
                    "properties": {"direction": {"type": "string", "enum": ["up", "down"]}},
                    "required": ["direction"],
                },
                handler=change_volume,
                keywords=("volume", "louder", "quieter", "softer", "loud", "quiet", "up", "down"),
                examples=("Turn the volume up", "Make it quieter", "Can you speak louder"),
                reply="Volume {volume} percent.",
            ),
            Tool(
                "mute_speaker",
                "Mute or unmute the speaker",
                {
                    "type": "object",
                    "properties": {"muted": {"type": "boolean"}},
                    "required": ["muted"],
                },
                handler=mute_speaker,
                keywords=("mute", "unmute", "silence", "sound"),
                examples=("Mute the speaker", "Unmute yourself", "Sound back on"),
                reply="Volume {volume} percent.",
            ),
        ]

    if "stop" in enabled:

        async def stop(args: dict[str, Any]) -> dict[str, Any]:
            await ctx.stop()
            return {"stopped": True}

        tools.append(
            Tool(
                "stop",
                "Stop talking; never mind",
                handler=stop,
                keywords=("stop", "never", "nevermind", "quiet", "shush", "enough"),
                examples=("Stop", "Stop talking", "Never mind", "Be quiet"),
                reply="",
                sense=STOP,
            )
        )

    if "calculator" in enabled:
        tools.append(calculator_tool())

    if "devices" in enabled and ctx.devices and ctx.publish is not None:
        publish = ctx.publish

        async def control_device(args: dict[str, Any]) -> dict[str, Any]:
            if ctx.guest():  # the home is not a guest's to change
                return {"error": GUEST_REFUSAL}
            name = " ".join(str(args["device"]).lower().split())
            topic = ctx.devices.get(name)
            if topic is None:
                return {"error": f"unknown device {name!r}"}
            payload = ctx.payload_on if args["state"] == "on" else ctx.payload_off
            if not publish(topic, payload):
                return {"error": "the MQTT broker is not connected"}
            return {"device": name, "state": args["state"]}

        tools.append(
            Tool(
                "control_device",
                "Turn a home device on or off",
                {
                    "type": "object",
                    "properties": {
                        "device": {"type": "string", "enum": sorted(ctx.devices)},
                        "state": {"type": "string", "enum": ["on", "off"]},
                    },
                    "required": ["device", "state"],
                },
                handler=control_device,
                keywords=(
                    "turn",
                    "switch",
                    "on",
                    "off",
                    *{w for n in ctx.devices for w in n.split()},
                ),
                examples=tuple(f"Turn on the {n}" for n in sorted(ctx.devices)),
                reply="Turning {state} the {device}.",
            )
        )
    return tools
