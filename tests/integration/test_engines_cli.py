"""Each engine with its real model, and the command line."""

from __future__ import annotations

import subprocess
import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from rtvi_edge.audio.wav import read_wav
from rtvi_edge.config import config_from_mapping
from rtvi_edge.engines.hub import build_stt
from rtvi_edge.errors import ConfigError, ModelNotFoundError

pytestmark = pytest.mark.integration


def test_pocketsphinx_streams_partials(speech: Callable[[str], Path]) -> None:
    stt = build_stt(config_from_mapping({"stt": {"engine": "pocketsphinx"}}))
    assert stt.streaming
    stream = stt.open_stream()
    # PocketSphinx is the fast, rough engine: on espeak's voice it gets the gist only.
    pcm = read_wav(speech("What is the weather today?"), 16000)
    partials = []
    for i in range(0, len(pcm), 3200):  # 100 ms at a time, like a microphone
        stream.feed(pcm[i : i + 3200])
        partials.append(stream.partial())
    final = stream.finish()
    assert any(p for p in partials[:-5]), "partial hypotheses while speaking"
    assert final.lower().startswith("what is"), final
    assert "whether" in final.lower() or "weather" in final.lower(), final


def test_vosk_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="models pull vosk-small-en-us"):
        build_stt(config_from_mapping({"stt": {"engine": "vosk"}}))
    with pytest.raises(ModelNotFoundError, match=str(tmp_path / "nope")):
        build_stt(config_from_mapping({"stt": {"engine": "vosk", "model": str(tmp_path / "nope")}}))


def rtvi_edge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtvi_edge", *args], capture_output=True, text=True, timeout=120
    )


def test_say_then_transcribe(tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    said = rtvi_edge("say", "Turn on the kitchen light", "--out", str(out))
    assert said.returncode == 0, said.stderr
    with wave.open(str(out)) as w:
        assert w.getframerate() == 22050 and w.getnframes() > 22050 * 0.8
    heard = rtvi_edge("transcribe", str(out))
    assert heard.returncode == 0, heard.stderr
    assert "kitchen light" in heard.stdout.lower()


def test_chat_and_devices(tmp_path: Path) -> None:
    chat = rtvi_edge("chat", "What is the capital of Italy?")
    assert chat.returncode == 0, chat.stderr
    # the model answered (what it says is the model's business, not the test's)
    assert chat.stdout.startswith("bot>") and chat.stdout.removeprefix("bot>").strip()
    devices = rtvi_edge("devices")
    assert devices.returncode == 0  # no sound card here: it says so instead of failing
    assert devices.stdout.strip()


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[llm]\nmodel = "{tmp_path}/missing.gguf"\n')
    run = rtvi_edge("--config", str(cfg), "chat", "hi")
    assert run.returncode == 1
    assert "missing.gguf does not exist" in run.stderr or "not found" in run.stderr


def test_daemon_on_the_file_backend(tmp_path: Path, speech: Callable[[str], Path]) -> None:
    """`rtvi-edge run` with a WAV as microphone answers into a WAV as speaker."""
    out = tmp_path / "spoken.wav"
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[audio]\nbackend = "file"\ninput_file = "{speech("What is two plus two?")}"\n'
        f'output_file = "{out}"\n[rtvi]\nenabled = false\n'
        f'[device]\nstate_dir = "{tmp_path / "state"}"\n[log]\njournald = "off"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtvi_edge", "--config", str(cfg), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if out.exists() and out.stat().st_size > 22050 * 2:  # over a second of answer
                break
            time.sleep(0.2)
    finally:
        proc.terminate()
        _stdout, stderr = proc.communicate(20)
    assert proc.returncode == 0, stderr[-2000:]
    audio = read_wav(out, 22050)
    assert len(audio) > 22050 * 2 * 0.5, stderr[-2000:]
