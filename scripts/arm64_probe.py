"""What scripts/check-arm64 runs inside the arm64 root file system, with the installed venv.

It proves that every native piece is an aarch64 build and that each engine answers:
each native library imported and its ELF machine read, each engine loaded and run on
a turn's input (Silero, Smart Turn, Piper, Whisper, llama.cpp, the wake word), the CLI
(`rtvi-edge say`, `rtvi-edge transcribe`), then the daemon itself: `/health`, a typed
`send-text` answered in words and audio, and the rendered WAV spoken to it as a voice turn.

Every check runs in its own Python process (unbuffered, with the fault handler on), so
one library that crashes (a segfault under the emulator) does not hide the rest: each
ends in one line, `[check] ok: …`, `[check] FAILED: exit N` or `[check] CRASHED: signal
11 (SIGSEGV)` followed by the end of its output (the fault handler's Python stack).
Exits non-zero when any check did not pass.

    python scripts/arm64_probe.py                 # everything
    python scripts/arm64_probe.py --only piper    # one check, in this process
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import signal
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
OPTIONAL = {"pymicro_vad"}  # not installed by scripts/install-pi
SAY = "Turn on the kitchen light and tell me the weather."
WORK = Path(os.environ.get("PROBE_DIR", "/tmp/rtvi-arm64-probe"))


def elf_machine(path: Path) -> str:
    head = path.read_bytes()[:20]
    if head[:4] != b"\x7fELF":
        return "not ELF"
    return ELF_MACHINES.get(int.from_bytes(head[18:20], "little"), "other")


def check_import(name: str) -> str:
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if name in OPTIONAL:
            return f"{name}: not installed (optional: {exc})"
        raise SystemExit(f"{name} is not installed: {exc}") from None
    file = Path(mod.__file__ or "")
    if file.name == "__init__.py":  # a package: every library inside it
        libs = [*file.parent.rglob("*.so"), *file.parent.rglob("*.so.*")]
    elif file.suffix == ".so":
        libs = [file]
    else:  # a top-level module beside its extension (webrtcvad.py and _webrtcvad*.so)
        libs = [*file.parent.glob(f"_{file.stem}*.so"), *file.parent.glob(f"{file.stem}*.so")]
    arches = sorted({elf_machine(p) for p in libs}) or ["pure Python"]
    if any(a not in (platform.machine(), "pure Python") for a in arches):
        raise SystemExit(f"{name} carries a library for another machine: {arches}")
    version = getattr(mod, "__version__", "")
    return f"{name} {version} loaded; {len(libs)} native libs: {', '.join(arches)}"


def _speech_or_tone() -> bytes:
    """The TTS check's speech at 16 kHz, or (if that check failed) a second of a tone."""
    wav = WORK / "say.wav"
    if wav.exists():
        return wav_16k(wav)
    import numpy as np

    t = np.arange(16000) / 16000
    return bytes((np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16).tobytes())


def check_engine(name: str) -> str:
    from rtvi_edge.config import Config
    from rtvi_edge.memory import tune_malloc

    tune_malloc()  # as the CLI does
    config = Config()
    if name == "silero":
        from rtvi_edge.engines.hub import build_vad

        vad = build_vad(config).open_stream()
        pcm = _speech_or_tone()
        probs = [vad.probability(pcm[i : i + 1024]) for i in range(0, len(pcm) - 1023, 1024)]
        return f"Silero VAD: max speech probability {max(probs):.2f} over {len(probs)} frames"
    if name == "smart_turn":
        from rtvi_edge.engines.turn_smart import SmartTurn, packaged_model

        turn = SmartTurn(packaged_model(), config.turn.threads)
        return f"Smart Turn: p(complete) {turn.probability(_speech_or_tone()):.2f}"
    if name == "piper":
        from rtvi_edge.audio.wav import write_wav
        from rtvi_edge.engines.hub import build_tts

        tts = build_tts(config)
        pcm = b"".join(tts.synthesize(SAY, 1.0))
        write_wav(WORK / "say.wav", pcm, tts.sample_rate)
        return f"Piper: {len(pcm) / 2 / tts.sample_rate:.2f} s of audio at {tts.sample_rate} Hz"
    if name == "whisper":
        from rtvi_edge.engines.hub import build_stt

        stream = build_stt(config).open_stream()
        stream.feed(_speech_or_tone())
        return f"Whisper: heard {stream.finish()!r}"
    if name == "llama":
        import threading

        from rtvi_edge.engines.base import GenerationParams, GenerationStats
        from rtvi_edge.engines.hub import build_llm

        messages = [
            {"role": "system", "content": config.llm.system_prompt},
            {"role": "user", "content": "What is the capital of France?"},
        ]
        params = GenerationParams(temperature=0.0, max_tokens=24)
        words = build_llm(config).stream_chat(
            messages, params, threading.Event(), GenerationStats()
        )
        return f"llama.cpp: answered {''.join(words).strip()!r}"
    if name == "wake_word":
        from rtvi_edge.audio.wake import WakeWordDetector

        wake = WakeWordDetector(config.wake.model)
        woke = wake.process(_speech_or_tone())
        return f"wake word {config.wake.model}: ran; woke on the speech: {woke}"
    raise SystemExit(f"no engine check {name!r}")


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


def check_cli() -> str:
    wav = WORK / "cli.wav"
    run(sys.executable, "-m", "rtvi_edge", "say", SAY, "--out", str(wav))
    with wave.open(str(wav)) as w:
        secs = w.getnframes() / w.getframerate()
    heard = run(sys.executable, "-m", "rtvi_edge", "transcribe", str(wav))
    return f"rtvi-edge say: {secs:.2f} s of audio; rtvi-edge transcribe: {heard!r}"


ENGINES = ["piper", "silero", "smart_turn", "whisper", "llama", "wake_word"]
CHECKS = [*(f"import:{n}" for n in NATIVE), *ENGINES, "cli", "daemon"]


def check(name: str) -> str:
    """One check, in this process; returns its one-line result or raises."""
    if name.startswith("import:"):
        return check_import(name.removeprefix("import:"))
    if name in ENGINES:
        return check_engine(name)
    if name == "cli":
        return check_cli()
    if name == "daemon":
        check_daemon(_speech_or_tone())
        return "the daemon answered a typed and a spoken turn"
    raise SystemExit(f"no check {name!r}; the checks: {', '.join(CHECKS)}")


def verdict(returncode: int) -> str:
    if returncode >= 0:
        return f"FAILED: exit {returncode}"
    try:
        sig = signal.Signals(-returncode).name
    except ValueError:
        sig = "?"
    return f"CRASHED: signal {-returncode} ({sig})"


def run_isolated(name: str, timeout: float) -> bool:
    """Runs one check in a fresh process; prints its lines and one verdict line."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    t0 = time.monotonic()
    try:
        child = subprocess.run(
            [sys.executable, __file__, "--only", name],
            capture_output=True, text=True, timeout=timeout, env=env, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        print(f"[{name}] FAILED: no result in {timeout:.0f} s", flush=True)
        return False
    secs = time.monotonic() - t0
    lines = child.stdout.strip().splitlines()
    result = [ln.removeprefix("RESULT ") for ln in lines if ln.startswith("RESULT ")]
    for line in lines:
        if not line.startswith("RESULT "):
            print(f"    {line}")
    if child.returncode == 0 and result:
        print(f"[{name}] ok ({secs:.0f} s): {result[-1]}", flush=True)
        return True
    print(f"[{name}] {verdict(child.returncode)} after {secs:.0f} s", flush=True)
    for line in (child.stderr.strip().splitlines())[-25:]:
        print(f"    | {line}")
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", metavar="CHECK", help="run one check here: " + ", ".join(CHECKS))
    ap.add_argument("--timeout", type=float, default=2400, help="seconds per check")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.only:
        print(f"RESULT {check(args.only)}")
        return 0
    print(f"python {platform.python_version()} on {platform.machine()} ({sys.platform}), "
          f"QEMU_CPU={os.environ.get('QEMU_CPU', '(qemu default)')}", flush=True)  # fmt: skip
    (WORK / "say.wav").unlink(missing_ok=True)
    failed = [name for name in CHECKS if not run_isolated(name, args.timeout)]
    if failed:
        print(f"arm64 probe: FAIL ({len(failed)} of {len(CHECKS)}: {', '.join(failed)})")
        return 1
    print(f"arm64 probe: PASS ({len(CHECKS)} checks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
