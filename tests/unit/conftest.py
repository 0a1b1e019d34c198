"""Fixtures shared by unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rtvi_edge.rtvi.webrtc.media_loop import MediaLoop


@pytest.fixture
async def media() -> AsyncIterator[MediaLoop]:
    """The WebRTC media loop running in its thread; stopped (joined) after the test."""
    loop = MediaLoop()
    loop.start()
    yield loop
    await loop.stop()
