"""A real Home Assistant for the tests: its own process (HA needs Python 3.13+, from
.ha-venv, which scripts/setup-home-assistant makes), its config in a temporary folder,
HTTP on 127.0.0.1 at a free port, an owner made through onboarding and a long-lived
token; the tests drive it over its REST and websocket APIs, as a user's browser does.

When it cannot run, `require_home_assistant` says why in the skip reason; under CI
(`CI=true`) a machine with a Python 3.13+ but no Home Assistant fails instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).parents[2]
LAUNCH = Path(__file__).with_name("ha_launch.py")
START_SECS = 300.0  # a cold start on a busy 2-core machine takes ~20-60 s
CONFIG = """
homeassistant:
  name: rtvi-edge tests
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  country: US
  language: en
  internal_url: "http://127.0.0.1:{port}"
http:
  server_host: 127.0.0.1
  server_port: {port}
ffmpeg:
  ffmpeg_bin: "{ffmpeg}"
zeroconf:  # discovery (default_config would bring it); ha_launch.py keeps it on 127.0.0.1
logger:
  default: warning
  logs:
    homeassistant.components.esphome: debug
    homeassistant.components.assist_pipeline: debug
    homeassistant.components.assist_satellite: debug
"""


def python_313() -> str | None:
    """A Python >= 3.13 on this machine (the same search as scripts/setup-home-assistant)."""
    home = os.path.expanduser("~")
    candidates = [os.environ.get("HA_PYTHON", ""), "python3.13", "python3.14"]
    candidates += sorted(glob.glob(f"{home}/.pyenv/versions/3.1[3-9]*/bin/python"))
    for c in candidates:
        path = shutil.which(c) if c else None
        if path and subprocess.run(
            [path, "-c", "import sys; sys.exit(sys.version_info < (3, 13))"],
            capture_output=True, check=False,
        ).returncode == 0:  # fmt: skip
            return path
    return None


def find_home_assistant() -> tuple[Path | None, str]:
    """(the Python with Home Assistant, "") or (None, why there is none)."""
    explicit = os.environ.get("RTVI_EDGE_HA_PYTHON")
    if explicit:
        if Path(explicit).is_file():
            return Path(explicit), ""
        return None, f"RTVI_EDGE_HA_PYTHON={explicit} is not a file"
    venv = ROOT / ".ha-venv"
    if (venv / ".rtvi-edge-ha-setup").is_file():
        return venv / "bin" / "python", ""
    py = python_313()
    if py is None:
        return None, (
            "no Home Assistant: it needs Python >= 3.13 and this machine has none "
            "(install one, then run scripts/setup-home-assistant)"
        )
    return None, (
        f"no Home Assistant in .ha-venv although {py} exists: run scripts/setup-home-assistant"
    )


def require_home_assistant() -> Path:
    python, reason = find_home_assistant()
    if python is None:
        if os.environ.get("CI") == "true" and "although" in reason:
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, data: dict[str, Any] | None = None, form: bool = False) -> Any:
    body = None
    headers = {}
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, body, headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


@dataclass
class HomeAssistantProcess:
    python: Path
    config_dir: Path
    port: int = 0
    token: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 4000) -> str:
        log = self.config_dir / "home-assistant.log"
        return log.read_text(errors="replace")[-chars:] if log.is_file() else "(no log)"

    def start(self) -> None:
        self.port = free_port()
        ffmpeg = self.python.parent / "ffmpeg"
        ffmpeg_bin = str(ffmpeg) if ffmpeg.exists() else (shutil.which("ffmpeg") or "ffmpeg")
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(
            CONFIG.format(port=self.port, ffmpeg=ffmpeg_bin)
        )
        self.proc = subprocess.Popen(
            [str(self.python), str(LAUNCH), str(self.config_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip (HA writes everything to home-assistant.log in its config dir)
        deadline = time.monotonic() + START_SECS
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Home Assistant exited ({self.proc.returncode}):\n"
                                   + self.log_tail())  # fmt: skip
            try:
                steps = _request(f"{self.url}/api/onboarding")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Home Assistant did not answer in {START_SECS:.0f} s:\n"
                                       + self.log_tail()) from None  # fmt: skip
                time.sleep(0.5)
        assert any(s["step"] == "user" and not s["done"] for s in steps), steps
        self.token = self._onboard()

    def _onboard(self) -> str:
        """The owner account, as the onboarding page makes it, then a long-lived token."""
        client_id = f"{self.url}/"
        user = {"client_id": client_id, "name": "Test", "username": "test",
                "password": "test-password-1", "language": "en"}  # fmt: skip
        code = _request(f"{self.url}/api/onboarding/users", user)["auth_code"]
        grant = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
        access = _request(f"{self.url}/auth/token", grant, form=True)["access_token"]

        async def long_lived() -> str:
            async with HomeAssistantApi.connect(self.url, access) as api:
                token = await api.call(
                    "auth/long_lived_access_token", client_name="rtvi-edge tests", lifespan=1
                )
                return str(token)

        # its own thread and loop: pytest-asyncio owns the test's loop
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, long_lived()).result(60)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # HA stops in order on SIGTERM
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class HomeAssistantError(Exception):
    pass


class HomeAssistantApi:
    """HA's websocket API (commands, event subscriptions) and REST API, authenticated."""

    def __init__(
        self, url: str, token: str, http: aiohttp.ClientSession, log: Callable[[], str]
    ) -> None:
        self.url, self.token, self.http = url, token, http
        self.log = log  # HA's log, shown when something does not happen
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._next_id = 1
        self._results: dict[int, asyncio.Future[Any]] = {}
        self._events: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, url: str, token: str, log: Callable[[], str] = lambda: ""
    ) -> AsyncIterator[HomeAssistantApi]:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            api = cls(url, token, http, log)
            async with http.ws_connect(f"{url}/api/websocket") as ws:
                assert (await ws.receive_json(timeout=30))["type"] == "auth_required"
                await ws.send_json({"type": "auth", "access_token": token})
                reply = await ws.receive_json(timeout=30)
                assert reply["type"] == "auth_ok", reply
                api._ws = ws
                api._reader = asyncio.create_task(api._read(), name="ha-websocket")
                try:
                    yield api
                finally:
                    api._reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await api._reader

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            for item in data if isinstance(data, list) else [data]:
                if item["type"] == "event" and item["id"] in self._events:
                    self._events[item["id"]].put_nowait(item["event"])
                elif (fut := self._results.pop(item["id"], None)) and not fut.done():
                    fut.set_result(item)
        for fut in self._results.values():
            if not fut.done():
                fut.set_exception(HomeAssistantError("the websocket closed"))

    async def _send(self, kind: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        assert self._ws is not None
        msg_id, self._next_id = self._next_id, self._next_id + 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[msg_id] = fut
        await self._ws.send_json({"id": msg_id, "type": kind, **data})
        async with asyncio.timeout(60):
            reply: dict[str, Any] = await fut
        if not reply.get("success", True):
            raise HomeAssistantError(f"{kind}: {reply.get('error')}")
        return msg_id, reply

    async def call(self, kind: str, **data: Any) -> Any:
        """One websocket command; its result."""
        return (await self._send(kind, data))[1].get("result")

    async def subscribe(self, kind: str, **data: Any) -> asyncio.Queue[dict[str, Any]]:
        """A subscription command (e.g. subscribe_events); its events arrive in the queue."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        msg_id = self._next_id
        self._events[msg_id] = queue
        await self._send(kind, data)
        return queue

    async def rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.request(method, f"{self.url}{path}", json=body) as resp:
            text = await resp.text()
            if resp.status >= 400:
                raise HomeAssistantError(f"{method} {path}: {resp.status} {text}")
            return json.loads(text) if text else None

    # -- what the tests ask for --------------------------------------------------------------
    async def states(self) -> dict[str, dict[str, Any]]:
        return {s["entity_id"]: s for s in await self.rest("GET", "/api/states")}

    async def service(self, domain: str, service: str, **data: Any) -> Any:
        return await self.rest("POST", f"/api/services/{domain}/{service}", data)

    async def flow(self, handler: str) -> dict[str, Any]:
        body = {"handler": handler, "show_advanced_options": False}
        result: dict[str, Any] = await self.rest("POST", "/api/config/config_entries/flow", body)
        return result

    async def flow_step(self, flow_id: str, data: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.rest(
            "POST", f"/api/config/config_entries/flow/{flow_id}", data
        )
        return result

    async def remove_entries(self, domain: str) -> None:
        for entry in await self.rest("GET", "/api/config/config_entries/entry"):
            if entry["domain"] == domain:
                await self.rest("DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}")

    async def wait_for(
        self, what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.2
    ) -> Any:
        """Polls `check` (sync or async) until it returns something truthy; bounded."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Home Assistant: {what} did not happen in {timeout:.0f} s; its log ends:\n"
                    + self.log()
                )
            await asyncio.sleep(every)

    async def entities_of(self, domain: str, device_mac: str) -> list[str]:
        """The entities of `domain` that HA made for the device with this MAC."""
        devices = await self.call("config/device_registry/list")
        ids = {d["id"] for d in devices if ["mac", device_mac] in d["connections"]}
        entities = await self.call("config/entity_registry/list")
        return sorted(
            e["entity_id"]
            for e in entities
            if e["device_id"] in ids and (not domain or e["entity_id"].startswith(f"{domain}."))
        )
