"""Home Assistant's websocket API (commands, event subscriptions) and REST API, as the
tests drive a real HA with them (ha_instance.py starts it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp


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
