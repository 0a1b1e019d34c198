"""Run by Home Assistant's own Python (>= 3.13, see scripts/setup-home-assistant):
a real Home Assistant, in-process, adds the device through the Wyoming integration's
config flow and uses each of its services. Prints one line: RESULT {json}.

Usage: python ha_wyoming_driver.py HOST PORT SPEECH_WAV WAKE_WAV
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import sys
import tempfile
import wave
from collections.abc import AsyncIterator
from typing import Any

from homeassistant import bootstrap, config_entries, core, loader
from homeassistant.components import conversation, stt, tts, wake_word
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.setup import async_setup_component


def pcm_of(path: str) -> bytes:
    with wave.open(path) as w:
        return w.readframes(w.getnframes())


async def start_home_assistant(config_dir: str) -> core.HomeAssistant:
    hass = core.HomeAssistant(config_dir)
    loader.async_setup(hass)
    hass.config_entries = config_entries.ConfigEntries(hass, {})
    await bootstrap.async_load_base_functionality(hass)
    await async_process_ha_core_config(hass, {"time_zone": "UTC", "unit_system": "metric"})
    hass.config.skip_pip = True  # the wyoming package is installed beside Home Assistant
    await hass.async_start()
    assert await async_setup_component(hass, "homeassistant", {})
    # stt and tts need the HTTP component; it refuses port 0, so take a free one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        http_port = probe.getsockname()[1]
    assert await async_setup_component(
        hass, "http", {"http": {"server_host": "127.0.0.1", "server_port": http_port}}
    )
    assert await async_setup_component(hass, "wyoming", {})
    return hass


async def drive(host: str, port: int, speech_wav: str, wake_wav: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    hass = await start_home_assistant(tempfile.mkdtemp())
    try:
        result = await hass.config_entries.flow.async_init(
            "wyoming", context={"source": "user"}, data={"host": host, "port": port}
        )
        out["flow"] = str(result["type"])
        await hass.async_block_till_done()
        entities = sorted(s.entity_id for s in hass.states.async_all())
        out["entities"] = entities

        def ours(domain: str) -> str:
            return next(e for e in entities if e.startswith(f"{domain}.rtvi_edge"))

        answer = await conversation.async_converse(
            hass, "what time is it", None, core.Context(), agent_id=ours("conversation")
        )
        out["conversation"] = answer.response.speech.get("plain", {}).get("speech")

        pcm = pcm_of(speech_wav)

        async def speech() -> AsyncIterator[bytes]:
            for i in range(0, len(pcm), 3200):
                yield pcm[i : i + 3200]

        stt_entity = stt.async_get_speech_to_text_entity(hass, ours("stt"))
        assert stt_entity is not None
        metadata = stt.SpeechMetadata(
            language="en",
            format=stt.AudioFormats.WAV,
            codec=stt.AudioCodecs.PCM,
            bit_rate=stt.AudioBitRates.BITRATE_16,
            sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
            channel=stt.AudioChannels.CHANNEL_MONO,
        )
        heard = await stt_entity.internal_async_process_audio_stream(metadata, speech())
        out["stt"] = heard.text

        engine = tts.get_engine_instance(hass, ours("tts"))
        assert engine is not None
        extension, data = await engine.async_get_tts_audio("Hello from the kitchen.", "en", {})
        out["tts"] = {"extension": extension}
        if data:
            with wave.open(io.BytesIO(data)) as w:
                out["tts"]["secs"] = w.getnframes() / w.getframerate()

        detector = wake_word.async_get_wake_word_detection_entity(hass, ours("wake_word"))
        assert detector is not None
        out["wake_words"] = [w.id for w in await detector.get_supported_wake_words()]
        wake_pcm = pcm_of(wake_wav)

        async def microphone() -> AsyncIterator[tuple[bytes, int]]:
            for i in range(0, len(wake_pcm), 1024):
                await asyncio.sleep(0.032)  # a satellite streams in real time
                yield wake_pcm[i : i + 1024], i // 32

        detection = await detector.async_process_audio_stream(microphone(), "alexa")
        out["wake"] = detection.wake_word_id if detection else None
    finally:
        await hass.async_stop()
    return out


if __name__ == "__main__":
    host, port, speech_wav, wake_wav = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    print("RESULT " + json.dumps(asyncio.run(drive(host, port, speech_wav, wake_wav))), flush=True)
