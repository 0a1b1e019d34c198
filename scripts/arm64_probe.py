"""What scripts/check-arm64 runs inside the arm64 root file system, with the installed venv.

It proves that every native piece is an aarch64 build and that each engine answers:
the native libraries' ELF machine, a TTS render and its transcription (`rtvi-edge say`,
`rtvi-edge transcribe`), then the daemon itself: `/health`, a typed `send-text` answered
in words and audio, and the rendered WAV spoken to it as a voice turn. Prints one
line per fact; exits non-zero at the first thing that fails.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from pathlib import Path
from typing import Any

ELF_MACHINES = {183: "aarch64", 62: "x86_64", 40: "arm"}
# The modules with native code that the default engines (and the optional ones) load.
NATIVE = [
    "numpy", "soxr", "onnxruntime", "ctranslate2", "faster_whisper", "piper", "llama_cpp",
    "pocketsphinx", "vosk", "webrtcvad", "pymicro_wakeword", "pymicro_vad",
    "aec_audio_processing", "pyaudio", "systemd.daemon", "aiohttp", "yarl",
]  # fmt: skip
SAY = "Turn on the kitchen light and tell me the weather."
WORK = Path(os.environ.get("PROBE_DIR", "/tmp/rtvi-arm64-probe"))


def elf_machine(path: Path) -> str:
    head = path.read_bytes()[:20]
    if head[:4] != b"\x7fELF":
        return "not ELF"
    return ELF_MACHINES.get(int.from_bytes(head[18:20], "little"), "other")


def check_native() -> None:
    print(f"python {platform.python_version()} on {platform.machine()} ({sys.platform})")
    for name in NATIVE:
        try:
            mod = importlib.import_module(name)
        except ImportError as exc:
            print(f"  {name}: NOT LOADED ({exc})")
            continue
        root = Path(mod.__file__ or "").parent
        libs = [*root.rglob("*.so"), *root.rglob("*.so.*")]
        if not libs and mod.__file__ and mod.__file__.endswith(".so"):
            libs = [Path(mod.__file__)]
        if not libs:  # a top-level extension beside its package (pyaudio, webrtcvad)
            stem = name.split(".")[0]
            libs = list(Path(root).glob(f"_{stem}*.so")) + list(Path(root).glob(f"{stem}*.so"))
        arches = sorted({elf_machine(p) for p in libs}) or ["pure Python"]
        version = getattr(mod, "__version__", "")
        print(f"  {name} {version}: loaded; {len(libs)} native libs: {', '.join(arches)}")
        if any(a not in ("aarch64", "pure Python") for a in arches):
            raise SystemExit(f"{name} carries a library for another machine")


def run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=1800, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(port: int) -> Path:
    config = WORK / "config.toml"
    config.write_text(
        f'[device]\nstate_dir = "{WORK / "state"}"\nlocal_session = false\n'
        '[audio]\nbackend = "none"\n'
        f'[rtvi]\nhost = "127.0.0.1"\nport = {port}\n'
        "[mqtt]\nenabled = false\n"
    )
    return config


def wav_16k(path: Path) -> bytes:
    import numpy as np
    import soxr

    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    out = soxr.resample(pcm.astype(np.float32) / 32768, rate, 16000)
    return bytes((np.clip(out, -1, 1) * 32767).astype(np.int16).tobytes())


async def talk(url: str, speech: bytes) -> None:
    import aiohttp

    from rtvi_edge.rtvi import frames

    def msg(mtype: str, data: dict[str, Any]) -> bytes:
        body = {"label": "rtvi-ai", "type": mtype, "id": mtype, "data": data}
        return frames.encode_message(json.dumps(body))

    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_bytes(msg("client-ready", {"version": "2.1.0", "about": {"library": "a"}}))

        async def turn(label: str, timeout: float) -> None:
            words: list[str] = []
            audio = 0
            heard = ""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                m = await ws.receive(timeout=deadline - time.monotonic())
                if m.type != aiohttp.WSMsgType.BINARY:
                    raise SystemExit(f"{label}: the socket closed ({m.type})")
                frame = frames.decode_frame(m.data)
                if isinstance(frame, frames.AudioFrame):
                    audio += len(frame.audio)
                    continue
                if not isinstance(frame, frames.MessageFrame):
                    continue
                data = json.loads(frame.data)
                kind, body = data["type"], data.get("data") or {}
                if kind == "user-transcription" and body.get("final"):
                    heard = body.get("text", "")
                elif kind == "bot-llm-text":
                    words.append(body.get("text", ""))
                elif kind == "bot-stopped-speaking":
                    if heard:
                        print(f"  {label}: heard {heard!r}")
                    print(f"  {label}: answered {''.join(words).strip()!r}, {audio} bytes of audio")
                    if not audio:
                        raise SystemExit(f"{label}: no audio")
                    return
            raise SystemExit(f"{label}: no answer in {timeout:.0f} s")

        await asyncio.wait_for(_until(ws, "bot-ready", frames), 600)
        print("  bot-ready")
        await ws.send_bytes(msg("send-text", {"content": "What is the capital of France?"}))
        await turn("typed chat", 1800)
        silence = b"\0" * 16000  # half a second: the turn's end is silence after speech
        for pcm in (silence, speech, silence * 6):
            for i in range(0, len(pcm), 512):
                await ws.send_bytes(frames.encode_audio(pcm[i : i + 512], 16000, 1))
        await turn("voice turn", 1800)


async def _until(ws: Any, kind: str, frames: Any) -> None:
    while True:
        m = await ws.receive()
        frame = frames.decode_frame(m.data)
        if isinstance(frame, frames.MessageFrame) and json.loads(frame.data)["type"] == kind:
            return


def check_daemon(speech: bytes) -> None:
    port = free_port()
    config = write_config(port)
    log = (WORK / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "rtvi_edge", "--config", str(config), "run"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        t0 = time.monotonic()
        health = None
        while time.monotonic() - t0 < 1800 and daemon.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    health = json.loads(r.read())  # 200: ready (503 while starting)
                    break
            except OSError:
                pass
            time.sleep(2)
        if health is None:
            raise SystemExit(
                "the daemon never answered /health:\n" + (WORK / "daemon.log").read_text()
            )
        print(f"  /health after {time.monotonic() - t0:.0f} s (emulated): {json.dumps(health)}")
        asyncio.run(talk(f"ws://127.0.0.1:{port}/ws", speech))
    finally:
        daemon.terminate()
        print(f"  daemon stopped, exit {daemon.wait(60)}")


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    print("native libraries:")
    check_native()
    print("engines (rtvi-edge say, then transcribe what it said):")
    wav = WORK / "say.wav"
    run(sys.executable, "-m", "rtvi_edge", "say", SAY, "--out", str(wav))
    with wave.open(str(wav)) as w:
        print(f"  TTS: {w.getnframes() / w.getframerate():.2f} s of audio at {w.getframerate()} Hz")
    print(f"  STT: {run(sys.executable, '-m', 'rtvi_edge', 'transcribe', str(wav))!r}")
    print("daemon:")
    check_daemon(wav_16k(wav))
    print("arm64 probe: PASS")


if __name__ == "__main__":
    main()
