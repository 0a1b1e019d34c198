"""RTVI conformance with the real client libraries: @pipecat-ai/client-js (the version
tests/client pins) under Node, and client-react's conversation state (usePipecatConversation,
mounted with react-test-renderer on the same client) — against the real daemon.

One daemon for the module; each test is one or two client runs. Older clients are the same
library declaring an older protocol in client-ready (`protocolVersion`): client-js keeps its
1.x/0.x code paths for function calls, and client-react picks its conversation path from the
version bot-ready answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bench.tools_eval import WEATHER_FUNCTION
from rtvi_edge import events as ev
from rtvi_edge.daemon import Daemon
from rtvi_edge.rtvi.messages import PROTOCOL_VERSION
from tests.integration.daemon_harness import running_daemon
from tests.integration.rtvi_client import ClientRun, run_client

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SUNNY = {"temperature_celsius": 21, "conditions": "sunny"}
WEATHER_QUESTION = "What's the weather like in Paris?"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def daemon(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Daemon]:
    async with running_daemon(tmp_path_factory.mktemp("conformance")) as d:
        yield d


def plan(daemon: Daemon, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws", "steps": steps, **extra}


def wait(mtype: str, timeout_ms: int = 30000, **where: Any) -> dict[str, Any]:
    return {"do": "wait", "type": mtype, "timeoutMs": timeout_ms, "where": where}


def weather_turn(delay_ms: int = 0) -> list[dict[str, Any]]:
    """A client function the LLM calls for the weather, answered by the client's handler."""
    tools = {
        "config": [{"service": "llm", "options": [{"name": "tools", "value": [WEATHER_FUNCTION]}]}]
    }
    return [
        {"do": "registerFunction", "name": "get_weather", "result": SUNNY, "delayMs": delay_ms},
        {"do": "request", "t": "update-config", "d": tools},
        {"do": "sendText", "text": WEATHER_QUESTION},
    ]


def types(run: ClientRun) -> list[str]:
    return [e["type"] for e in run.of("message")]


def assert_no_errors(run: ClientRun) -> None:
    assert run.ok, run.failure()
    assert not run.messages("error-response"), run.messages("error-response")
    assert not run.of("messageError") and not run.of("error"), run.failure()


def assert_one_handler_call(run: ClientRun) -> None:
    called = run.of("functionHandlerCalled")
    assert len(called) == 1, called
    assert "paris" in json.dumps(called[0]["params"]).lower()
    stopped = [m["data"] for m in run.messages("llm-function-call-stopped")]
    assert len(stopped) == 1 and stopped[0]["result"] == SUNNY and not stopped[0]["cancelled"]


def spoken_sentences(run: ClientRun) -> list[str]:
    return [e["data"]["text"] for e in run.messages("bot-output") if e["data"]["spoken"]]


def conversation_bot_parts(run: ClientRun) -> list[dict[str, str]]:
    """The assistant text parts of client-react's final conversation state."""
    final = run.of("conversation")[-1]["data"]
    return [p["text"] for msg in final if msg["role"] == "assistant" for p in msg["parts"]]


async def test_v2_client_function_once_each_sentence_once_and_app_messages(
    daemon: Daemon,
) -> None:
    inputs = daemon.bus.subscribe()
    hooked: list[ev.ClientInput] = []

    async def hook(event: ev.ClientInput) -> Any:
        hooked.append(event)
        return {"echo": event.data} if event.name == "echo" else None

    daemon.on_client_input = hook
    try:
        run = await run_client(
            plan(
                daemon,
                [
                    {"do": "connect"},
                    *weather_turn(),
                    wait("llm-function-call-stopped"),
                    wait("bot-stopped-speaking", 90000),
                    {"do": "call", "method": "sendDTMF", "args": ["12#"]},
                    {"do": "call", "method": "sendUIEvent", "args": ["clicked", {"ref": "e3"}]},
                    {"do": "call", "method": "cancelUIJobGroup", "args": ["job-1", "user"]},
                    {"do": "raw", "type": "ui-snapshot", "data": {"tree": {}}, "noReply": True},
                    {"do": "message", "t": "my-app-event", "d": {"x": 1}},
                    {"do": "request", "t": "echo", "d": {"x": 2}},
                    {
                        "do": "call",
                        "method": "appendToContext",
                        "args": [
                            {
                                "role": "user",
                                "content": [{"type": "text", "text": "I like tea."}],
                                "run_immediately": False,
                            }
                        ],
                    },
                    {"do": "sleep", "ms": 1500},
                    {
                        "do": "request",
                        "t": "action",
                        "d": {"service": "llm", "action": "get_context"},
                    },
                ],
                conversation=True,
            ),
            timeout=150,
        )
        seen: list[ev.Event] = []
        while not inputs.queue.empty():
            seen.append(inputs.queue.get_nowait())
    finally:
        inputs.close()
        daemon.on_client_input = None
    assert_no_errors(run)
    assert run.first("botReady")["data"]["version"] == PROTOCOL_VERSION
    assert_one_handler_call(run)
    assert "llm-function-call" not in types(run)  # the deprecated one: not for 2.x

    # bot-output 2.x: per segment one "new", then progress, ending "completed"
    statuses: dict[int, list[str]] = {}
    texts: dict[int, str] = {}
    for e in run.messages("bot-output"):
        d = e["data"]
        statuses.setdefault(d["segment_id"], []).append(d["spoken_status"])
        texts[d["segment_id"]] = d["text"]
        assert d["will_be_spoken"] is True and "spoken_progress" in d
    assert statuses, "bot-output was sent"
    assert any("in-progress" in seq for seq in statuses.values()), statuses
    for seg, seq in statuses.items():
        assert seq[0] == "new" and seq[-1] == "completed", (seg, seq)
        assert set(seq[1:-1]) <= {"in-progress"}, (seg, seq)
    assert "bot-transcription" not in types(run)

    # client-react's conversation: every sentence once, all of it spoken
    parts = conversation_bot_parts(run)
    assert [p["spoken"].strip() for p in parts] == [texts[s] for s in sorted(texts)], parts
    assert all(p["unspoken"] == "" for p in parts), parts

    # dtmf, ui-* and app messages reached the application side, quietly
    got = {(e.kind, e.name) for e in seen if isinstance(e, ev.ClientInput)}
    assert got >= {
        ("dtmf", "12#"),
        ("ui-event", "clicked"),
        ("ui-cancel-job-group", "job-1"),
        ("ui-snapshot", ""),
        ("client-message", "my-app-event"),
    }, got
    assert {(e.kind, e.name) for e in hooked} == got  # the application's hook saw each
    requests = [s for s in run.steps() if s["do"] == "request"]
    assert requests[1]["result"] == {"echo": {"x": 2}}  # its answer is the server-response
    context = run.steps()[-1]["result"]["result"]["messages"]
    assert {"role": "user", "content": "I like tea."} in context


async def test_interruption_order_and_a_send_text_that_waits_its_turn(daemon: Daemon) -> None:
    longer = {"config": [{"service": "llm", "options": [{"name": "max_tokens", "value": 200}]}]}
    run = await run_client(
        plan(
            daemon,
            [
                {"do": "connect"},
                {"do": "request", "t": "update-config", "d": longer},
                {"do": "sendText", "text": "Tell me a long story about a dragon and a knight."},
                wait("bot-started-speaking", 60000),
                {"do": "sendText", "text": "My name is Ann.", "runImmediately": False},
                {"do": "sleep", "ms": 1200},
                {"do": "mark"},
                {"do": "sendText", "text": "Stop. What is two plus two?"},
                wait("bot-interrupted", 15000),
                wait("bot-stopped-speaking", 15000),
                wait("bot-llm-started", 30000),
                {
                    "do": "request",
                    "t": "action",
                    "d": {"service": "llm", "action": "get_context"},
                },
            ],
        ),
        timeout=150,
    )
    assert_no_errors(run)
    seq = types(run)
    first_speech = seq.index("bot-started-speaking")
    cut = seq.index("bot-interrupted")
    # send-text with run_immediately false did not cut the bot off: one interruption only
    assert seq.count("bot-interrupted") == 1
    assert cut > first_speech
    # pipecat's order: bot-interrupted, then what it stopped, then bot-stopped-speaking
    assert "bot-stopped-speaking" in seq[cut:]
    assert "bot-stopped-speaking" not in seq[first_speech:cut]
    stopped_at = cut + seq[cut:].index("bot-stopped-speaking")
    assert set(seq[cut + 1 : stopped_at]) <= {
        "bot-llm-stopped",
        "bot-tts-stopped",
        "server-message",
    }
    # every started stage is stopped exactly once, interrupted or not
    for stage in ("llm", "tts"):
        marks = [t for t in seq if t in (f"bot-{stage}-started", f"bot-{stage}-stopped")]
        pairs = marks[: len(marks) // 2 * 2]
        assert pairs == [f"bot-{stage}-started", f"bot-{stage}-stopped"] * (len(pairs) // 2), marks
    # the waiting text joined the context after the cut-off answer, before the new question
    users = [
        m["content"] for m in run.steps()[-1]["result"]["result"]["messages"] if m["role"] == "user"
    ]
    assert users[-2:] == ["My name is Ann.", "Stop. What is two plus two?"], users


async def test_an_interrupted_client_function_call_is_cancelled(daemon: Daemon) -> None:
    run = await run_client(
        plan(
            daemon,
            [
                {"do": "connect"},
                *weather_turn(delay_ms=3000),
                wait("llm-function-call-in-progress", 60000),
                {"do": "sendText", "text": "Say hi to me instead.", "audioResponse": False},
                wait("llm-function-call-stopped", 15000),
                {"do": "sleep", "ms": 3500},  # the handler's late result arrives: no error
            ],
        ),
        timeout=120,
    )
    assert_no_errors(run)
    seq = types(run)
    assert seq.count("llm-function-call-in-progress") == 1
    [stopped] = run.messages("llm-function-call-stopped")
    assert stopped["data"]["cancelled"] is True and "result" not in stopped["data"]
    assert seq.index("bot-interrupted") < seq.index("llm-function-call-stopped")
    assert "bot-llm-stopped" in seq[seq.index("bot-interrupted") :]
    assert len(run.of("functionHandlerCalled")) == 1


def audio_option(name: str, value: Any) -> dict[str, Any]:
    d = {"config": [{"service": "audio", "options": [{"name": name, "value": value}]}]}
    return {"do": "request", "t": "update-config", "d": d}


async def test_user_mute_when_muted_or_deaf_and_device_server_messages(daemon: Daemon) -> None:
    run = await run_client(
        plan(
            daemon,
            [
                {"do": "connect"},
                audio_option("muted", True),
                {"do": "wait", "event": "userMuteStarted"},
                audio_option("muted", False),
                {"do": "wait", "event": "userMuteStopped"},
                audio_option("echo_guard", "half-duplex"),
                {"do": "sendText", "text": "Say hello."},
                {"do": "wait", "event": "userMuteStarted"},  # deaf while the bot speaks
                wait("bot-stopped-speaking", 60000),
                {"do": "wait", "event": "userMuteStopped"},
            ],
        ),
        timeout=120,
    )
    assert_no_errors(run)
    seq = types(run)
    speaking = seq.index("bot-started-speaking")
    assert seq[:speaking].count("user-mute-started") == 2  # muted, then deaf
    assert "user-mute-stopped" in seq[seq.index("bot-stopped-speaking") :]
    notes = [e["data"] for e in run.of("serverMessage")]
    assert {"type": "state", "state": "muted"} in notes
    assert {"type": "state", "state": "speaking"} in notes
    assert any(n["type"] == "config" for n in notes)


@pytest.mark.parametrize(
    ("version", "handler_message"),
    # what client-js 1.10 - 1.11 and 1.0 - 1.5 declare
    [("1.4.0", "llm-function-call-in-progress"), ("1.0.0", "llm-function-call")],
)
async def test_1x_client_function_once_and_its_own_bot_output(
    daemon: Daemon, version: str, handler_message: str
) -> None:
    run = await run_client(
        plan(
            daemon,
            [
                {"do": "connect"},
                *weather_turn(),
                wait("llm-function-call-stopped"),
                wait("bot-stopped-speaking", 90000),
                {"do": "call", "method": "sendUIEvent", "args": ["clicked", {}]},
                {"do": "message", "t": "my-app-event", "d": {}},
                {"do": "sleep", "ms": 500},
            ],
            protocolVersion=version,
            conversation=True,
        ),
        timeout=150,
    )
    assert_no_errors(run)
    assert run.first("botReady")["data"]["version"] == version  # its own: its 1.x paths
    assert_one_handler_call(run)
    other = {"llm-function-call", "llm-function-call-in-progress"} - {handler_message}
    assert handler_message in types(run) and not other & set(types(run))
    outputs = [e["data"] for e in run.messages("bot-output")]
    if version == "1.0.0":
        assert not outputs and run.messages("bot-transcription")
        return
    assert outputs and all(set(d) == {"text", "spoken", "aggregated_by"} for d in outputs)
    said = spoken_sentences(run)
    assert [d["text"] for d in outputs if not d["spoken"]] == said  # each: unspoken, spoken
    # client-react's legacy path: every sentence once, all spoken
    parts = conversation_bot_parts(run)
    assert [p["spoken"].strip() for p in parts] == said, parts
    assert all(p["unspoken"] == "" for p in parts), parts


async def test_0x_client_function_once_and_services(daemon: Daemon) -> None:
    run = await run_client(
        plan(
            daemon,
            [
                {"do": "connect"},
                {"do": "raw", "type": "describe-config", "data": {}},
                *weather_turn(),
                wait("llm-function-call-stopped"),
                wait("bot-stopped-speaking", 90000),
            ],
            protocolVersion=None,
        ),
        timeout=150,
    )
    assert_no_errors(run)
    ready = run.messages("bot-ready")[0]["data"]
    assert ready["version"] == "0.3.0" and ready["config"]
    assert run.messages("config-available")
    assert_one_handler_call(run)
    assert "llm-function-call" in types(run) and "llm-function-call-in-progress" not in types(run)


@pytest.mark.parametrize("version", ["banana", "9.0.0"])
async def test_a_bad_version_is_reported_and_still_gets_bot_ready(
    daemon: Daemon, version: str
) -> None:
    run = await run_client(
        plan(daemon, [{"do": "connect", "timeoutMs": 15000}], protocolVersion=version),
        timeout=60,
    )
    assert run.ok, run.failure()  # connect() resolved: bot-ready came
    assert run.first("botReady")["data"]["version"] == PROTOCOL_VERSION
    [problem] = run.messages("error-response")
    assert version in problem["data"]["error"]
    assert types(run)[:2] == ["error-response", "bot-ready"]


async def test_the_pinned_client_libraries_and_every_message_they_know_is_documented() -> None:
    """What this suite ran against (tests/client/package.json pins exact versions), and
    docs/rtvi.md's tables name every message type client-js knows, in either direction."""
    client_dir = Path(__file__).parents[1] / "client"
    deps = json.loads((client_dir / "package.json").read_text())["dependencies"]
    assert deps["@pipecat-ai/client-js"] == "1.13.1"
    assert deps["@pipecat-ai/client-react"] == "1.8.2"
    for name in ("client-js", "client-react"):
        installed = client_dir / "node_modules" / "@pipecat-ai" / name / "package.json"
        assert json.loads(installed.read_text())["version"] == deps[f"@pipecat-ai/{name}"]
    typings = (client_dir / "node_modules/@pipecat-ai/client-js/dist/index.d.ts").read_text()
    assert f'RTVI_PROTOCOL_VERSION = "{PROTOCOL_VERSION}"' in typings  # we speak its version
    enum = typings[typings.index("export enum RTVIMessageType") :].split("}")[0]
    known = set(re.findall(r'= "([a-z-]+)"', enum))
    doc = (Path(__file__).parents[2] / "docs" / "rtvi.md").read_text()
    tables = doc[doc.index("## Every message") :]
    names = set(
        re.findall(
            r"`([a-z-]+)`",
            "\n".join(line.split("|")[1] for line in tables.splitlines() if line.startswith("| `")),
        )
    )
    assert known and known - names == set(), known - names
