"""The WebRTC media loop: work handed over runs in its own thread, in order; a
cancelled wait cancels it there; stopping ends what is left and joins the thread."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from rtvi_edge.rtvi.webrtc.media_loop import (
    THREAD_NAME,
    MediaLoop,
    MediaLoopClosed,
    raise_priority,
)


def _media_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


async def _thread_name() -> str:
    return threading.current_thread().name


async def _fails() -> None:
    raise ValueError("from the media loop")


async def test_work_runs_on_its_own_thread_and_its_errors_come_back() -> None:
    media = MediaLoop()
    media.start()
    try:
        assert await media.run(_thread_name()) == THREAD_NAME
        with pytest.raises(ValueError, match="from the media loop"):
            await media.run(_fails())
        seen: list[tuple[int, str]] = []
        for i in range(20):
            media.post(lambda i=i: seen.append((i, threading.current_thread().name)))
        media.post(_raise)  # logged there; the loop goes on
        await media.run(asyncio.sleep(0))
        assert seen == [(i, THREAD_NAME) for i in range(20)]
    finally:
        await media.stop()


def _raise() -> None:
    raise RuntimeError("a failed post")


async def test_a_cancelled_wait_cancels_the_work_there() -> None:
    media = MediaLoop()
    media.start()
    ended = threading.Event()

    async def long() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            ended.set()

    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(media.run(long()), 0.1)
        assert await asyncio.to_thread(ended.wait, 5)
    finally:
        await media.stop()


async def test_stopping_ends_what_is_left_and_joins_the_thread() -> None:
    before = len(_media_threads())
    media = MediaLoop()
    media.start()
    assert len(_media_threads()) == before + 1
    ended = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.set()

    media.post(lambda: asyncio.ensure_future(forever()))  # a task nobody awaits
    await media.run(asyncio.sleep(0.01))
    await media.stop()
    assert ended.is_set()  # cancelled, not abandoned
    assert not media.running
    assert len(_media_threads()) == before
    with pytest.raises(MediaLoopClosed):
        await media.run(asyncio.sleep(0))
    media.post(print, "dropped: the loop is gone")  # no error either
    await media.stop()  # twice is fine


async def test_it_starts_again_after_a_stop() -> None:
    media = MediaLoop()
    media.start()
    media.start()  # running already: the same thread
    assert len([t for t in _media_threads() if t.is_alive()]) >= 1
    await media.stop()
    media.start()
    try:
        assert await media.run(_thread_name()) == THREAD_NAME
    finally:
        await media.stop()


async def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def test_the_media_thread_is_never_less_urgent_than_the_daemon() -> None:
    media = MediaLoop()
    media.start()
    try:
        assert await media.run(_nice()) <= os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        await media.stop()


def test_raising_priority_does_what_is_allowed_and_no_more() -> None:
    got: list[int] = []
    thread = threading.Thread(target=lambda: got.append(raise_priority(0)))
    thread.start()
    thread.join()
    assert got == [os.getpriority(os.PRIO_PROCESS, 0)]  # a boost of 0 changes nothing
