"""Run the real @pipecat-ai/client-js (tests/client/rtvi-client.mjs, under Node) against a server.

A plan is a dict (see the header of rtvi-client.mjs); the run comes back as the JSON lines the
client printed::

    wav = tmp_path / "q.wav"
    end_ms = make_speech_wav("What is the capital of France?", wav)
    run = await run_client({
        "wsUrl": f"ws://127.0.0.1:{port}/ws",
        "steps": [
            {"do": "connect"},
            speak_step(wav, end_ms),
            {"do": "wait", "event": "userTranscript", "where": {"final": True}},
            {"do": "wait", "event": "botStoppedSpeaking", "timeoutMs": 60000},
        ],
    })
    assert run.ok, run.failure()
    assert run.first("firstBotAudio")["msAfterSpeechEnd"] > 0

`run_client` is async so that a server running in the test's own event loop keeps serving;
`run_client_sync` is for a server in another process or thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CLIENT_DIR = Path(__file__).resolve().parents[1] / "client"
SCRIPT = CLIENT_DIR / "rtvi-client.mjs"
SAMPLE_RATE = 16000


@dataclass
class ClientRun:
    events: list[dict[str, Any]]
    ok: bool
    stderr: str
    returncode: int | None = None
    stdout_noise: list[str] = field(default_factory=list)  # non-JSON stdout lines, if any

    def of(self, name: str) -> list[dict[str, Any]]:
        """Every line of one kind: a callback (``userTranscript``), ``message``, ``botAudio``..."""
        return [e for e in self.events if e.get("event") == name]

    def first(self, name: str) -> dict[str, Any] | None:
        hits = self.of(name)
        return hits[0] if hits else None

    def messages(self, mtype: str) -> list[dict[str, Any]]:
        """The RTVI messages of one type the client received (``bot-ready``, ``config``...)."""
        return [e for e in self.of("message") if e.get("type") == mtype]

    def steps(self) -> list[dict[str, Any]]:
        return self.of("step")

    def data(self, name: str) -> list[Any]:
        """The ``data`` of every line of one kind."""
        return [e.get("data") for e in self.of(name)]

    def failure(self) -> str:
        """A short account of what went wrong, for assertion messages."""
        bad = [s for s in self.steps() if not s.get("ok")]
        done = self.first("done")
        errors = self.of("error") + self.of("harnessError")
        return (
            json.dumps(
                {"failed_steps": bad, "done": done, "errors": errors[:5], "rc": self.returncode},
                default=str,
            )
            + "\nstderr tail:\n"
            + self.stderr[-3000:]
        )


def ensure_client_installed() -> None:
    """node and tests/client/node_modules (scripts/setup installs them; else ``npm ci`` here)."""
    if shutil.which("node") is None:
        raise RuntimeError("node is needed for the RTVI test client (scripts/setup installs it)")
    if (CLIENT_DIR / "node_modules" / "@pipecat-ai" / "client-js").is_dir():
        return
    if shutil.which("npm") is None:
        raise RuntimeError("the RTVI test client is not installed and npm is missing")
    proc = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=CLIENT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"npm ci in {CLIENT_DIR} failed:\n{proc.stdout}\n{proc.stderr}")


def _plan_file(plan: dict[str, Any], timeout: float) -> str:
    # The client's own hard limit ends it a little before ours, so it still reports "done".
    full = {"timeoutMs": max(1000, int(timeout * 1000) - 2000), **plan}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(full, f)
        return f.name


def _parse(stdout: bytes, stderr: bytes, returncode: int | None) -> ClientRun:
    events: list[dict[str, Any]] = []
    noise: list[str] = []
    for line in stdout.decode(errors="replace").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            noise.append(line)
            continue
        if isinstance(obj, dict):
            events.append(obj)
        else:
            noise.append(line)
    done = [e for e in events if e.get("event") == "done"]
    ok = returncode == 0 and bool(done) and bool(done[-1].get("ok"))
    return ClientRun(events, ok, stderr.decode(errors="replace"), returncode, noise)


async def _drain(stream: asyncio.StreamReader | None, sink: bytearray) -> None:
    while stream is not None and (chunk := await stream.read(65536)):
        sink += chunk


async def run_client(plan: dict[str, Any], timeout: float = 90) -> ClientRun:
    """Runs one plan in Node; the event loop keeps serving meanwhile. Never outlives `timeout`
    (then the process is killed and what it printed so far comes back)."""
    ensure_client_installed()
    plan_path = _plan_file(plan, timeout)
    stdout, stderr = bytearray(), bytearray()
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        plan_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=CLIENT_DIR,
    )
    readers = asyncio.gather(_drain(proc.stdout, stdout), _drain(proc.stderr, stderr))
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await asyncio.wait_for(readers, 10)  # EOF follows the exit
    finally:
        if proc.returncode is None:  # cancelled: leave no process behind
            proc.kill()
            await proc.wait()
        readers.cancel()
        os.unlink(plan_path)  # a tiny file: blocking is fine here
    return _parse(bytes(stdout), bytes(stderr), proc.returncode)


def run_client_sync(plan: dict[str, Any], timeout: float = 90) -> ClientRun:
    """The same for a server that runs in another process or thread."""
    ensure_client_installed()
    plan_path = _plan_file(plan, timeout)
    try:
        with subprocess.Popen(
            ["node", str(SCRIPT), plan_path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=CLIENT_DIR,
        ) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate()
            return _parse(stdout, stderr, proc.returncode)
    finally:
        os.unlink(plan_path)


def wav_speech_end_ms(path: Path, threshold_dbfs: float = -40.0) -> float:
    """Where speech ends in a 16-bit mono WAV: the end of its last loud 10 ms block."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: need 16-bit mono")
        rate = w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
    block = rate // 100
    n = len(audio) // block
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(audio[: n * block].reshape(n, block) ** 2, axis=1))
    loud = np.nonzero(rms > 32768 * 10 ** (threshold_dbfs / 20))[0]
    return float((loud[-1] + 1) * block * 1000 / rate) if loud.size else 0.0


def make_speech_wav(text: str, path: Path, lead_s: float = 0.3, tail_s: float = 1.5) -> float:
    """espeak-ng speech as PCM s16le 16 kHz mono with silence around it (0.3 s before,
    1.5 s after); returns where the speech ends, in ms from the start of the file."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is needed (scripts/setup installs it)")
    raw = path.with_name(path.stem + ".espeak.wav")
    try:
        subprocess.run(
            ["espeak-ng", "-s", "150", "-w", str(raw), text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        subprocess.run(
            [
                "sox",
                str(raw),
                "-r",
                str(SAMPLE_RATE),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(path),
                "pad",
                str(lead_s),
                str(tail_s),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    finally:
        raw.unlink(missing_ok=True)
    return wav_speech_end_ms(path)


def speak_step(wav: Path, speech_end_ms: float | None = None) -> dict[str, Any]:
    """A ``speak`` step; the speech end defaults to the one measured in the file."""
    end = wav_speech_end_ms(wav) if speech_end_ms is None else speech_end_ms
    return {"do": "speak", "wav": str(wav), "speechEndOffsetMs": end}
