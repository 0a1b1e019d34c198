"""The page the device serves (rtvi_edge/web), in headless Chromium with a fake microphone.

Chromium is driven over the DevTools protocol from here: no browser download and
no node at test time. Its fake microphone loops a spoken question. The page must
talk to the device only: a request to any other address fails the test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.daemon_harness import running_daemon

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WEB = Path(__file__).resolve().parents[2] / "web"
# A long answer, so that the user can cut in while it is being spoken.
LONG_TEXT = (
    "Here is a long announcement so that you have time to interrupt me. The weather "
    "tomorrow will be mild with a light breeze from the west, some clouds in the morning "
    "and sunshine in the afternoon, and the evening will be cool and clear."
)


def test_committed_bundle_is_built_from_the_sources() -> None:
    """rtvi_edge/web is committed (a pip-installed device serves it with no node): it
    must be what `npm run build` makes from web/ now."""
    if not (WEB / "node_modules" / "esbuild").is_dir():
        pytest.fail("web/node_modules is missing: run scripts/setup (npm ci in web/)")
    check = subprocess.run(
        ["node", "build.mjs", "--check"], cwd=WEB, capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stderr + check.stdout


def question_wav(folder: Path, text: str = "What is the capital of France?") -> Path:
    """espeak-ng speech at 48 kHz with 1 s of silence before and 2 s after (it loops)."""
    for tool in (CHROMIUM, "espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed (scripts/setup installs chromium, espeak-ng, sox)")
    raw, wav = folder / "question-raw.wav", folder / "question.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True, timeout=30)
    subprocess.run(
        ["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(wav), "pad", "1", "2"],
        check=True,
        timeout=30,
    )
    return wav


class Page:
    """One tab, over the DevTools protocol: evaluate, wait for, click, look at."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.errors: list[str] = []  # uncaught exceptions in the page
        self.console: list[str] = []
        self.urls: list[str] = []  # every request and WebSocket the page opened
        self.posted: dict[str, str] = {}  # url → body of the last POST
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data:
                fut = self.pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(data)
                continue
            method, params = data.get("method"), data.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                self.errors.append(details.get("exception", {}).get("description") or str(details))
            elif method == "Runtime.consoleAPICalled":
                args = (str(a.get("value", a.get("description", ""))) for a in params["args"])
                self.console.append(f"{params['type']}: {' '.join(args)}"[:400])
            elif method == "Network.requestWillBeSent":
                request = params["request"]
                self.urls.append(request["url"])
                if request.get("method") == "POST":
                    self.posted[request["url"]] = request.get("postData", "")
            elif method == "Network.webSocketCreated":
                self.urls.append(params["url"])

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[msg_id] = fut
        await self.ws.send_json({"id": msg_id, "method": method, "params": params})
        reply = await asyncio.wait_for(fut, 30)
        assert "error" not in reply, (method, reply["error"])
        result: dict[str, Any] = reply["result"]
        return result

    async def js(self, expression: str) -> Any:
        reply = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in reply, (expression, reply["exceptionDetails"])
        return reply["result"].get("value")

    async def wait(self, expression: str, what: str, timeout: float = 30) -> Any:
        """Polls a JS expression until it is truthy; on timeout, says what the page showed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.js(expression)
            if value:
                return value
            await asyncio.sleep(0.2)
        shown = await self.js("document.querySelector('main').innerText")
        pytest.fail(
            f"no {what} after {timeout:.0f} s\n--- page:\n{shown}\n--- console:\n"
            + "\n".join(self.console[-30:])
            + f"\n--- errors: {self.errors}"
        )

    async def click(self, selector: str) -> None:
        await self.js(f"document.querySelector({json.dumps(selector)}).click()")

    async def fill(self, selector: str, value: str) -> None:
        await self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            f" e.value = {json.dumps(value)}; e.dispatchEvent(new Event('change')); }})()"
        )

    async def goto(self, url: str) -> None:
        await self.call("Page.navigate", url=url)
        await self.wait(
            "document.readyState === 'complete' && location.href !== 'about:blank'", "page load", 15
        )

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))

    def foreign(self, origin: str) -> list[str]:
        """Requests that went anywhere but the device."""
        ws_origin = origin.replace("http://", "ws://", 1)
        allowed = (origin + "/", ws_origin + "/", "blob:", "data:", "about:")
        return [u for u in self.urls if not u.startswith(allowed)]

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


class Browser:
    def __init__(self, http: aiohttp.ClientSession, port: int) -> None:
        self.http = http
        self.base = f"http://127.0.0.1:{port}"
        self.pages: list[Page] = []

    async def new_page(self, width: int = 1000, height: int = 880) -> Page:
        async with self.http.put(f"{self.base}/json/new?about:blank") as r:
            target = await r.json()
        ws = await self.http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        page = Page(ws)
        self.pages.append(page)
        for domain in ("Runtime", "Network", "Page"):
            await page.call(f"{domain}.enable")
        await page.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        return page


@asynccontextmanager
async def chromium(folder: Path, microphone: Path) -> AsyncIterator[Browser]:
    """Headless Chromium with the WAV as its microphone; its process group is killed at the end."""
    profile = folder / "chromium-profile"
    profile.mkdir()
    args = [
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-loopback-in-peer-connection",  # WebRTC tests keep the device on 127.0.0.1
        "--remote-debugging-port=0",
        "about:blank",
    ]
    with (folder / "chromium.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.is_file() or not port_file.read_text().strip():
            if proc.returncode is not None or time.monotonic() > deadline:
                log_text = (folder / "chromium.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"Chromium did not start (exit {proc.returncode}):\n{log_text}")
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            browser = Browser(http, port)
            try:
                yield browser
            finally:
                for page in browser.pages:
                    await page.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the group: renderers and helpers too
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 10)


STATE = "document.querySelector('#state').textContent"
FINAL_USER = "[...document.querySelectorAll('.line.user:not(.interim):not(.typed)')]"


async def test_talk_settings_actions_and_latency_in_the_page(tmp_path: Path) -> None:
    wav = question_wav(tmp_path)
    async with (
        running_daemon(tmp_path / "state") as daemon,
        chromium(tmp_path, wav) as browser,
    ):
        origin = f"http://127.0.0.1:{daemon.rtvi.port}"
        page = await browser.new_page()
        await page.goto(origin + "/?transport=websocket")  # WebRTC: test_webrtc_browser.py
        await page.wait("document.querySelector('#device').textContent == 'test-device'", "/health")
        # Interim transcripts are replaced by the final one: remember having seen one.
        await page.js(
            "window.sawInterim = false; new MutationObserver(() => { if"
            " (document.querySelector('.line.user.interim')) window.sawInterim = true; })"
            ".observe(document.querySelector('#log'), {subtree: true, childList: true,"
            " attributes: true, characterData: true})"
        )

        await page.click("#connect")
        await page.wait(f"{STATE} === 'listening'", "bot-ready", 20)
        legends = await page.wait(
            "[...document.querySelectorAll('#settings legend')].map(e => e.textContent)"
            ".join(' ').includes('audio') && [...document.querySelectorAll('#settings legend')]"
            ".map(e => e.textContent)",
            "settings from describe-config",
        )
        assert {"vad", "stt", "llm", "tts", "audio"} <= set(legends)
        await page.wait("!!document.querySelector('form.action input[name=text]')", "tts:say form")

        # The fake microphone says the question (again and again: mute once heard).
        heard = await page.wait(f"{FINAL_USER}[0]?.textContent", "final transcript", 60)
        await page.click("#mic")
        assert await page.js("rtviEdge.client.isMicEnabled") is False
        assert "france" in heard.lower()
        assert await page.js("window.sawInterim"), "no interim transcript was shown"
        answer = await page.wait(
            "document.querySelector('.line.bot')?.textContent", "the bot's answer", 60
        )
        assert answer.strip()  # the bot answered the spoken question (its words are the model's)
        await page.wait("!!document.querySelector('#chart circle.point.v2v')", "latency point", 60)
        row = await page.wait(
            "document.querySelector('#turns tr')?.innerText", "a row of the latency table"
        )
        v2v, heard_here = row.split()[1:3]  # turn, voice→voice, heard here, stt, llm, tts
        assert int(v2v) > 0
        assert int(heard_here) > 0, row  # measured in the page

        # Settings: the device refuses a bad value and says why, next to the form.
        await page.js("document.querySelector('#settings-box').open = true")
        await page.fill("input[name='tts.speed']", "99")
        await page.click("#settings button")
        refused = await page.wait(
            "document.querySelector('#settings-status[data-kind=error]')?.textContent",
            "the device's validation message",
        )
        assert "tts.speed" in refused and "between 0.25 and 4.0" in refused
        await page.fill("input[name='tts.speed']", "1.1")
        await page.click("#settings button")
        applied = await page.wait(
            "document.querySelector('#settings-status[data-kind=ok]')?.textContent",
            "the update applied",
        )
        assert "tts.speed" in applied
        assert await page.js("document.querySelector(\"input[name='tts.speed']\").value") == "1.1"

        # Actions: tts:say a long text; the user cuts in; the page silences the bot at once.
        await page.js("document.querySelector('#actions-box').open = true")
        await page.fill("form.action input[name=text]", LONG_TEXT)
        await page.js("document.querySelector('form.action input[name=text]').form.requestSubmit()")
        await page.wait(f"{STATE} === 'speaking' && rtviEdge.media.queuedSeconds > 0", "tts:say")
        await page.click("#mic")  # unmuted: the looping question barges in
        await page.wait("!!document.querySelector('.line.bot.interrupted')", "interruption", 20)
        assert await page.js("rtviEdge.media.queuedSeconds") == 0
        assert await page.js("!!document.querySelector('.line.bot.interrupted .seg.unheard')")
        await page.wait(f"{FINAL_USER}.length >= 2", "the second question", 30)
        await page.click("#mic")
        await page.wait(f"{STATE} === 'listening'", "the answer to the second question", 60)

        shot = Path(os.environ.get("RTVI_EDGE_SCREENSHOT") or tmp_path / "page.png")
        await page.js("document.querySelector('#actions-box').open = false")
        await page.screenshot(shot)
        assert page.errors == [], page.errors
        assert page.foreign(origin) == []
        await page.click("#connect")
        await page.wait(f"{STATE} === 'disconnected'", "disconnected")


async def test_token_and_a_busy_device_in_plain_words(tmp_path: Path) -> None:
    wav = question_wav(tmp_path)
    token = "s3cret"
    async with (
        running_daemon(tmp_path / "state", rtvi={"token": token, "max_sessions": 1}) as daemon,
        chromium(tmp_path, wav) as browser,
    ):
        origin = f"http://127.0.0.1:{daemon.rtvi.port}"
        error = "document.querySelector('#error:not([hidden])')?.textContent"
        first = await browser.new_page()
        await first.goto(origin + "/?transport=websocket")
        # On the device itself the page needs no token, and shows it for pairing others.
        pairing = "document.querySelector('#pairing')?.textContent"
        assert token in await first.wait(pairing, "the pairing token shown", 15)
        await first.click("#connect")
        await first.wait(f"{STATE} === 'listening'", "bot-ready without a token", 20)
        await first.click("#connect")
        await first.wait(f"{STATE} === 'disconnected'", "disconnected")
        deadline = time.monotonic() + 10
        while daemon.rtvi.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await first.fill("#token", "nope")
        await first.click("#connect")
        await first.wait(f"{error}?.startsWith('Wrong token')", "wrong-token error", 15)
        await first.fill("#token", token)
        await first.click("#connect")
        await first.wait(f"{STATE} === 'listening'", "bot-ready with the token", 20)
        assert json.loads(first.posted[origin + "/start"]) == {"token": token}

        # A second page: the token is remembered, and the device (max_sessions = 1) is busy.
        second = await browser.new_page()
        await second.goto(origin + "/?capture=script&transport=websocket")
        assert await second.js("document.querySelector('#token').value") == token
        await second.click("#connect")
        busy = await second.wait(error, "busy error", 15)
        assert busy.startswith("The device is busy with 1 session"), busy
        assert await second.js(STATE) == "disconnected"

        # Once the first leaves, the second gets in; its microphone goes through the
        # ScriptProcessor fallback (?capture=script) and is understood too.
        await first.click("#connect")
        await first.wait(f"{STATE} === 'disconnected'", "first page disconnected")
        deadline = time.monotonic() + 10
        while daemon.rtvi.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # the device ends the session once the socket closes
        await second.click("#connect")
        await second.wait(f"['listening', 'thinking', 'speaking'].includes({STATE})", "ready", 20)
        heard = await second.wait(f"{FINAL_USER}[0]?.textContent", "final transcript", 60)
        assert "france" in heard.lower()
        for page in (first, second):
            assert page.errors == [], page.errors
            assert page.foreign(origin) == []
