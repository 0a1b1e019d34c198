"""The conversation's background tasks, and whether it is idle.

Idle means no bot turn runs and no committed user message awaits its answer;
`wait_idle()` is how tests, MQTT `ask` and the chat command wait for an answer.
A task that fails is logged and reported on the bus, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class OwnedTasks:
    def __init__(self, label: str, on_failure: Callable[[str], None]) -> None:
        self._label = label  # the session id, for the log
        self._on_failure = on_failure  # the failure's message, for the bus
        self._tasks: set[asyncio.Task[Any]] = set()
        self._preparing = 0
        self._turn_running = False
        self._idle = asyncio.Event()
        self._idle.set()

    def spawn(
        self, coro: Coroutine[Any, Any, Any], name: str, prepares_answer: bool = False
    ) -> asyncio.Task[Any]:
        """An owned task; `prepares_answer`: a committed user message is on its way to a turn."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        if prepares_answer:
            self._preparing += 1
            self._update_idle()
            task.add_done_callback(self._prepared)
        task.add_done_callback(self._task_done)
        return task

    def set_turn_running(self, running: bool) -> None:
        self._turn_running = running
        self._update_idle()

    async def wait_idle(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _update_idle(self) -> None:
        if not self._turn_running and self._preparing == 0:
            self._idle.set()
        else:
            self._idle.clear()

    def _prepared(self, task: asyncio.Task[Any]) -> None:
        self._preparing -= 1
        self._update_idle()

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("session %s: %s failed: %s", self._label, task.get_name(), exc, exc_info=exc)
            self._on_failure(str(exc))
