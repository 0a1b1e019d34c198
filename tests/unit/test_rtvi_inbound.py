"""Client → server messages of the current standard: parsed exactly, bad ones refused clearly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rtvi_edge.rtvi import frames
from rtvi_edge.rtvi import messages as m
from rtvi_edge.rtvi.protocol import RequestIn, RtviProtocol
from rtvi_edge.services.value_types import type_ok
from tests.helpers import rtvi_frame as msg


def receive(mtype: str, data: Any) -> tuple[list[Any], list[dict[str, Any]]]:
    p = RtviProtocol(1 << 20)
    items = p.receive(msg(mtype, data))
    replies = [json.loads(frames.decode_frame(b).data) for b in p.take()]  # type: ignore[union-attr]
    return items, replies


@pytest.mark.parametrize(
    ("data", "buttons"),
    [
        ({"buttons": ["1", "2", "#"]}, ("1", "2", "#")),  # 2.1
        ({"button": "*"}, ("*",)),  # 2.0: one message per key
    ],
)
def test_dtmf_is_accepted_in_both_forms(data: dict[str, Any], buttons: tuple[str, ...]) -> None:
    items, replies = receive("dtmf", data)
    assert items == [RequestIn(m.Dtmf("1", buttons))] and replies == []


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"buttons": ["1", "x"]}, "keypad keys"),
        ({"buttons": []}, "keypad keys"),
        ({"buttons": "12"}, "'buttons' must be a list"),
        ({}, "missing field 'button'"),
    ],
)
def test_bad_dtmf_gets_a_clear_error(data: dict[str, Any], needle: str) -> None:
    items, [reply] = receive("dtmf", data)
    assert items == [] and reply["type"] == "error-response" and needle in reply["data"]["error"]


def test_ui_worker_messages_are_accepted() -> None:
    for mtype, data in [
        ("ui-event", {"event": "clicked", "payload": {"ref": "e1"}}),
        ("ui-snapshot", {"tree": {"role": "document"}}),
        ("ui-cancel-job-group", {"job_id": "j1", "reason": "user"}),
    ]:
        items, replies = receive(mtype, data)
        assert items == [RequestIn(m.UiMessage("1", mtype, data))] and replies == []  # type: ignore[arg-type]
    _, [reply] = receive("ui-event", {"payload": 1})
    assert "missing field 'event'" in reply["data"]["error"]
    _, [reply] = receive("ui-cancel-job-group", {})
    assert "missing field 'job_id'" in reply["data"]["error"]


def test_app_client_messages_are_requests_not_errors() -> None:
    items, replies = receive("client-message", {"t": "my-app", "d": [1, 2]})
    assert items == [RequestIn(m.ClientMessage("1", "my-app", [1, 2]))] and replies == []


def test_append_to_context_takes_content_parts() -> None:
    content = [
        {"type": "text", "text": "What is"},
        {"type": "image_url", "image_url": {"url": "data:..."}},
        {"type": "text", "text": "this?"},
    ]
    [item], replies = receive("append-to-context", {"role": "user", "content": content})
    assert replies == []
    assert item == RequestIn(m.AppendToContext("1", "user", "What is this?", False, ("image_url",)))


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (
            [{"type": "image_url", "image_url": {}}],
            "no text in the content (part types: image_url)",
        ),
        ([], "no text in the content"),
        ([5], "content part 0 must be an object"),
        (5, "must be a string or a list of content parts"),
    ],
)
def test_append_to_context_without_text_is_refused_clearly(content: Any, needle: str) -> None:
    items, [reply] = receive("append-to-context", {"role": "user", "content": content})
    assert items == [] and needle in reply["data"]["error"]


def test_the_0x_integer_type_is_in_the_type_set() -> None:
    assert type_ok("integer", 3) and not type_ok("integer", 3.5) and not type_ok("integer", True)
