"""A real Home Assistant for the tests: its own process (HA needs Python 3.13+, from
.ha-venv, which scripts/setup-home-assistant makes), its config in a temporary folder,
HTTP on 127.0.0.1 at a free port, an owner made through onboarding and a long-lived
token; the tests drive it over its REST and websocket APIs, as a user's browser does.

When it cannot run, `require_home_assistant` says why in the skip reason; under CI
(`CI=true`) a machine with a Python 3.13+ but no Home Assistant fails instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ha_api import HomeAssistantApi

ROOT = Path(__file__).parents[2]
LAUNCH = Path(__file__).with_name("ha_launch.py")
START_SECS = 300.0  # a cold start on a busy 2-core machine takes ~20-60 s
CONFIG = """
homeassistant:
  name: rtvi-edge tests
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  country: US
  language: en
  internal_url: "http://127.0.0.1:{port}"
http:
  server_host: 127.0.0.1
  server_port: {port}
ffmpeg:
  ffmpeg_bin: "{ffmpeg}"
zeroconf:  # discovery (default_config would bring it); ha_launch.py keeps it on 127.0.0.1
logger:
  default: warning
  logs:
    homeassistant.components.esphome: debug
    homeassistant.components.assist_pipeline: debug
    homeassistant.components.assist_satellite: debug
"""


def python_313() -> str | None:
    """A Python >= 3.13 on this machine (the same search as scripts/setup-home-assistant)."""
    home = os.path.expanduser("~")
    candidates = [os.environ.get("HA_PYTHON", ""), "python3.13", "python3.14"]
    candidates += sorted(glob.glob(f"{home}/.pyenv/versions/3.1[3-9]*/bin/python"))
    for c in candidates:
        path = shutil.which(c) if c else None
        if path and subprocess.run(
            [path, "-c", "import sys; sys.exit(sys.version_info < (3, 13))"],
            capture_output=True, check=False,
        ).returncode == 0:  # fmt: skip
            return path
    return None


def find_home_assistant() -> tuple[Path | None, str]:
    """(the Python with Home Assistant, "") or (None, why there is none)."""
    explicit = os.environ.get("RTVI_EDGE_HA_PYTHON")
    if explicit:
        if Path(explicit).is_file():
            return Path(explicit), ""
        return None, f"RTVI_EDGE_HA_PYTHON={explicit} is not a file"
    venv = ROOT / ".ha-venv"
    if (venv / ".rtvi-edge-ha-setup").is_file():
        return venv / "bin" / "python", ""
    py = python_313()
    if py is None:
        return None, (
            "no Home Assistant: it needs Python >= 3.13 and this machine has none "
            "(install one, then run scripts/setup-home-assistant)"
        )
    return None, (
        f"no Home Assistant in .ha-venv although {py} exists: run scripts/setup-home-assistant"
    )


def require_home_assistant() -> Path:
    python, reason = find_home_assistant()
    if python is None:
        if os.environ.get("CI") == "true" and "although" in reason:
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, data: dict[str, Any] | None = None, form: bool = False) -> Any:
    body = None
    headers = {}
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, body, headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


@dataclass
class HomeAssistantProcess:
    python: Path
    config_dir: Path
    port: int = 0
    token: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 4000) -> str:
        log = self.config_dir / "home-assistant.log"
        return log.read_text(errors="replace")[-chars:] if log.is_file() else "(no log)"

    def start(self) -> None:
        self.port = free_port()
        ffmpeg = self.python.parent / "ffmpeg"
        ffmpeg_bin = str(ffmpeg) if ffmpeg.exists() else (shutil.which("ffmpeg") or "ffmpeg")
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(
            CONFIG.format(port=self.port, ffmpeg=ffmpeg_bin)
        )
        self.proc = subprocess.Popen(
            [str(self.python), str(LAUNCH), str(self.config_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip (HA writes everything to home-assistant.log in its config dir)
        deadline = time.monotonic() + START_SECS
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Home Assistant exited ({self.proc.returncode}):\n"
                                   + self.log_tail())  # fmt: skip
            try:
                steps = _request(f"{self.url}/api/onboarding")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Home Assistant did not answer in {START_SECS:.0f} s:\n"
                                       + self.log_tail()) from None  # fmt: skip
                time.sleep(0.5)
        assert any(s["step"] == "user" and not s["done"] for s in steps), steps
        self.token = self._onboard()

    def _onboard(self) -> str:
        """The owner account, as the onboarding page makes it, then a long-lived token."""
        client_id = f"{self.url}/"
        user = {"client_id": client_id, "name": "Test", "username": "test",
                "password": "test-password-1", "language": "en"}  # fmt: skip
        code = _request(f"{self.url}/api/onboarding/users", user)["auth_code"]
        grant = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
        access = _request(f"{self.url}/auth/token", grant, form=True)["access_token"]

        async def long_lived() -> str:
            async with HomeAssistantApi.connect(self.url, access) as api:
                token = await api.call(
                    "auth/long_lived_access_token", client_name="rtvi-edge tests", lifespan=1
                )
                return str(token)

        # its own thread and loop: pytest-asyncio owns the test's loop
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, long_lived()).result(60)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # HA stops in order on SIGTERM
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
