"""Voice-to-voice with the official JS client in headless Chromium, over WebRTC and over
the WebSocket, measured the same way in the same browser.

tests/client/webrtc-harness.mjs (client-js with either transport, bundled here with
the web page's esbuild) runs in a tab of the device's origin, driven over the
DevTools protocol. Its microphone is Web Audio playing the question; the time is
end of speech → the bot audible in the page (WebRTC: after Chrome's jitter buffer,
seen by an analyser on the track; WebSocket: the first chunk's scheduled start)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def build_harness(work: Path) -> str:
    esbuild = ROOT / "web" / "node_modules" / ".bin" / "esbuild"
    out = work / "webrtc-harness.js"
    subprocess.run(
        [
            str(esbuild),
            str(ROOT / "tests" / "client" / "webrtc-harness.mjs"),
            "--bundle",
            "--format=iife",
            f"--outfile={out}",
            f"--alias:@daily-co/daily-js={ROOT / 'web' / 'src' / 'no-daily.ts'}",
            "--log-level=warning",
        ],
        check=True,
        timeout=120,
    )
    return out.read_text()


class _Tab:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def js(self, expression: str) -> Any:
        my = next(self.ids)
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        await self.ws.send_json({"id": my, "method": "Runtime.evaluate", "params": params})
        while True:
            msg = json.loads((await self.ws.receive(timeout=60)).data)
            if msg.get("id") == my:
                result = msg.get("result", {})
                if "exceptionDetails" in result:
                    raise RuntimeError(str(result["exceptionDetails"])[:500])
                return result.get("result", {}).get("value")


async def _turns(
    port: int, bundle: str, utterances: list[tuple[bytes, float]], settle: float
) -> dict[str, list[Any]]:
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"rtvi-bench-chromium-{os.getpid()}"
    profile.mkdir(exist_ok=True)
    args = [
        CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required", "--allow-loopback-in-peer-connection",
        "--remote-debugging-port=0", "about:blank",
        # Two tabs, one in the background: its timers (the page's 16 ms level meter,
        # which tells when the bot becomes audible) must not be throttled to 1 Hz.
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.is_file() and port_file.read_text().strip():
                break
            await asyncio.sleep(0.1)
        devtools = int(port_file.read_text().split()[0])
        out: dict[str, list[Any]] = {
            f"{kind}{part}": []
            for kind in ("websocket", "webrtc")
            for part in ("", "_server", "_heard_end", "_detail")
        }
        origin = f"http://127.0.0.1:{port}"
        async with contextlib.AsyncExitStack() as stack:
            http = await stack.enter_async_context(aiohttp.ClientSession())
            tabs: dict[str, _Tab] = {}
            for kind, start in (("websocket", "/start"), ("webrtc", "/webrtc/start")):
                url = f"http://127.0.0.1:{devtools}/json/new?{origin}/health?transport={kind}"
                async with http.put(url) as r:
                    target = await r.json()
                ws = await stack.enter_async_context(
                    http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
                )
                tabs[kind] = _Tab(ws)
                await asyncio.sleep(1.0)
                await tabs[kind].js(bundle)
                await tabs[kind].js(f"rtviHarness.connect({json.dumps(origin + start)})")
            await asyncio.sleep(1.0)
            # Strictly turn by turn (WS, WebRTC, WS, …): both see the same load, and every
            # turn follows the other session's, so neither finds the LLM's prompt cache
            # warm from its own last turn (alternating who goes first would give one of
            # each pair a warm cache).
            for pcm, end in utterances:
                for kind, tab in tabs.items():
                    client, server, heard = await _turn(tab, pcm, end)
                    out[f"{kind}_detail"].append(await tab.js("rtviHarness.detail()"))
                    await asyncio.sleep(settle)  # the device idle again before the next
                    out[kind].append(client)
                    out[f"{kind}_server"].append(server)
                    out[f"{kind}_heard_end"].append(heard)
            out["webrtc_jitter_buffer"] = [await tabs["webrtc"].js("rtviHarness.jitterBuffer()")]
            for tab in tabs.values():
                await tab.js("rtviHarness.disconnect()")
        return out
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)


async def _turn(
    tab: _Tab, pcm: bytes, end_secs: float
) -> tuple[float | None, float | None, float | None]:
    """(end of speech → audible in the page, the device's own voice-to-voice metric,
    end of speech → the device's user-stopped-speaking in the page)."""
    b64 = base64.b64encode(pcm).decode()
    await tab.js(f"rtviHarness.speak({json.dumps(b64)}, {end_secs})")
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        s = await tab.js("rtviHarness.state")
        if s["stopped"] is not None and s["transcript"]:
            await asyncio.sleep(0.8)
            s = await tab.js("rtviHarness.state")  # the metrics follow the audio
            first, end, heard = s["firstAudible"], s["speechEnd"], s["heardEnd"]
            return (
                None if first is None else (first - end) / 1000,
                s["server"],
                None if heard is None else (heard - end) / 1000,
            )
        await asyncio.sleep(0.1)
    return None, None, None


def measure(
    port: int, work: Path, utterances: list[tuple[bytes, float]], settle: float = 0.0
) -> dict[str, list[Any]]:
    """The official client over each transport ("websocket", "webrtc"; "<kind>_server":
    the device's own figure for the same turns; "<kind>_detail": the page's timestamps
    for the decomposition), one turn after another; {} when
    Chromium or the test client is missing."""
    if not Path(CHROMIUM).exists() or not (ROOT / "tests" / "client" / "node_modules").is_dir():
        print("(Chromium or the test client is missing; scripts/setup installs them)")
        return {}
    return asyncio.run(_turns(port, build_harness(work), utterances, settle))
