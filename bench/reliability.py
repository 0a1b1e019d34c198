"""`scripts/reliability`: does the daemon keep serving? Fuzz, lockout, soak, broker loss.

Runs the real daemon (`python -m rtvi_edge run`, its own process, 127.0.0.1, no
sound card) and measures from outside:

* fuzz: bad inputs over RTVI (many sockets) and MQTT (a real mosquitto); every
  input must be answered (an RTVI error-response, an MQTT reply on the response
  topic), no session may be lost and the daemon must not crash;
* lockout: silent sockets that never send client-ready must not keep a real
  client out, and a full device answers 503 before the upgrade;
* soak: N clients taking turns for a while; RSS, open fds and threads sampled,
  growth after warm-up reported (and whether RSS levels off);
* broker: the broker killed for a while; time from its return to the device
  being back online.

    python -m bench.reliability all --fuzz 100000 --soak-secs 3600
    python -m bench.reliability fuzz --fuzz 2000        # a short run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.run import ROOT, free_port
from rtvi_edge.rtvi import frames

LABEL = "rtvi-ai"


# -- the daemon under test ------------------------------------------------------
class DaemonProcess:
    def __init__(
        self,
        work: Path,
        extra: str = "",
        level: str = "warning",
        rtvi: str = "",
        trace: Path | None = None,
    ) -> None:
        """`extra`: more TOML sections; `rtvi`: more lines for the [rtvi] section;
        `trace`: RSS every 20 ms with the engines in flight (bench/memory_trace.py)."""
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = work / "daemon.log"
        cfg = work / "reliability.toml"
        cfg.write_text(
            f'[rtvi]\nhost = "127.0.0.1"\nport = {self.port}\n{rtvi}'
            f'[audio]\nbackend = "none"\n'
            f'[device]\nstate_dir = "{work / "state"}"\ndevice_id = "reliability"\n'
            f'[log]\njournald = "off"\nlevel = "{level}"\n{extra}'
        )
        self._log = self.log_path.open("wb")
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if trace is not None:
            env["RTVI_MEMORY_TRACE"] = str(trace)
        module = "bench.memory_trace" if trace is not None else "rtvi_edge"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "--config", str(cfg), "run"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"daemon exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise SystemExit("daemon not ready within 300 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def sample(self) -> dict[str, float]:
        pid = self.proc.pid
        out: dict[str, float] = {"t": time.monotonic()}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "VmRSS":
                out["rss_mib"] = int(value.split()[0]) / 1024
            elif key == "VmHWM":  # the true peak: samples 10 s apart miss the tops
                out["hwm_mib"] = int(value.split()[0]) / 1024
            elif key == "Threads":
                out["threads"] = int(value)
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
        return out

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def tracebacks(self) -> int:
        try:
            return self.log_path.read_text(errors="replace").count("Traceback")
        except OSError:
            return 0

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return int(self.proc.returncode or 0)


def rtvi(mtype: str, data: Any = None, msg_id: str = "1") -> bytes:
    obj: dict[str, Any] = {"label": LABEL, "type": mtype, "id": msg_id}
    if data is not None:
        obj["data"] = data
    return frames.encode_message(json.dumps(obj))


def raw_message(text: str) -> bytes:
    """A message frame holding any text (surrogates kept, as a buggy client would send)."""
    data = text.encode("utf-8", "surrogatepass")
    inner = bytes([0x0A]) + _varint(len(data)) + data
    return bytes([0x22]) + _varint(len(inner)) + inner


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


# -- bad inputs -------------------------------------------------------------------
def bad_rtvi_input(rng: random.Random, i: int) -> tuple[str, bytes | str]:
    """One input that must be refused with an error-response (kind, payload)."""
    kind = rng.randrange(14)
    mid = f"f{i}"
    if kind == 0:
        return "garbage-frame", bytes([0xFF]) + rng.randbytes(rng.randrange(1, 200))
    if kind == 1:
        text = '{"label":"rtvi-ai","type":"send-text","id":"' + mid + '","data":'
        return "truncated-json", frames.encode_message(text[: rng.randrange(5, len(text))])
    if kind == 2:
        depth = rng.choice([40, 200, 5000, 100000])
        return "deep-json", frames.encode_message("[" * depth + "]" * depth)
    if kind == 3:
        digits = rng.choice([100, 4301, 10000])
        return "long-int", frames.encode_message(
            '{"label":"rtvi-ai","type":"get-config","id":' + "9" * digits + "}"
        )
    if kind == 4:
        where = rng.randrange(3)
        if where == 0:
            text = '{"label":"rtvi-ai","type":"send-text","id":"a\\ud800","data":{"content":"x"}}'
        elif where == 1:
            text = (
                '{"label":"rtvi-ai","type":"send-text","id":"' + mid + '",'
                '"data":{"content":"hello \\udfff"}}'
            )
        else:
            text = '{"label":"rtvi-ai","type":"get-config","id":"' + mid + '","\\ud83d":1}'
        return "surrogate-escape", frames.encode_message(text)
    if kind == 5:
        text = '{"label":"rtvi-ai","type":"send-text","id":"x\ud800","data":{}}'
        return "surrogate-raw", raw_message(text)
    if kind == 6:
        bad = rng.choice(["warp", "", "client-readyy", "bot-ready", "error"])
        return "unknown-type", rtvi(bad, {}, mid)
    if kind == 7:
        field = rng.choice(
            [
                ("send-text", {"content": 5}),
                ("send-text", {"content": "x", "options": []}),
                ("append-to-context", {"role": 1, "content": "x"}),
                ("update-config", {"config": {}}),
                ("action", {"service": 3, "action": "say"}),
                ("client-message", {"t": None}),
                ("llm-function-call-result", {"function_name": "f"}),
            ]
        )
        return "wrong-type", rtvi(field[0], field[1], mid)
    if kind == 8:
        return "unknown-action", rtvi("action", {"service": "tts", "action": "sing"}, mid)
    if kind == 9:
        return "unknown-call-result", rtvi(
            "llm-function-call-result",
            {"function_name": "f", "tool_call_id": f"nope{i}", "arguments": {}, "result": 1},
            mid,
        )
    if kind == 10:
        return "text-frame", "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(40)))
    if kind == 11:
        return "bad-label", frames.encode_message(
            json.dumps(
                {"label": rng.choice(["", "rtvi", None, 7]), "type": "get-config", "id": mid}
            )
        )
    if kind == 12:
        return "not-object", frames.encode_message(rng.choice(["[]", "1", "null", '"x"', "true"]))
    return "odd-audio", frames.encode_audio(b"\x00" * (2 * rng.randrange(1, 100) + 1), 16000, 1)


async def _read_message(ws: aiohttp.ClientWebSocketResponse, timeout: float) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise ConnectionError(f"socket ended: {msg.type.name}")
        frame = frames.decode_frame(msg.data)
        if isinstance(frame, frames.MessageFrame):
            parsed: dict[str, Any] = json.loads(frame.data)
            return parsed


async def _connect(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """A socket, waiting while the device is full (the sockets just closed still count
    until the server has torn their sessions down)."""
    for _ in range(100):
        try:
            return await http.ws_connect(f"{url}/ws", max_msg_size=0)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status != 503:
                raise
            await asyncio.sleep(0.1)
    return await http.ws_connect(f"{url}/ws", max_msg_size=0)


async def _fuzz_connection(
    url: str, inputs: list[tuple[str, bytes | str]], stats: dict[str, Any]
) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await _connect(http, url)
        try:
            # A few inputs before client-ready: refused, nothing served.
            pre = inputs[:3]
            for _kind, data in pre:
                await (ws.send_str(data) if isinstance(data, str) else ws.send_bytes(data))
            for _ in pre:
                reply = await _read_message(ws, 60)
                stats["answered"] += reply["type"] == "error-response"
            await ws.send_bytes(rtvi("client-ready", {"version": "2.1.0"}, "ready"))
            while (await _read_message(ws, 60))["type"] != "bot-ready":
                pass
            rest = inputs[3:]
            for start in range(0, len(rest), 32):
                batch = rest[start : start + 32]
                for _kind, data in batch:
                    await (ws.send_str(data) if isinstance(data, str) else ws.send_bytes(data))
                got = 0
                while got < len(batch):
                    reply = await _read_message(ws, 60)
                    if reply["type"] == "error-response":
                        got += 1
                    else:
                        stats["other"].append(reply["type"])
                stats["answered"] += got
            await ws.send_bytes(rtvi("get-config", None, "still-here"))
            while (await _read_message(ws, 60)).get("id") != "still-here":
                pass
            stats["sessions_kept"] += 1
        except (ConnectionError, TimeoutError, aiohttp.ClientError) as exc:
            stats["sessions_lost"] += 1
            stats["errors"].append(repr(exc))
        finally:
            await ws.close()


async def fuzz_rtvi(url: str, count: int, connections: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    inputs = [bad_rtvi_input(rng, i) for i in range(count)]
    kinds: dict[str, int] = {}
    for kind, _ in inputs:
        kinds[kind] = kinds.get(kind, 0) + 1
    stats: dict[str, Any] = {
        "answered": 0,
        "sessions_kept": 0,
        "sessions_lost": 0,
        "errors": [],
        "other": [],
    }
    per_conn = max(50, count // connections)
    chunks = [inputs[i : i + per_conn] for i in range(0, len(inputs), per_conn)]
    t0 = time.monotonic()
    parallel = 4  # the default max_sessions: more would be refused at client-ready
    for start in range(0, len(chunks), parallel):
        await asyncio.gather(
            *(_fuzz_connection(url, c, stats) for c in chunks[start : start + parallel])
        )
    return {
        "inputs": count,
        "answered": stats["answered"],
        "connections": len(chunks),
        "sessions_kept": stats["sessions_kept"],
        "sessions_lost": stats["sessions_lost"],
        "unexpected_replies": len(stats["other"]),
        "errors": stats["errors"][:5],
        "kinds": kinds,
        "secs": round(time.monotonic() - t0, 1),
    }


def bad_mqtt_input(rng: random.Random, i: int) -> tuple[str, bytes]:
    kind = rng.randrange(8)
    if kind == 0:
        return "ask", b'{"text":"hello \\ud800"}'
    if kind == 1:
        return "action", b"[" * rng.choice([40, 5000, 100000]) + b"]" * 3
    if kind == 2:
        return "config/set", b'{"config":[{"service":"llm","options":[{"name":"x","value":' + (
            b"9" * 5000
        ) + b"}]}]}"
    if kind == 3:
        return "say", rng.randbytes(rng.randrange(1, 64)) + b"\xff"
    if kind == 4:
        return "volume/set", rng.choice([b"loud", b"1e999999", b"-5", b"[1]", b"9" * 5000])
    if kind == 5:
        return "mute/set", rng.choice([b"maybe", b"", b"\xff\xfe", b'{"a":"\\udc00"}'])
    if kind == 6:
        return "action", json.dumps({"service": "tts", "action": "sing", "id": i}).encode()
    return "config/set", rng.choice([b"{}", b"[1,2]", b"not json", b'{"config":"x"}'])


def fuzz_mqtt(work: Path, count: int, seed: int) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from tests.integration.mosquitto import Mosquitto

    broker = Mosquitto(work / "broker-fuzz")
    broker.start()
    daemon = DaemonProcess(
        work,
        f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\n'
        'base_topic = "fuzz"\ndiscovery = false\n',
    )
    rng = random.Random(seed)
    replies: set[int] = set()
    errors = 0
    lock = threading.Lock()
    online = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        nonlocal errors
        if msg.topic == "fuzz/availability":
            if msg.payload == b"online":
                online.set()
            return
        if msg.topic == "fuzz/event/error":
            with lock:
                errors += 1
            return
        corr = getattr(msg.properties, "CorrelationData", None)
        if corr is not None:
            with lock:
                replies.add(int(bytes(corr)))

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="fuzzer",
        protocol=mqtt.MQTTv5,
    )
    client.on_message = on_message
    client.max_inflight_messages_set(200)
    client.connect("127.0.0.1", broker.port)
    client.subscribe([("fuzz/reply", 0), ("fuzz/event/error", 0), ("fuzz/availability", 0)])
    client.loop_start()
    t0 = time.monotonic()
    try:
        if not online.wait(60):
            raise SystemExit("the daemon did not come online on MQTT")
        kinds: dict[str, int] = {}
        for i in range(count):
            kind, payload = bad_mqtt_input(rng, i)
            kinds[kind] = kinds.get(kind, 0) + 1
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = "fuzz/reply"
            props.CorrelationData = str(i).encode()
            client.publish(f"fuzz/{kind}", payload, qos=0, properties=props)
            while i - len(replies) > 200:  # keep a bounded window in flight
                time.sleep(0.002)
                if not daemon.alive:
                    break
        deadline = time.monotonic() + 60
        while len(replies) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return {
            "inputs": count,
            "answered_on_response_topic": len(replies),
            "error_events": errors,
            "kinds": kinds,
            "daemon_alive": daemon.alive,
            "secs": round(time.monotonic() - t0, 1),
            "tracebacks_in_log": daemon.tracebacks(),
        }
    finally:
        client.loop_stop()
        client.disconnect()
        daemon.stop()
        broker.stop()


# -- lockout ------------------------------------------------------------------------
async def lockout(url: str, silent: int, max_sessions: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        silent_ws = []
        for _ in range(silent):
            silent_ws.append(await http.ws_connect(f"{url}/ws"))
        early = await http.ws_connect(f"{url}/ws")
        await early.send_bytes(rtvi("get-config", None, "too-early"))
        early_reply = await _read_message(early, 10)
        await early.close()
        real = await http.ws_connect(f"{url}/ws")
        await real.send_bytes(rtvi("client-ready", {"version": "2.1.0"}, "r"))
        first = await _read_message(real, 30)
        ready = [real]
        for _ in range(max_sessions - 1):
            ws = await http.ws_connect(f"{url}/ws")
            await ws.send_bytes(rtvi("client-ready", {"version": "2.1.0"}, "r"))
            await _read_message(ws, 30)
            ready.append(ws)
        try:
            await http.ws_connect(f"{url}/ws")
            over_status = 101
        except aiohttp.WSServerHandshakeError as exc:
            over_status = exc.status
        t0 = time.monotonic()
        closed = 0
        for ws in silent_ws:
            try:
                while True:
                    msg = await ws.receive(timeout=60)
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        closed += 1
                        break
            except TimeoutError:
                pass
        silent_closed_after = time.monotonic() - t0
        for ws in ready + silent_ws:
            await ws.close()
    return {
        "silent_sockets": silent,
        "request_before_client_ready": early_reply.get("type"),
        "real_client_first_message": first.get("type"),
        "over_limit_status": over_status,
        "silent_sockets_closed": closed,
        "silent_closed_within_secs": round(silent_closed_after, 1),
    }


# -- soak ----------------------------------------------------------------------------
PROMPTS = [
    "Say hello in five words.",
    "What is two plus two?",
    "Name a colour.",
    "What time is it?",
    "Tell me a very short fact about the moon.",
]


async def _soak_turn(
    ws: aiohttp.ClientWebSocketResponse, rng: random.Random, stats: dict[str, Any]
) -> None:
    """One typed turn, spoken or not; done when the bot has finished (or 120 s passed)."""
    speak = rng.random() < 0.5
    options = {"audio_response": speak}
    await ws.send_bytes(rtvi("send-text", {"content": rng.choice(PROMPTS), "options": options}))
    t0 = time.monotonic()
    llm_done = spoke = answered = False
    while True:
        left = t0 + 120 - time.monotonic()
        if left <= 0:
            stats["slow_turns"] += 1
            return
        # A text-only local intent (no LLM) ends with its words: quiet for 3 s means done.
        quiet_end = answered and not speak and not spoke
        try:
            reply = await _read_message(ws, min(left, 3.0) if quiet_end else left)
        except TimeoutError:
            if quiet_end:
                break
            continue
        kind = reply["type"]
        if kind in ("error", "error-response"):
            stats["errors"].append(reply.get("data"))
            return
        llm_done |= kind == "bot-llm-stopped"
        spoke |= kind == "bot-started-speaking"
        answered |= kind == "bot-output"
        if kind == "bot-stopped-speaking" or (llm_done and not speak and not spoke):
            break
    stats["turns"] += 1
    stats["turn_secs"].append(time.monotonic() - t0)


async def _soak_client(url: str, idx: int, stop_at: float, stats: dict[str, Any]) -> None:
    rng = random.Random(idx)
    while time.monotonic() < stop_at:
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(f"{url}/ws", max_msg_size=0) as ws,
            ):
                await ws.send_bytes(rtvi("client-ready", {"version": "2.1.0"}, "r"))
                while (await _read_message(ws, 60))["type"] != "bot-ready":
                    pass
                for _ in range(10):  # a reconnect every 10 turns exercises session teardown
                    if time.monotonic() >= stop_at:
                        break
                    await _soak_turn(ws, rng, stats)
                    await asyncio.sleep(rng.uniform(0.5, 2.0))
        except (ConnectionError, TimeoutError, aiohttp.ClientError) as exc:
            stats["errors"].append(repr(exc))
            await asyncio.sleep(1)


def _slope(samples: list[dict[str, float]], key: str) -> float:
    """Least-squares growth of `key` per minute."""
    if len(samples) < 3:
        return 0.0
    xs = [s["t"] / 60 for s in samples]
    ys = [s[key] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


WINDOW_SECS = 300.0


Stat = Callable[[list[float]], float]


def window_stat(samples: list[dict[str, float]], key: str, secs: float, stat: Stat) -> list[float]:
    """`stat` of `key` in consecutive windows of `secs` (the last may be shorter)."""
    if not samples:
        return []
    t0 = samples[0]["t"]
    windows: dict[int, list[float]] = {}
    for s in samples:
        windows.setdefault(int((s["t"] - t0) // secs), []).append(s[key])
    return [round(float(stat(v)), 1) for _, v in sorted(windows.items())]


def window_growth_pct(samples: list[dict[str, float]], key: str, secs: float, stat: Stat) -> float:
    """From the first window's `stat` to the last full window's, in percent."""
    values = window_stat(samples, key, secs, stat)
    if len(samples) and (samples[-1]["t"] - samples[0]["t"]) % secs < secs / 2:
        values = values[:-1]  # a last window under half full is too noisy to end on
    if len(values) < 2:
        return 0.0
    return round(100 * (values[-1] - values[0]) / values[0], 2)


def trend_growth_pct(samples: list[dict[str, float]], key: str) -> float:
    """Growth of `key` from the first to the last sample along its least-squares line,
    in percent of the line's value at the first sample."""
    if len(samples) < 3:
        return 0.0
    slope = _slope(samples, key)  # per minute
    mx = statistics.fmean(s["t"] / 60 for s in samples)
    my = statistics.fmean(s[key] for s in samples)
    t0, t1 = samples[0]["t"] / 60, samples[-1]["t"] / 60
    start = my + slope * (t0 - mx)
    return round(100 * slope * (t1 - t0) / start, 2) if start else 0.0


async def soak(
    daemon: DaemonProcess, secs: float, clients: int, warmup: float, every: float, log_path: Path
) -> dict[str, Any]:
    stats: dict[str, Any] = {"turns": 0, "errors": [], "turn_secs": [], "slow_turns": 0}
    start = time.monotonic()
    stop_at = start + secs
    samples: list[dict[str, float]] = []
    workers = [
        asyncio.create_task(_soak_client(daemon.url, i, stop_at, stats)) for i in range(clients)
    ]
    with log_path.open("w") as samples_log:
        while time.monotonic() < stop_at and daemon.alive:
            await asyncio.sleep(every)
            sample = daemon.sample()
            sample["t"] -= start
            sample["turns"] = stats["turns"]
            sample["slow_turns"] = stats["slow_turns"]
            samples.append(sample)
            samples_log.write(json.dumps(sample) + "\n")
            samples_log.flush()
            print(json.dumps(sample), file=sys.stderr, flush=True)
    # Let the turns under way finish, briefly.
    await asyncio.wait(workers, timeout=30)
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return {
        "secs": round(time.monotonic() - start),
        "clients": clients,
        "turns": stats["turns"],
        "slow_turns": stats["slow_turns"],
        "errors": len(stats["errors"]),
        "first_errors": [str(e)[:200] for e in stats["errors"][:5]],
        "turn_secs_median": round(statistics.median(stats["turn_secs"]), 2)
        if stats["turn_secs"]
        else None,
        **summarize_samples(samples, warmup),
        "daemon_alive": daemon.alive,
        "tracebacks_in_log": daemon.tracebacks(),
        "samples_file": str(log_path),
    }


def summarize_samples(samples: list[dict[str, float]], warmup: float) -> dict[str, Any]:
    """RSS, fds and threads over a soak, after `warmup` seconds.

    RSS swings by hundreds of MiB between samples (four turns in flight, or none), so
    two samples say little. A leak shows in the floor: the lowest RSS of each 5-minute
    window (no turn in flight) is what the process keeps; the window medians and the
    least-squares trend are given too."""
    after = [s for s in samples if s["t"] >= warmup] or samples
    half = len(after) // 2
    first_rss, last_rss = after[0]["rss_mib"], after[-1]["rss_mib"]
    return {
        "warmup_secs": warmup,
        "rss_mib_after_warmup": round(first_rss, 1),
        "rss_mib_end": round(last_rss, 1),
        "rss_mib_max": round(max(s["rss_mib"] for s in samples), 1),
        "rss_mib_peak_hwm": round(max(s.get("hwm_mib", 0.0) for s in samples), 1),
        "rss_mib_floor": round(min(s["rss_mib"] for s in after), 1),
        "rss_growth_pct": round(100 * (last_rss - first_rss) / first_rss, 2),
        "rss_mib_window_mins": window_stat(after, "rss_mib", WINDOW_SECS, min),
        "rss_growth_pct_window_mins": window_growth_pct(after, "rss_mib", WINDOW_SECS, min),
        "rss_mib_window_medians": window_stat(after, "rss_mib", WINDOW_SECS, statistics.median),
        "rss_growth_pct_windows": window_growth_pct(
            after, "rss_mib", WINDOW_SECS, statistics.median
        ),
        "rss_mib_window_maxes": window_stat(after, "rss_mib", WINDOW_SECS, max),
        "rss_growth_pct_trend": trend_growth_pct(after, "rss_mib"),
        "rss_mib_per_min_first_half": round(_slope(after[:half], "rss_mib"), 3),
        "rss_mib_per_min_second_half": round(_slope(after[half:], "rss_mib"), 3),
        "fds_after_warmup": after[0]["fds"],
        "fds_end": after[-1]["fds"],
        "fds_max": max(s["fds"] for s in samples),
        "threads_after_warmup": after[0]["threads"],
        "threads_end": after[-1]["threads"],
        "threads_max": max(s["threads"] for s in samples),
    }


# -- broker loss ------------------------------------------------------------------------
def broker_loss(work: Path, down_secs: float) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from tests.integration.mosquitto import Mosquitto

    broker = Mosquitto(work / "broker-loss")
    broker.start()
    daemon = DaemonProcess(
        work,
        f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\n'
        'base_topic = "loss"\ndiscovery = false\n',
    )
    online = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        if msg.payload == b"online":
            online.set()

    def watch() -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2)
        c.on_message = on_message
        c.connect("127.0.0.1", broker.port)
        c.subscribe("loss/availability")
        c.loop_start()
        return c

    try:
        c = watch()
        if not online.wait(60):
            raise SystemExit("the daemon did not come online on MQTT")
        c.loop_stop()
        c.disconnect()
        broker.stop()
        time.sleep(down_secs)
        online.clear()
        broker.start()
        t0 = time.monotonic()
        c = watch()  # the broker keeps nothing: "online" comes when the daemon is back
        back = online.wait(120)
        recovered = time.monotonic() - t0
        c.loop_stop()
        c.disconnect()
        return {
            "down_secs": down_secs,
            "recovered": back,
            "recovery_secs": round(recovered, 2),
            "daemon_alive": daemon.alive,
        }
    finally:
        daemon.stop()
        broker.stop()


# -- LLM server loss -------------------------------------------------------------------------
def llm_server_loss(work: Path, trials: int) -> dict[str, Any]:
    """A real llama.cpp server (`[llm] engine = "openai"`, the local model as fallback),
    SIGKILLed at the first words of an answer, then started again: how long until the
    local model speaks, and until the device uses the server again."""
    from bench import lan_bench, lan_servers

    server = lan_servers.llama_server().start()
    daemon = DaemonProcess(work, lan_bench.llm_section(server.url))
    local: list[float] = []
    back: list[float] = []
    errors: list[str] = []
    try:
        for _ in range(trials):
            try:
                r = asyncio.run(lan_bench.failover_trial(daemon.port, server))
                local.append(round(r["local_first_words"], 2))
            except (AssertionError, TimeoutError, aiohttp.ClientError) as exc:
                errors.append(repr(exc))
            server.start()  # the same port; returns once it answers
            t0 = time.monotonic()
            lan_bench.until_server_used(daemon.port, timeout=60)
            back.append(round(time.monotonic() - t0, 2))
    finally:
        daemon.stop()
        server.kill()
    worst = max(local + back, default=float("inf"))
    return {
        "trials": trials,
        "kill_to_local_first_words_secs": local,
        "server_back_to_in_use_secs": back,
        "errors": errors,
        "recovered_within_5s": not errors and len(back) == trials and worst <= 5.0,
        "daemon_alive": True,
    }


# -- main --------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "what",
        nargs="?",
        default="all",
        choices=["all", "fuzz", "lockout", "soak", "broker", "llm"],
    )
    ap.add_argument("--fuzz", type=int, default=100_000, help="bad inputs in all")
    ap.add_argument("--mqtt-share", type=float, default=0.2, help="part of them over MQTT")
    ap.add_argument("--connections", type=int, default=400, help="RTVI sockets for the fuzz")
    ap.add_argument("--soak-secs", type=float, default=600.0)
    ap.add_argument("--soak-clients", type=int, default=4)
    ap.add_argument("--warmup-secs", type=float, default=0.0, help="0 = a tenth of the soak")
    ap.add_argument("--sample-secs", type=float, default=10.0)
    ap.add_argument(
        "--trace", type=Path, help="soak: RSS every 20 ms with the engines in flight (JSONL)"
    )
    ap.add_argument("--broker-down-secs", type=float, default=10.0)
    ap.add_argument("--llm-trials", type=int, default=3, help="LLM server kills")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "reliability.json")
    ap.add_argument(
        "--summarize", type=Path, help="print the soak figures of a samples file (.soak.jsonl)"
    )
    args = ap.parse_args()
    if args.summarize:
        samples = [json.loads(line) for line in args.summarize.read_text().splitlines()]
        warmup = args.warmup_secs or samples[-1]["t"] / 10
        print(json.dumps(summarize_samples(samples, warmup), indent=1))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="rtvi-reliability-") as tmp:
        work = Path(tmp)
        if args.what in ("all", "fuzz"):
            mqtt_count = int(args.fuzz * args.mqtt_share)
            daemon = DaemonProcess(work / "fuzz", level="info")
            try:
                r = asyncio.run(
                    fuzz_rtvi(daemon.url, args.fuzz - mqtt_count, args.connections, args.seed)
                )
                r["daemon_alive"] = daemon.alive
                r["tracebacks_in_log"] = daemon.tracebacks()
            finally:
                r["exit_code"] = daemon.stop()
            results["fuzz_rtvi"] = r
            ok &= r["answered"] == r["inputs"] and not r["sessions_lost"] and r["daemon_alive"]
            print(json.dumps({"fuzz_rtvi": r}, indent=1), flush=True)
            if mqtt_count:
                r = fuzz_mqtt(work / "mqtt", mqtt_count, args.seed)
                results["fuzz_mqtt"] = r
                ok &= r["answered_on_response_topic"] == r["inputs"] and r["daemon_alive"]
                print(json.dumps({"fuzz_mqtt": r}, indent=1), flush=True)
        if args.what in ("all", "lockout"):
            daemon = DaemonProcess(work / "lockout", level="info")
            try:
                r = asyncio.run(lockout(daemon.url, 4, 4))
            finally:
                daemon.stop()
            results["lockout"] = r
            ok &= r["real_client_first_message"] == "bot-ready" and r["over_limit_status"] == 503
            print(json.dumps({"lockout": r}, indent=1), flush=True)
        if args.what in ("all", "broker"):
            r = broker_loss(work / "broker", args.broker_down_secs)
            results["broker_loss"] = r
            ok &= r["recovered"]
            print(json.dumps({"broker_loss": r}, indent=1), flush=True)
        if args.what in ("all", "llm"):
            r = llm_server_loss(work / "llm", args.llm_trials)
            results["llm_server_loss"] = r
            ok &= r["recovered_within_5s"]
            print(json.dumps({"llm_server_loss": r}, indent=1), flush=True)
        if args.what in ("all", "soak"):
            daemon = DaemonProcess(work / "soak", trace=args.trace)
            warmup = args.warmup_secs or args.soak_secs / 10
            try:
                r = asyncio.run(
                    soak(
                        daemon,
                        args.soak_secs,
                        args.soak_clients,
                        warmup,
                        args.sample_secs,
                        args.out.with_suffix(".soak.jsonl"),
                    )
                )
            finally:
                daemon.stop()
            results["soak"] = r
            ok &= r["daemon_alive"]
            print(json.dumps({"soak": r}, indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'PASS' if ok else 'FAIL'}; written to {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
