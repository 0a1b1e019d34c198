"""Run the real @pipecat-ai/client-js (tests/client/rtvi-client.mjs) against a server."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIENT_DIR = Path(__file__).resolve().parents[1] / "client"
SCRIPT = CLIENT_DIR / "rtvi-client.mjs"


@dataclass
class ClientRun:
    events: list[dict[str, Any]]
    ok: bool
    stderr: str

    def of(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == name]

    def messages(self, mtype: str) -> list[dict[str, Any]]:
        return [e for e in self.of("message") if e.get("type") == mtype]

    def steps(self) -> list[dict[str, Any]]:
        return self.of("step")


def ensure_client_installed() -> None:
    if not (CLIENT_DIR / "node_modules" / "@pipecat-ai" / "client-js").is_dir():
        raise RuntimeError("the RTVI test client is not installed: run scripts/setup")


async def run_client(plan: dict[str, Any], timeout: float = 90) -> ClientRun:
    """Runs one plan (see rtvi-client.mjs) as a subprocess; the event loop keeps serving."""
    ensure_client_installed()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"timeoutMs": int(timeout * 1000) - 2000, **plan}, f)
        plan_path = f.name
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        plan_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=CLIENT_DIR,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        stdout, stderr = await proc.communicate()
    finally:
        os.unlink(plan_path)  # a tiny file: blocking is fine here
    events = []
    for line in stdout.decode().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the client library's own console output
    ok = proc.returncode == 0 and any(e.get("event") == "done" and e.get("ok") for e in events)
    return ClientRun(events, ok, stderr.decode())
