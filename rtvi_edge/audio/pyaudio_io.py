"""PyAudio (PortAudio) capture and playback, chosen by device name or index.

Capture runs in PortAudio's callback thread and hands frames to the event
loop; playback writes from a worker thread. The device's own rate is used
when 16 kHz is not supported, and resampled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from rtvi_edge.audio.pcm import apply_gain, resample
from rtvi_edge.audio.quiet import quiet_sound_libraries
from rtvi_edge.audio.sink import AudioSink, Pacer
from rtvi_edge.config import AudioConfig
from rtvi_edge.errors import AudioDeviceError

log = logging.getLogger(__name__)

SILENT_DEVICE_SECS = 2.0


def _pyaudio() -> Any:
    try:
        import pyaudio
    except ImportError as exc:
        raise AudioDeviceError(
            "PyAudio is not installed (pip install 'rtvi-edge[audio]'; needs portaudio19-dev)"
        ) from exc
    return pyaudio


def list_devices() -> list[dict[str, Any]]:
    with quiet_sound_libraries():
        pa = _pyaudio().PyAudio()
        try:
            return [pa.get_device_info_by_index(i) for i in range(pa.get_device_count())]
        finally:
            pa.terminate()


def find_device(pa: Any, wanted: str, want_input: bool) -> dict[str, Any]:
    key = "maxInputChannels" if want_input else "maxOutputChannels"
    kind = "input" if want_input else "output"
    if not wanted:
        try:
            info: dict[str, Any] = (
                pa.get_default_input_device_info()
                if want_input
                else pa.get_default_output_device_info()
            )
            return info
        except OSError as exc:
            raise AudioDeviceError(f"no default {kind} device") from exc
    devices = [pa.get_device_info_by_index(i) for i in range(pa.get_device_count())]
    if wanted.isdigit():
        matches = [d for d in devices if d["index"] == int(wanted) and d[key] > 0]
    else:
        matches = [d for d in devices if wanted.lower() in d["name"].lower() and d[key] > 0]
    if not matches:
        names = ", ".join(f"{d['index']}: {d['name']}" for d in devices if d[key] > 0) or "none"
        raise AudioDeviceError(f"no {kind} device matches {wanted!r} (have: {names})")
    found: dict[str, Any] = matches[0]
    return found


class PyAudioSource:
    def __init__(self, pa: Any, device: dict[str, Any], rate: int, frame_ms: int) -> None:
        self._rate = rate
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=100)
        self._loop = asyncio.get_running_loop()
        frames = int(rate * frame_ms / 1000)
        self._stream = pa.open(
            format=_pyaudio().paInt16,
            channels=1,
            rate=rate,
            input=True,
            input_device_index=device["index"],
            frames_per_buffer=frames,
            stream_callback=self._callback,
        )

    def _callback(self, data: bytes, *_: Any) -> tuple[None, int]:
        def put() -> None:
            if self._queue.full():
                self._queue.get_nowait()  # the pipeline fell behind: drop the oldest
            self._queue.put_nowait(data)

        self._loop.call_soon_threadsafe(put)
        return None, _pyaudio().paContinue

    async def frames(self) -> AsyncIterator[bytes]:
        while True:
            try:
                data = await asyncio.wait_for(self._queue.get(), SILENT_DEVICE_SECS)
            except TimeoutError:
                # PortAudio stops calling back when a USB mic is unplugged.
                raise AudioDeviceError(
                    f"no audio from the microphone for {SILENT_DEVICE_SECS:g} s "
                    "(unplugged, or taken by another program?)"
                ) from None
            yield resample(data, self._rate, 16000)

    def close(self) -> None:
        self._stream.stop_stream()
        self._stream.close()


class PyAudioSink:
    def __init__(self, pa: Any, device: dict[str, Any], rate: int, volume: float) -> None:
        self.sample_rate = rate
        self.volume = volume
        self._pacer = Pacer(lead=0.1)
        self.failed: AudioDeviceError | None = None  # the supervisor reopens the device
        self._stream = pa.open(
            format=_pyaudio().paInt16,
            channels=1,
            rate=rate,
            output=True,
            output_device_index=device["index"],
        )

    async def play(self, pcm: bytes) -> None:
        await self._pacer.wait_turn(len(pcm) / 2 / self.sample_rate)
        try:
            await asyncio.to_thread(self._stream.write, apply_gain(pcm, self.volume))
        except OSError as exc:
            self.failed = AudioDeviceError(f"speaker: {exc}")
            raise self.failed from exc

    def buffered(self) -> float:
        return self._pacer.buffered()

    async def discard(self) -> None:
        self._pacer.reset()

    def close(self) -> None:
        self._stream.stop_stream()
        self._stream.close()


def _supported_rate(pa: Any, device: dict[str, Any], wanted: int, want_input: bool) -> int:
    for rate in (wanted, int(device["defaultSampleRate"])):
        try:
            kw: dict[str, Any] = {
                ("input_device" if want_input else "output_device"): device["index"],
                ("input_channels" if want_input else "output_channels"): 1,
                ("input_format" if want_input else "output_format"): _pyaudio().paInt16,
            }
            if pa.is_format_supported(rate, **kw):
                return rate
        except ValueError:
            continue
    raise AudioDeviceError(f"{device['name']}: neither {wanted} Hz nor its default rate works")


def open_pyaudio(cfg: AudioConfig) -> tuple[PyAudioSource, AudioSink]:
    with quiet_sound_libraries():  # ALSA/JACK print dozens of lines per probe
        source, sink, opened = _open_pyaudio(cfg)
    log.info("local audio: %s", opened)  # outside: our stderr is back
    return source, sink


def _open_pyaudio(cfg: AudioConfig) -> tuple[PyAudioSource, AudioSink, str]:
    pyaudio = _pyaudio()
    pa = pyaudio.PyAudio()
    try:
        if pa.get_device_count() == 0:
            raise AudioDeviceError("PortAudio sees no sound devices")
        mic = find_device(pa, cfg.input_device, True)
        spk = find_device(pa, cfg.output_device, False)
        in_rate = _supported_rate(pa, mic, cfg.input_rate, True)
        out_rate = _supported_rate(pa, spk, cfg.output_rate, False)
        source = PyAudioSource(pa, mic, in_rate, cfg.frame_ms)
        sink = PyAudioSink(pa, spk, out_rate, cfg.volume)
    except AudioDeviceError:
        pa.terminate()
        raise
    except OSError as exc:
        pa.terminate()
        raise AudioDeviceError(f"PortAudio: {exc}") from exc
    opened = f"mic {mic['name']!r} at {in_rate} Hz, speaker {spk['name']!r} at {out_rate} Hz"
    return source, sink, opened
