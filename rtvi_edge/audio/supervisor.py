"""Keeps the device's own microphone and speaker running.

Opens them, pumps the microphone into the local conversation, and when the
device fails or disappears (a USB mic unplugged, an ALSA/PulseAudio/PipeWire
error) says so clearly, goes on without local audio, and retries with a
growing delay. RTVI and MQTT keep serving all along.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from rtvi_edge import events as ev
from rtvi_edge.audio.echo import EchoCanceller, EchoReferenceSink
from rtvi_edge.audio.local import AudioSource, open_device
from rtvi_edge.audio.quiet import sound_devices_signature
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.config import AudioConfig
from rtvi_edge.errors import AudioDeviceError

log = logging.getLogger(__name__)

MAX_RETRY_SECS = 60.0

Opener = Callable[[AudioConfig], tuple[AudioSource, AudioSink]]


class MicrophoneUser(Protocol):
    """What the supervisor feeds (the local conversation; owned here, so audio never
    imports the pipeline)."""

    @property
    def session_id(self) -> str: ...

    @property
    def bus(self) -> ev.EventBus: ...

    def feed_audio(self, pcm16k: bytes) -> None: ...

    def attach_sink(self, sink: AudioSink | None) -> None: ...


class LocalAudioSupervisor:
    def __init__(
        self,
        cfg: AudioConfig,
        conversation: MicrophoneUser,
        echo: EchoCanceller | None = None,
        opener: Opener = open_device,
    ) -> None:
        self.cfg = cfg
        self.conversation = conversation
        self.echo = echo
        self._open = opener
        self.source: AudioSource | None = None
        self.sink: AudioSink | None = None
        self.failures = 0
        self.running = False  # run() is alive (the daemon's watchdog asks)

    @property
    def connected(self) -> bool:
        return self.source is not None

    async def run(self) -> None:
        self.running = True
        try:
            await self._run()
        finally:
            self.running = False

    async def _run(self) -> None:
        delay = self.cfg.reopen_secs
        while True:
            try:
                self._attach(*self._open(self.cfg))
                if self.failures:
                    log.warning("local audio is back after %d failed attempt(s)", self.failures)
                self.failures = 0
                delay = self.cfg.reopen_secs
                await self._pump()
            except AudioDeviceError as exc:
                self._detach()
                self.failures += 1
                # Say it loudly once, then quietly until it comes back.
                level = logging.WARNING if self.failures == 1 else logging.DEBUG
                log.log(level, "local audio unavailable: %s; retrying in %.0f s", exc, delay)
                if self.failures == 1:
                    self.conversation.bus.publish(
                        ev.ErrorEvent(
                            session_id=self.conversation.session_id,
                            message=f"local audio unavailable: {exc}",
                        )
                    )
                await wait_for_hotplug(delay)
                delay = min(MAX_RETRY_SECS, delay * 2)
            except asyncio.CancelledError:
                self._detach()
                raise

    async def _pump(self) -> None:
        assert self.source is not None
        async for frame in self.source.frames():
            self.conversation.feed_audio(frame)
            failed = getattr(self.sink, "failed", None)
            if failed is not None:
                raise failed
        raise AudioDeviceError("the microphone stream ended")

    def _attach(self, source: AudioSource, sink: AudioSink) -> None:
        self.source = source
        self.sink = EchoReferenceSink(sink, self.echo) if self.echo is not None else sink
        self.conversation.attach_sink(self.sink)

    def _detach(self) -> None:
        self.conversation.attach_sink(None)  # text-only until the device is back
        for part in (self.source, self.sink):
            close = getattr(part, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:  # a dead device may fail to close, too
                    log.debug("closing the audio device failed: %s", exc)
        self.source = self.sink = None


async def wait_for_hotplug(secs: float, poll: float = 1.0) -> bool:
    """Sleeps up to `secs` (the back-off), less when a sound card is plugged in or out."""
    before = sound_devices_signature()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + secs
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(poll, left))
        if sound_devices_signature() != before:
            log.info("sound devices changed: trying the local audio again")
            return True
    return False
