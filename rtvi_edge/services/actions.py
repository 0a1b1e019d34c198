"""RTVI actions: `service:action` with typed arguments, run against one conversation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rtvi_edge.errors import ServiceConfigError
from rtvi_edge.pipeline.context import validate_messages
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.services.value_types import TypeName, type_ok


@dataclass(frozen=True)
class ArgSpec:
    name: str
    type: TypeName
    required: bool = True
    default: Any = None


Handler = Callable[["ActionContext", dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class ActionSpec:
    service: str
    action: str
    arguments: tuple[ArgSpec, ...]
    result: TypeName
    description: str
    handler: Handler

    def describe(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "action": self.action,
            "arguments": [
                {"name": a.name, "type": a.type, "required": a.required} for a in self.arguments
            ],
            "result": self.result,
            "description": self.description,
        }


@dataclass
class ActionContext:
    conversation: Conversation
    disconnect: Callable[[], Awaitable[None]] | None = None


async def _say(ctx: ActionContext, args: dict[str, Any]) -> Any:
    if not args["text"].strip():
        raise ServiceConfigError("tts:say: text is empty")
    await ctx.conversation.say(args["text"])
    return True


async def _interrupt(ctx: ActionContext, args: dict[str, Any]) -> Any:
    return await ctx.conversation.interrupt()


async def _append(ctx: ActionContext, args: dict[str, Any]) -> Any:
    conv = ctx.conversation
    conv.append_messages(validate_messages(args["messages"]))
    if args["run_immediately"]:
        await conv.run_llm()
    return True


async def _get_context(ctx: ActionContext, args: dict[str, Any]) -> Any:
    return {"messages": ctx.conversation.context.messages()}


async def _set_context(ctx: ActionContext, args: dict[str, Any]) -> Any:
    conv = ctx.conversation
    messages = validate_messages(args["messages"])
    await conv.interrupt()
    conv.set_messages(messages)
    if args["run_immediately"]:
        await conv.run_llm()
    return True


async def _run(ctx: ActionContext, args: dict[str, Any]) -> Any:
    await ctx.conversation.run_llm(speak=args["audio_response"])
    return True


async def _reset(ctx: ActionContext, args: dict[str, Any]) -> Any:
    await ctx.conversation.interrupt()
    ctx.conversation.reset_context()
    return True


async def _listen(ctx: ActionContext, args: dict[str, Any]) -> Any:
    if ctx.conversation.listens_always:
        raise ServiceConfigError("audio:listen: this conversation always listens ([wake] mode)")
    ctx.conversation.wake("push")
    return True


async def _disconnect(ctx: ActionContext, args: dict[str, Any]) -> Any:
    if ctx.disconnect is None:
        raise ServiceConfigError("bot:disconnect: this session cannot be disconnected")
    await ctx.disconnect()
    return True


_MESSAGES = ArgSpec("messages", "array")
_RUN = ArgSpec("run_immediately", "bool", required=False, default=False)

ACTIONS: list[ActionSpec] = [
    ActionSpec(
        "tts",
        "say",
        (ArgSpec("text", "string"),),
        "bool",
        "speak the text now (interrupts the bot)",
        _say,
    ),
    ActionSpec("tts", "interrupt", (), "bool", "stop speaking and thinking now", _interrupt),
    ActionSpec(
        "llm",
        "append_to_messages",
        (_MESSAGES, _RUN),
        "bool",
        "append messages to the context, optionally answer",
        _append,
    ),
    ActionSpec("llm", "get_context", (), "object", "the context's messages", _get_context),
    ActionSpec(
        "llm",
        "set_context",
        (_MESSAGES, _RUN),
        "bool",
        "replace the context (a leading system message becomes the prompt)",
        _set_context,
    ),
    ActionSpec(
        "llm",
        "run",
        (ArgSpec("audio_response", "bool", False, True),),
        "bool",
        "answer from the current context",
        _run,
    ),
    ActionSpec("llm", "reset", (), "bool", "forget the conversation (keep the prompt)", _reset),
    ActionSpec("audio", "listen", (), "bool", "push-to-talk: start listening now", _listen),
    ActionSpec("bot", "disconnect", (), "bool", "end this session", _disconnect),
]
BY_NAME: dict[tuple[str, str], ActionSpec] = {(a.service, a.action): a for a in ACTIONS}


def describe_actions() -> list[dict[str, Any]]:
    return [a.describe() for a in ACTIONS]


def parse_arguments(spec: ActionSpec, arguments: Any) -> dict[str, Any]:
    """RTVI arguments: a list of {name, value} (a plain object is accepted too)."""
    label = f"{spec.service}:{spec.action}"
    if arguments is None:
        arguments = []
    if isinstance(arguments, dict):
        arguments = [{"name": k, "value": v} for k, v in arguments.items()]
    if not isinstance(arguments, list):
        raise ServiceConfigError(f"{label}: arguments must be a list of {{name, value}}")
    given: dict[str, Any] = {}
    known = {a.name: a for a in spec.arguments}
    for i, arg in enumerate(arguments):
        if not isinstance(arg, dict) or "name" not in arg or "value" not in arg:
            raise ServiceConfigError(f"{label}: arguments[{i}] must be an object with name, value")
        name = arg["name"]
        if name not in known:
            names = ", ".join(known) or "none"
            raise ServiceConfigError(f"{label}: unknown argument {name!r} (known: {names})")
        if not type_ok(known[name].type, arg["value"]):
            raise ServiceConfigError(
                f"{label}: argument {name!r} = {arg['value']!r} must be of type {known[name].type}"
            )
        given[name] = arg["value"]
    for a in spec.arguments:
        if a.name not in given:
            if a.required:
                raise ServiceConfigError(f"{label}: missing argument {a.name!r} ({a.type})")
            given[a.name] = a.default
    return given


def find_action(service: Any, action: Any) -> ActionSpec:
    spec = BY_NAME.get((service, action)) if isinstance(service, str) else None
    if spec is None:
        known = ", ".join(f"{a.service}:{a.action}" for a in ACTIONS)
        raise ServiceConfigError(f"unknown action {service}:{action} (known: {known})")
    return spec


async def run_action(ctx: ActionContext, service: Any, action: Any, arguments: Any) -> Any:
    spec = find_action(service, action)
    return await spec.handler(ctx, parse_arguments(spec, arguments))
