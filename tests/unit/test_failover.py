"""Failover chains and backend health, with fake engines (orchestration only)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtvi_edge import events as ev
from rtvi_edge.config import Config, config_from_mapping, replace_section
from rtvi_edge.engines import stages
from rtvi_edge.engines.backends import BackendHealth, BackendMonitor, BackendState
from rtvi_edge.engines.base import GenerationParams, GenerationStats
from rtvi_edge.engines.failover import Backend, FailoverLlm, FailoverStt, FailoverTts
from rtvi_edge.errors import ConfigError, EngineError
from tests.fakes import FakeLlm


def backend(name: str, answer: str = "hello there", delay: float = 0.0) -> FakeLlm:
    """A backend of the chain; the server counts tokens twice as fine as the device."""
    fake = FakeLlm(lambda _m: answer, name=name, delay=delay)
    fake.model_name = f"model-{name}"
    fake.tokens_per_word = 2 if name == "remote" else 1
    return fake


def chain(*engines: FakeLlm, budget: float = 5.0) -> tuple[FailoverLlm, BackendMonitor, list[Any]]:
    seen: list[ev.BackendEvent] = []
    monitor = BackendMonitor(listener=seen.append)
    backends = [
        Backend(monitor.register("llm", e.name, e, remote=e.name == "remote"), e) for e in engines
    ]
    return FailoverLlm(backends, monitor, budget), monitor, seen  # type: ignore[arg-type]


def answer(llm: FailoverLlm) -> str:
    stats = GenerationStats()
    return "".join(llm.stream_chat([], GenerationParams(), threading.Event(), stats)).strip()


def test_backoff_doubles_and_resets() -> None:
    h = BackendHealth("llm", "remote", remote=True)
    assert h.failed(100.0, "refused") is True
    assert h.state is BackendState.DOWN and h.retry_at == 101.0
    assert h.failed(103.0, "refused") is False
    assert h.retry_at == 105.0
    for _ in range(10):
        h.failed(200.0, "refused")
    assert h.retry_at == 204.0  # capped: a server that is back is found within 4 s
    assert h.succeeded() is True and h.state is BackendState.UP and h.failures == 0


def test_the_first_backend_answers_when_it_is_up() -> None:
    remote, local = backend("remote", "from the server"), backend("llama", "from the device")
    llm, _monitor, seen = chain(remote, local)
    assert answer(llm) == "from the server"
    assert not local.calls and seen == [] and llm.model_name == "model-remote"


def test_an_error_falls_over_and_the_down_server_is_skipped_until_it_is_back() -> None:
    remote, local = backend("remote", "from the server"), backend("llama", "from the device")
    remote.fail = "[llm] base_url = 'http://x/v1': connection refused"
    llm, monitor, seen = chain(remote, local)
    assert answer(llm) == "from the device"
    assert [(e.backend, e.kind, e.fallback) for e in seen] == [("remote", "error", "llama")]
    assert "[llm] base_url" in seen[0].reason
    assert llm.model_name == "model-llama"
    # Down: the next turn does not wait for it.
    assert answer(llm) == "from the device" and len(remote.calls) == 1
    snap = monitor.snapshot()["llm"]
    assert snap[0]["state"] == "down" and "[llm] base_url" in snap[0]["error"]
    # The background probe finds it back once its retry time has come.
    remote.fail = ""
    remote.healthy = False
    for e in monitor._entries.values():
        e.health.retry_at = 0.0
    monitor.probe_once()
    assert monitor.snapshot()["llm"][0]["state"] == "down"
    remote.healthy = True
    for e in monitor._entries.values():
        e.health.retry_at = 0.0
    monitor.probe_once()
    assert seen[-1].kind == "recovered" and seen[-1].backend == "remote"
    assert answer(llm) == "from the server"


def test_a_slow_first_token_goes_to_the_next_backend() -> None:
    remote = backend("remote", "late answer", delay=1.0)
    local = backend("llama", "quick answer")
    llm, _monitor, seen = chain(remote, local, budget=0.2)
    assert answer(llm) == "quick answer"
    assert seen[0].kind == "slow" and "0.2" in seen[0].reason


def test_a_server_dying_mid_answer_hands_over_to_the_local_engine() -> None:
    remote = backend("remote", "one two three four")
    remote.fail, remote.fail_after = "broke off", 2
    local = backend("llama", "local answer")
    llm, _monitor, seen = chain(remote, local)
    said = answer(llm)  # the server's start, then the device's whole answer
    assert said.startswith("one two") and said.endswith("local answer")
    assert seen[0].kind == "error" and seen[0].fallback == "llama"


def test_the_last_backend_has_no_budget_and_its_error_is_raised() -> None:
    local = backend("llama", "slow but sure", delay=0.3)
    llm, _m, _s = chain(backend("remote", "x"), local, budget=0.05)
    llm.backends[0].engine.fail = "down"  # type: ignore[attr-defined]
    assert answer(llm) == "slow but sure"
    local.fail = "the local model broke"
    with pytest.raises(EngineError, match="local model broke"):
        answer(llm)


def test_token_counts_take_the_largest() -> None:
    llm, _m, _s = chain(backend("remote"), backend("llama"))
    assert llm.count_tokens("a b c") == 6


class FakeStt:
    streaming = False

    def __init__(self, name: str, text: str, fail: bool = False) -> None:
        self.name, self.model_name, self.text, self.fail = name, name, text, False
        self.fail = fail

    def open_stream(self) -> Any:
        owner = self

        class S:
            pcm = b""

            def feed(self, pcm: bytes) -> None:
                self.pcm += pcm

            def partial(self) -> str:
                return ""

            def finish(self) -> str:
                if owner.fail:
                    raise EngineError("[stt] base_url = 'tcp://x:1': connection refused")
                return f"{owner.text} ({len(self.pcm)})"

        return S()


def test_stt_falls_over_and_caches_the_transcript() -> None:
    seen: list[ev.BackendEvent] = []
    monitor = BackendMonitor(listener=seen.append)
    remote, local = FakeStt("wyoming", "remote", fail=True), FakeStt("whisper", "local")
    stt = FailoverStt(
        [Backend(monitor.register("stt", e.name, e, e is remote), e) for e in (remote, local)],  # type: ignore[misc]
        monitor,
        2.0,
    )
    stream = stt.open_stream()
    stream.feed(b"\0" * 100)
    assert stream.finish() == "local (100)"
    assert stream.finish() == "local (100)" and len(seen) == 1
    assert seen[0].stage == "stt" and seen[0].fallback == "whisper"


class FakeTts:
    def __init__(self, name: str, rate: int, fail: bool = False) -> None:
        self.name, self.model_name, self.sample_rate, self.fail = name, name, rate, fail

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        if self.fail:
            raise EngineError("[tts] base_url: the server hung up")
        yield b"\1\0" * self.sample_rate  # one second


def test_tts_speaks_at_the_local_rate_and_falls_over() -> None:
    monitor = BackendMonitor()
    remote, local = FakeTts("openai", 24000), FakeTts("piper", 22050)
    tts = FailoverTts(
        [Backend(monitor.register("tts", e.name, e, e is remote), e) for e in (remote, local)],  # type: ignore[misc]
        monitor,
        2.0,
    )
    assert tts.sample_rate == 22050
    pcm = b"".join(tts.synthesize("hi", 1.0))
    assert abs(len(pcm) // 2 - 22050) < 50  # resampled from 24 kHz
    remote.fail = True
    assert len(b"".join(tts.synthesize("hi", 1.0))) == 2 * 22050
    assert monitor.snapshot()["tts"][0]["state"] == "down"


def test_engine_lists_are_checked_naming_the_key() -> None:
    cfg = replace_section(Config(), "llm", engine="openai", fallback=("llama", "llama"))
    with pytest.raises(ConfigError, match=r"\[llm\] fallback.*repeated"):
        stages.engine_names("llm", cfg.llm)
    cfg = replace_section(Config(), "stt", engine="wyoming", fallback=("openai", "whisper"))
    with pytest.raises(ConfigError, match="one LAN server per stage"):
        stages.engine_names("stt", cfg.stt)
    cfg = replace_section(Config(), "tts", fallback=("espeak",))
    with pytest.raises(ConfigError, match=r"\[tts\] fallback: 'espeak' is not an engine"):
        stages.engine_names("tts", cfg.tts)


def test_bad_base_urls_name_the_key() -> None:
    from rtvi_edge.engines.hub import build_llm, build_stt

    cfg = config_from_mapping({"llm": {"engine": "openai", "base_url": "192.168.1.2:8080"}})
    with pytest.raises(ConfigError, match=r"\[llm\] base_url = '192.168.1.2:8080': must look"):
        build_llm(cfg)
    cfg = config_from_mapping({"llm": {"engine": "openai"}})
    with pytest.raises(ConfigError, match=r"\[llm\] base_url: required"):
        build_llm(cfg)
    cfg = config_from_mapping({"stt": {"engine": "wyoming", "base_url": "http://x:10300"}})
    with pytest.raises(ConfigError, match=r"\[stt\] base_url = .*tcp://HOST:PORT"):
        build_stt(cfg)


def test_device_wide_backend_events_reach_every_session() -> None:
    bus = ev.EventBus()
    a, b = bus.subscribe("a"), bus.subscribe("b")
    bus.publish(ev.BackendEvent(session_id="", stage="llm", backend="openai", kind="recovered"))
    bus.publish(ev.BackendEvent(session_id="a", stage="llm", backend="openai", kind="slow"))
    bus.publish(ev.BotLlmStarted(session_id=""))
    assert a.queue.qsize() == 2 and b.queue.qsize() == 1


def test_backend_events_on_the_wire() -> None:
    from rtvi_edge.mqtt.payloads import EventMapper
    from rtvi_edge.mqtt.topics import Topics
    from rtvi_edge.rtvi.outbound import OutboundMapper
    from rtvi_edge.rtvi.protocol import CURRENT

    event = ev.BackendEvent(
        session_id="s1", stage="llm", backend="openai", kind="slow", reason="r", fallback="llama"
    )
    [(mtype, data)] = OutboundMapper(CURRENT).messages(event)
    assert mtype == "server-message"
    assert data == {
        "type": "backend",
        "stage": "llm",
        "backend": "openai",
        "event": "slow",
        "reason": "r",
        "fallback": "llama",
    }
    [pub] = EventMapper(Topics.for_device("kitchen"), "local").map(event)
    assert pub.topic == "rtvi-edge/kitchen/event/backend"
    assert json.loads(pub.payload)["fallback"] == "llama"


def test_many_devices_have_distinct_topics_and_ha_ids() -> None:
    from rtvi_edge.daemon import device_id_for
    from rtvi_edge.mqtt.discovery import discovery_messages
    from rtvi_edge.mqtt.topics import Topics

    ids = [
        device_id_for(config_from_mapping({"device": {"device_id": n}}))
        for n in ("Kitchen", "Living Room")
    ]
    assert ids == ["kitchen", "living-room"]
    seen_topics: set[str] = set()
    seen_ids: set[str] = set()
    for device_id in ids:
        t = Topics.for_device(device_id)
        for msg in discovery_messages(t, device_id, device_id):
            assert msg.topic not in seen_topics
            seen_topics.add(msg.topic)
            if msg.payload:
                unique = json.loads(msg.payload)["unique_id"]
                assert unique not in seen_ids
                seen_ids.add(unique)
        assert t.event("backend").startswith(f"rtvi-edge/{device_id}/")


def test_switching_to_a_lan_server_at_run_time() -> None:
    from rtvi_edge.errors import ServiceConfigError
    from rtvi_edge.pipeline.settings import SessionSettings
    from rtvi_edge.services.options import current_config
    from rtvi_edge.services.update import plan_update

    update = [
        {
            "service": "llm",
            "options": [
                {"name": "engine", "value": "openai"},
                {"name": "base_url", "value": "http://192.168.1.20:8080/v1"},
                {"name": "fallback", "value": ["llama"]},
            ],
        },
        {"service": "tts", "options": [{"name": "engine", "value": "wyoming"}]},
    ]
    plan = plan_update(update, SessionSettings(), Config())
    assert plan.device_changed and plan.device.llm.engine == "openai"
    assert plan.device.llm.fallback == ("llama",) and plan.device.tts.engine == "wyoming"
    shown = current_config(SessionSettings(), plan.device)
    llm = next(s for s in shown if s["service"] == "llm")["options"]
    assert {"name": "base_url", "value": "http://192.168.1.20:8080/v1"} in llm
    assert all(o["name"] != "api_key" for s in shown for o in s["options"])
    bad = [{"service": "llm", "options": [{"name": "fallback", "value": ["gpt"]}]}]
    with pytest.raises(ServiceConfigError, match=r"llm\.fallback.*'gpt' is not one of"):
        plan_update(bad, SessionSettings(), Config())
    bad = [{"service": "stt", "options": [{"name": "base_url", "value": "10.0.0.2:10300"}]}]
    with pytest.raises(ServiceConfigError, match=r"stt\.base_url.*must start with tcp://"):
        plan_update(bad, SessionSettings(), Config())


def test_check_config_reports_every_lan_server_problem(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[llm]\nengine = "openai"\nbase_url = "192.168.1.5:8080"\nfallback = ["llama", "gpt"]\n'
        '[tts]\nengine = "wyoming"\nbase_url = ""\n'
    )
    run = subprocess.run(
        [sys.executable, "-m", "rtvi_edge", "--config", str(bad), "check-config"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "[llm] fallback: 'gpt' is not an engine" in run.stderr
    assert "[llm] base_url = '192.168.1.5:8080': must look like" in run.stderr
    assert "[tts] base_url: required" in run.stderr
