"""Blind tool evaluation through the daemon's own path (issue #26).

A real daemon (default models) runs in this process on 127.0.0.1; a WebSocket client
talks RTVI to it like the official client: `client-ready`, the client functions declared
with `update-config` (llm `tools`), each utterance as `send-text`, and each
`llm-function-call-in-progress` answered with `llm-function-call-result`. What the
device did is read from what the client receives (function calls, `bot-output`), plus
two things a client cannot see: the arguments of the device's own tools (its event bus)
and which local intent answered (its log).

    python -m bench.tools_blind --set 1 [--threads 1] [--json out.json] [-v]
    python -m bench.tools_blind --table out1.json out2.json   # markdown rows

Metrics (bench/tools_blind_case.py has the word lists):
- handled: tool requests that got the right tool with the right arguments;
- false calls: cases that must call nothing (distractors, undeclared devices, near misses,
  arithmetic) where a tool ran or a device intent fired (a calculator is allowed for sums);
- invented: questions about undeclared devices not answered honestly;
- ungrounded: right-tool turns whose answer ignores this turn's result (none of its
  values / no word of failure for a failed action) or contradicts it (another tool's
  value, or a failure claimed for a success);
- near-miss misfires: near-miss cases where an intent fired or a tool ran;
- math right: arithmetic and conversions whose answer holds the right number.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import json
import logging
import random
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.tools_blind_case import (
    FAILED,
    HONEST,
    BlindCase,
    Observed,
    failed,
    has_any,
    has_word,
    is_calculator,
    number_right,
)
from rtvi_edge import events as ev
from rtvi_edge.config import config_from_mapping
from rtvi_edge.daemon import Daemon
from rtvi_edge.rtvi import frames
from rtvi_edge.tools.intents import intents_for
from rtvi_edge.tools.numbers import parse_duration

# Where the daemon logs "session %s: intent %s ..." (it moved from the conversation to
# its intents part in #24; listening to the old one alone missed every local intent).
INTENT_LOGS = ("rtvi_edge.pipeline.conversation", "rtvi_edge.pipeline.intent_answers")


def _msg(mtype: str, data: Any, msg_id: str) -> bytes:
    obj = {"label": "rtvi-ai", "type": mtype, "id": msg_id, "data": data}
    return frames.encode_message(json.dumps(obj))


class _IntentLog(logging.Handler):
    """Which local intent answered: the conversation logs "session %s: intent %s ..."."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.fired: list[tuple[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("session %s: intent") and record.args:
            args = record.args
            assert isinstance(args, tuple)
            self.fired.append((str(args[1]), args[2]))


@dataclass
class _Client:
    """The RTVI client side: everything received, function calls answered."""

    ws: aiohttp.ClientWebSocketResponse
    results: dict[str, Any]
    received: list[dict[str, Any]] = field(default_factory=list)
    override: Any = None
    last_result: Any = None
    heard: asyncio.Event = field(default_factory=asyncio.Event)
    last_at: float = 0.0

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                continue
            frame = frames.decode_frame(msg.data)
            if not isinstance(frame, frames.MessageFrame):
                continue
            m: dict[str, Any] = json.loads(frame.data)
            self.received.append(m)
            self.last_at = time.monotonic()
            mtype, data = m.get("type"), m.get("data") or {}
            if mtype == "user-transcription" and data.get("final"):
                self.heard.set()
            elif mtype == "llm-function-call-in-progress":
                name = data["function_name"]
                result = self.override if self.override is not None else self.results.get(name)
                self.last_result = result if result is not None else {"ok": True}
                reply = {**data, "result": self.last_result}
                await self.ws.send_bytes(_msg("llm-function-call-result", reply, "res"))


async def observe(
    cases: list[BlindCase],
    functions: list[dict[str, Any]],
    results: dict[str, Any],
    threads: int = 0,
) -> list[Observed]:
    """Runs every case, in order, in one session of a real daemon."""
    intent_tool = {i.name: i.tool for i in intents_for("")}
    with tempfile.TemporaryDirectory() as d:
        llm = {"threads": threads} if threads else {}
        config = config_from_mapping(
            {
                "rtvi": {"host": "127.0.0.1", "port": 0},
                "audio": {"backend": "none"},
                "device": {"state_dir": d, "device_id": "blind-eval"},
                "log": {"journald": "off"},
                "llm": llm,
            }
        )
        daemon = Daemon(config, None)
        await daemon.start()
        log = _IntentLog()
        loggers = [logging.getLogger(name) for name in INTENT_LOGS]
        old_levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.addHandler(log)
            logger.setLevel(logging.INFO)
        bus = daemon.bus.subscribe(None, maxsize=100000)
        try:
            assert daemon.rtvi is not None
            url = f"http://127.0.0.1:{daemon.rtvi.port}/ws"
            async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
                client = _Client(ws, results)
                reader = asyncio.create_task(client.read(), name="blind-client")
                try:
                    return await _run(daemon, client, bus, log, intent_tool, cases, functions)
                finally:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
        finally:
            for logger, level in zip(loggers, old_levels, strict=True):
                logger.removeHandler(log)
                logger.setLevel(level)
            bus.close()
            await daemon.stop()


async def _run(
    daemon: Daemon,
    client: _Client,
    bus: ev.Subscription,
    log: _IntentLog,
    intent_tool: dict[str, str],
    cases: list[BlindCase],
    functions: list[dict[str, Any]],
) -> list[Observed]:
    ws = client.ws
    await ws.send_bytes(
        _msg("client-ready", {"version": "2.1.0", "about": {"library": "blind-eval"}}, "r")
    )
    options = [{"name": "tools", "value": functions}]
    await ws.send_bytes(
        _msg("update-config", {"config": [{"service": "llm", "options": options}]}, "tools")
    )
    async with asyncio.timeout(30):
        while not any(m.get("id") == "tools" for m in client.received):
            await asyncio.sleep(0.05)
    answer = next(m for m in client.received if m.get("id") == "tools")
    if answer["type"] != "config":
        raise RuntimeError(f"the device refused the functions: {answer}")
    out: list[Observed] = []
    for n, case in enumerate(cases):
        start, fired = len(client.received), len(log.fired)
        client.override, client.last_result = case.result, None
        client.heard.clear()
        content = {"content": case.text, "options": {"audio_response": False}}
        await ws.send_bytes(_msg("send-text", content, f"t{n}"))
        async with asyncio.timeout(30):
            await client.heard.wait()
        conv = _conversation(daemon, bus)
        await conv.wait_idle(180)
        while time.monotonic() - client.last_at < 0.6:  # what the turn sent last
            await asyncio.sleep(0.1)
        out.append(_observed(client, start, log.fired[fired:], intent_tool, bus))
        _drop_timers(daemon)  # a timer set by a case must not ring during a later one
        print(
            f"{n + 1}/{len(cases)} {case.text} -> {out[-1].calls} {out[-1].answer!r}",
            file=sys.stderr,
        )
    return out


_SESSION: list[str] = []
_BUILTIN_CALLS: list[tuple[str, Any]] = []


def _conversation(daemon: Daemon, bus: ev.Subscription) -> Any:
    _drain(bus)
    return daemon.conversations[_SESSION[0]]


def _drain(bus: ev.Subscription) -> None:
    while not bus.queue.empty():
        e = bus.queue.get_nowait()
        if isinstance(e, ev.UserTranscription) and not _SESSION:
            _SESSION.append(e.session_id)
        elif isinstance(e, ev.FunctionCallStarted) and not e.client_side:
            _BUILTIN_CALLS.append((e.function_name, e.arguments))


def _observed(
    client: _Client,
    start: int,
    fired: list[tuple[str, Any]],
    intent_tool: dict[str, str],
    bus: ev.Subscription,
) -> Observed:
    _drain(bus)
    obs = Observed(result=client.last_result)
    for m in client.received[start:]:
        data = m.get("data") or {}
        if m["type"] == "llm-function-call-in-progress":
            obs.calls.append((data["function_name"], data.get("arguments")))
        elif m["type"] == "bot-output":
            obs.answer += " " + str(data.get("text", ""))
    obs.calls += _BUILTIN_CALLS
    _BUILTIN_CALLS.clear()
    for name, args in fired:
        obs.intents.append(name)
        if intent_tool.get(name):
            obs.calls.append((intent_tool[name], args))
    obs.answer = obs.answer.strip()
    return obs


def _drop_timers(daemon: Daemon) -> None:
    if daemon.timers is not None:
        for t in daemon.timers.pending():
            daemon.timers.cancel(t.owner, t.id)


# -- scoring ---------------------------------------------------------------------------
def _args_ok(expected: dict[str, Any], got: Any) -> bool:
    if not isinstance(got, dict):
        return not expected
    if "duration" in got and "seconds" not in got:  # set_timer reads a spoken duration
        got = {**got, "seconds": parse_duration(str(got["duration"]))}
    for key, want in expected.items():
        have = got.get(key)
        if isinstance(want, bool):
            if have is not want:
                return False
        elif isinstance(want, str):
            if not isinstance(have, str) or have.strip().lower() != want.lower():
                return False
        elif (
            not isinstance(have, int | float)
            or isinstance(have, bool)
            or abs(float(have) - want) > 1e-6
        ):
            return False
    return True


def _grounding(case: BlindCase, obs: Observed, marks: dict[str, list[str]]) -> str:
    """'' when the answer speaks this turn's result; else why not."""
    answer = obs.answer
    if failed(obs.result):
        return "" if has_any(answer, FAILED) else "ignores the failure"
    foreign = [
        v
        for tool, values in marks.items()
        if tool != case.tool
        for v in values
        if not has_word(case.text, v)
    ]
    if any(has_word(answer, v) for v in foreign):
        return "speaks another tool's result"
    if case.tool in marks or case.says:  # a client function's result
        if has_any(answer, FAILED) and not has_any(case.text, ("not", "n't")):
            return "claims a failure"
        if case.says and not any(has_word(answer, s) for s in case.says):
            return "ignores the result"
    return ""


def score(
    cases: list[BlindCase], observed: list[Observed], marks: dict[str, list[str]]
) -> dict[str, Any]:
    requests = handled = right_tool = 0
    quiet = false_calls = invented = ungrounded = grounded_total = 0
    nearmiss = misfires = maths = math_right = refusals = 0
    misses: list[str] = []
    for case, obs in zip(cases, observed, strict=True):
        first = obs.calls[0] if obs.calls else (None, None)
        why = ""
        if case.kind == "call":
            requests += 1
            if first[0] == case.tool:
                right_tool += 1
                if _args_ok(case.args, first[1]) and len(obs.calls) == 1:
                    handled += 1
                else:
                    why = "wrong arguments"
                if case.says or failed(case.result) or case.tool in marks:
                    grounded_total += 1
                    if g := _grounding(case, obs, marks):
                        ungrounded += 1
                        why = (why + "; " if why else "") + g
            else:
                why = "wrong tool" if first[0] else "no tool"
        else:
            quiet += 1
            wrong = [c for c in obs.calls if not is_calculator(c[0])]
            wrong_intents = [i for i in obs.intents if not is_calculator(i)]
            if wrong or wrong_intents:
                false_calls += 1
                why = "false call"
            if case.kind == "nearmiss":
                nearmiss += 1
                if wrong or wrong_intents:
                    misfires += 1
                    why = "misfire"
            if case.kind == "honest" and not has_any(obs.answer, HONEST):
                invented += 1
                why = (why + "; " if why else "") + "not honest"
            if case.kind == "none" and has_any(obs.answer, HONEST):
                refusals += 1
            if case.number is not None:
                maths += 1
                if number_right(case, obs.answer):
                    math_right += 1
                else:
                    why = (why + "; " if why else "") + f"not {case.number:g}"
        if why:
            misses.append(
                f"[{case.kind}] {case.text} -> {obs.calls} {obs.intents} {obs.answer!r}: {why}"
            )
    return {
        "cases": len(cases),
        "tool_requests": requests,
        "handled": round(handled / max(1, requests), 3),
        "right_tool": round(right_tool / max(1, requests), 3),
        "must_not_call": quiet,
        "false_calls": round(false_calls / max(1, quiet), 3),
        "false_call_count": false_calls,
        "invented": invented,
        "grounded_checked": grounded_total,
        "ungrounded": ungrounded,
        "near_misses": nearmiss,
        "near_miss_misfires": misfires,
        "math_cases": maths,
        "math_right": round(math_right / max(1, maths), 3),
        "needless_refusals": refusals,
        "misses": misses,
    }


def load_set(number: int) -> Any:
    return importlib.import_module(
        "bench.tools_blind_set" if number == 1 else f"bench.tools_blind_set{number}"
    )


def ordered(cases: list[BlindCase], seed: int = 26) -> list[BlindCase]:
    """The cases mixed (a fixed order): earlier results are in the context of later turns."""
    mixed = list(cases)
    random.Random(seed).shuffle(mixed)
    return mixed


def table(paths: list[str]) -> str:
    """Markdown rows of saved results (`--table a.json b.json`), for docs/tools.md."""
    rows = [
        "| run | cases | handled | false calls | invented | ungrounded | near-miss misfires "
        "| sums right | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        r = json.loads(Path(path).read_text())
        rows.append(
            f"| {Path(path).stem} | {r['cases']} | {r['handled']:.1%} of {r['tool_requests']} "
            f"| {r['false_calls']:.1%} ({r['false_call_count']} of {r['must_not_call']}) "
            f"| {r['invented']} | {r['ungrounded']} of {r['grounded_checked']} "
            f"| {r['near_miss_misfires']} of {r['near_misses']} "
            f"| {r['math_right']:.1%} of {r['math_cases']} | {r['secs']} |"
        )
    return "\n".join(rows)


def from_log(module: Any, log_text: str) -> tuple[list[BlindCase], list[Observed]]:
    """The cases a run has done so far, from its progress lines on stderr
    ("n/N text -> [calls] 'answer'"): a partial score of a run still going."""
    by_text = {c.text: c for c in module.CASES}
    cases: list[BlindCase] = []
    observed: list[Observed] = []
    for line in log_text.splitlines():
        m = re.match(r"^\d+/\d+ (.*?) -> (\[.*)$", line)
        if m is None or m.group(1) not in by_text:
            continue
        rest = m.group(2)
        cut = max(rest.rfind("] '"), rest.rfind('] "'))
        if cut < 0:
            continue
        calls = ast.literal_eval(rest[: cut + 1])
        answer = ast.literal_eval(rest[cut + 2 :])
        case = by_text[m.group(1)]
        first = calls[0][0] if calls else None
        result = case.result if case.result is not None else module.RESULTS.get(first)
        cases.append(case)
        observed.append(Observed(calls=list(calls), answer=answer, result=result))
    return cases, observed


def main(argv: list[str]) -> int:
    def opt(name: str, default: str) -> str:
        return argv[argv.index(name) + 1] if name in argv else default

    if "--table" in argv:
        print(table(argv[argv.index("--table") + 1 :]))
        return 0

    module = load_set(int(opt("--set", "1")))
    if "--from-log" in argv:  # score the progress lines of a run (partial if unfinished)
        done, seen = from_log(module, Path(opt("--from-log", "")).read_text())
        partial = score(done, seen, module.MARKS)
        partial["secs"] = 0
        if "--json" in argv:
            Path(opt("--json", "")).write_text(json.dumps(partial, indent=1) + "\n")
        print(json.dumps({k: v for k, v in partial.items() if k != "misses"}))
        return 0
    cases = ordered(module.CASES)
    t0 = time.monotonic()
    observed = asyncio.run(
        observe(cases, module.FUNCTIONS, module.RESULTS, int(opt("--threads", "0")))
    )
    result = score(cases, observed, module.MARKS)
    result["secs"] = round(time.monotonic() - t0)
    result["observed"] = [
        {"text": c.text, "kind": c.kind, **asdict(o)} for c, o in zip(cases, observed, strict=True)
    ]
    if "--json" in argv:
        Path(opt("--json", "")).write_text(json.dumps(result, indent=1) + "\n")
    if "-v" in argv:
        print("\n".join(result["misses"]))
    print(json.dumps({k: v for k, v in result.items() if k not in ("misses", "observed")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
