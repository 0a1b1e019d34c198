"""Audio from Home Assistant (answers, announcements, media): fetched over HTTP, decoded.

Home Assistant sends URLs; a relative one (`/api/tts_proxy/…`) is joined to its
base URL. The device lists WAV as its media format, so Home Assistant converts
everything to WAV for it; another format is decoded with ffmpeg when the
device has it, else refused with a clear error.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import struct
from urllib.parse import urljoin, urlsplit

import aiohttp
import numpy as np

from rtvi_edge.audio.pcm import resample
from rtvi_edge.errors import RtviEdgeError

log = logging.getLogger(__name__)

MAX_MEDIA_BYTES = 64 * 1024 * 1024
FETCH_TIMEOUT_SECS = 30.0


class MediaError(RtviEdgeError):
    """Home Assistant's audio could not be fetched or decoded."""


def absolute_url(url: str, base: str) -> str:
    full = urljoin(base.rstrip("/") + "/", url) if not urlsplit(url).scheme else url
    if urlsplit(full).scheme not in ("http", "https"):
        raise MediaError(f"cannot play {url!r}: only http(s) URLs are supported")
    return full


async def fetch(url: str) -> bytes:
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECS)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as resp:
            if resp.status != 200:
                raise MediaError(f"{url}: HTTP {resp.status}")
            body = bytearray()
            async for chunk in resp.content.iter_chunked(65536):
                body += chunk
                if len(body) > MAX_MEDIA_BYTES:
                    raise MediaError(f"{url}: more than {MAX_MEDIA_BYTES} bytes")
            return bytes(body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise MediaError(f"{url}: {exc or type(exc).__name__}") from exc


async def decode(data: bytes, rate: int) -> bytes:
    """Mono s16le at `rate` from WAV (or anything ffmpeg reads, when it is installed)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return pcm_from_wav(data, rate)
    if shutil.which("ffmpeg") is None:
        raise MediaError(
            "Home Assistant sent audio that is not WAV and ffmpeg is not installed; "
            "the device asks for WAV, so check the media player's format in Home Assistant"
        )
    return await _ffmpeg(data, rate)


def pcm_from_wav(data: bytes, rate: int) -> bytes:
    """A tolerant WAV reader: a streamed WAV may declare a wrong or open-ended data size."""
    channels = width = src_rate = 0
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt, channels, src_rate = struct.unpack_from("<HHI", data, body)
            width = struct.unpack_from("<H", data, body + 14)[0] // 8
            if fmt not in (1, 0xFFFE):
                raise MediaError(f"WAV format {fmt} is not PCM")
        elif chunk_id == b"data":
            if not channels:
                raise MediaError("WAV data before its format chunk")
            raw = data[body : min(len(data), body + size) if size else len(data)]
            return _to_mono16(raw, channels, width, src_rate, rate)
        pos = body + size + (size & 1)
    raise MediaError("WAV without audio data")


def _to_mono16(raw: bytes, channels: int, width: int, src_rate: int, rate: int) -> bytes:
    raw = raw[: len(raw) - len(raw) % (width * channels)] if width and channels else b""
    if width == 2:
        audio = np.frombuffer(raw, np.int16)
    elif width == 1:
        audio = ((np.frombuffer(raw, np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    elif width == 4:
        audio = (np.frombuffer(raw, np.int32) >> 16).astype(np.int16)
    else:
        raise MediaError(f"{width * 8}-bit WAV is not supported")
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return resample(audio.tobytes(), src_rate, rate)


async def _ffmpeg(data: bytes, rate: int) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(rate),
        "pipe:1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate(data)
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg could not decode the audio: {err.decode(errors='replace')}")
    return out
