"""The tools one conversation can use: the device's own, and the client's (RTVI)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from rtvi_edge.tools.registry import Tool, ToolRegistry, check_arguments

log = logging.getLogger(__name__)


class ToolRunner:
    def __init__(
        self, local: ToolRegistry, client_timeout: float = 10.0, client_functions: bool = False
    ) -> None:
        self.local = local
        self.client_tools: list[Tool] = []
        self.client_timeout = client_timeout
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self.can_call_client: Callable[[], bool] = lambda: client_functions

    def tools(self) -> list[Tool]:
        names = {t.name for t in self.client_tools}
        return [*self.client_tools, *(t for t in self.local.tools() if t.name not in names)]

    def find(self, name: str) -> Tool | None:
        for tool in self.tools():
            if tool.name == name:
                return tool
        return None

    async def call(self, tool: Tool, args: dict[str, Any], call_id: str) -> dict[str, Any]:
        if tool.handler is not None:
            return await self.local.call(tool.name, args)
        return await self._call_client(tool, args, call_id)

    async def _call_client(self, tool: Tool, args: dict[str, Any], call_id: str) -> dict[str, Any]:
        problem = check_arguments(tool, args)
        if problem:
            return {"error": f"{tool.name}: {problem}"}
        if not self.can_call_client():
            return {"error": f"{tool.name} runs on the client, and no client is connected"}
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        try:
            result = await asyncio.wait_for(future, self.client_timeout)
        except TimeoutError:
            return {
                "error": f"the app did not answer {tool.name} within {self.client_timeout:g} s",
                "timeout": True,
            }
        finally:
            self._pending.pop(call_id, None)
        return result if isinstance(result, dict) else {"result": result}

    def resolve(self, call_id: str, result: Any) -> bool:
        """A client's llm-function-call-result; False if nothing waits for it."""
        future = self._pending.get(call_id)
        if future is None or future.done():
            return False
        future.set_result(result)
        return True

    def cancel_pending(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
