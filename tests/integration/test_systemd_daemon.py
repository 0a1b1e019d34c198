"""The real daemon under a fake systemd: sd_notify over a real datagram socket,
the watchdog, SIGHUP reload (good and bad config), SIGTERM shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench.run import free_port

pytestmark = pytest.mark.integration


def write_config(path: Path, port: int, state: Path, stop_secs: str = "0.35") -> None:
    path.write_text(
        f'[rtvi]\nhost = "127.0.0.1"\nport = {port}\n[audio]\nbackend = "none"\n'
        f'[device]\nstate_dir = "{state}"\n[vad]\nstop_secs = {stop_secs}\n'
        '[log]\njournald = "off"\n'
    )


class Notifications:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.seen: list[str] = []

    def until(self, state: str, timeout: float) -> list[str]:
        """Every notification line until one equal to or starting with `state`."""
        deadline = time.monotonic() + timeout
        got: list[str] = []
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            lines = data.split("\n")
            got += lines
            self.seen += lines
            if any(line.startswith(state) for line in lines):
                return got
        raise AssertionError(f"no {state} within {timeout} s; got {got}")


def health(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return int(r.status)
    except OSError:
        return 0


def test_notify_watchdog_reload_and_stop(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "config.toml"
    write_config(cfg, port, tmp_path / "state")
    notes = Notifications(tmp_path / "notify.sock")
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "2000000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtvi_edge", "--config", str(cfg), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        before = notes.until("READY=1", 90)
        assert any(line.startswith("STATUS=loading") for line in before)
        assert health(port) == 200  # READY only once the models are loaded and it listens
        notes.until("WATCHDOG=1", 3)
        # a good reload
        write_config(cfg, port, tmp_path / "state", stop_secs="0.5")
        proc.send_signal(signal.SIGHUP)
        reload = notes.until("READY=1", 30)
        assert any(line == "RELOADING=1" for line in reload)
        assert any(line.startswith("MONOTONIC_USEC=") for line in reload)
        # a bad config is refused; the daemon keeps serving
        cfg.write_text("[vad]\nstop_secs = 99\n")
        proc.send_signal(signal.SIGHUP)
        refused = notes.until("READY=1", 30)
        assert any("refused" in line for line in refused), refused
        notes.until("WATCHDOG=1", 3)
        assert health(port) == 200 and proc.poll() is None
        # SIGTERM: STOPPING, then a clean exit
        proc.send_signal(signal.SIGTERM)
        notes.until("STOPPING=1", 5)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notes.sock.close()
    assert proc.stderr is not None
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    assert "stop_secs = 99" in stderr  # the refusal says why, in the log
