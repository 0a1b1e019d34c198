"""docs/rtvi.md's message tables stay true: what they say is served is parsed, what they
say is refused is refused, and what they say is sent is what the code can send."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from rtvi_edge.rtvi import messages as m
from rtvi_edge.rtvi.protocol import CURRENT

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "rtvi.md"

# the smallest valid data of each message the doc says is served
SAMPLES: dict[str, dict[str, object]] = {
    "client-ready": {"version": "2.1.0"},
    "client-message": {"t": "my-app", "d": {}},
    "send-text": {"content": "hi"},
    "append-to-context": {"role": "user", "content": "hi"},
    "llm-function-call-result": {"function_name": "f", "tool_call_id": "c", "result": {}},
    "dtmf": {"buttons": ["1"]},
    "ui-event": {"event": "clicked"},
    "ui-snapshot": {"tree": {}},
    "ui-cancel-job-group": {"job_id": "j"},
    "update-config": {"config": []},
    "action": {"service": "tts", "action": "say"},
}


def table(heading: str) -> dict[str, bool]:
    """type → served/sent, from the markdown table under `heading`."""
    text = DOC.read_text()
    body = text[text.index(heading) :].split("\n\n")[1]
    rows: dict[str, bool] = {}
    for line in body.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        for name in re.findall(r"`([a-z-]+)`", cells[0]):
            rows[name] = cells[1] == "yes"
    assert rows, f"no table under {heading!r}"
    return rows


def parse(mtype: str) -> object:
    data = SAMPLES.get(mtype, {})
    return m.parse_message(m.envelope(mtype, data, "1"))


@pytest.mark.parametrize(("mtype", "served"), table("### Client → server").items())
def test_client_messages_are_served_as_the_doc_says(mtype: str, served: bool) -> None:
    if served:
        parse(mtype)
    else:
        with pytest.raises(m.MessageError, match="unknown message type"):
            parse(mtype)


def string_literals(path: Path) -> set[str]:
    """The strings the code holds, not those of its comments and docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    }  # fmt: skip


def test_server_messages_sent_are_those_the_code_sends() -> None:
    rows = table("### Server → client")
    strings = set().union(*(string_literals(p) for p in (ROOT / "rtvi_edge" / "rtvi").glob("*.py")))
    literals = {s for s in strings if re.fullmatch(r"[a-z]+(?:-[a-z]+)+|error|config|metrics", s)}
    sent = {t for t, yes in rows.items() if yes}
    assert sent - literals == set(), "the doc says these are sent; the code never does"
    assert {t for t, yes in rows.items() if not yes} & literals == set()


def test_the_doc_names_the_served_version() -> None:
    assert f"**RTVI {m.PROTOCOL_VERSION}**" in DOC.read_text()
    assert m.format_version(CURRENT) == m.PROTOCOL_VERSION
