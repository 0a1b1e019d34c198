"""The daemon: builds everything from config, owns the tasks, shuts down in order.

Start: engines (off the loop) → local conversation and audio → RTVI server →
MQTT bridge → Wyoming server → READY=1. Stop (SIGTERM/SIGINT): STOPPING=1 →
MQTT (offline) → RTVI sessions → Wyoming connections → local audio →
conversations. SIGHUP reloads the config file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rtvi_edge import events as ev
from rtvi_edge.assembly import LOCAL_SESSION, Assembly, local_settings, rtvi_settings
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.audio.supervisor import LocalAudioSupervisor
from rtvi_edge.config import AudioBackend, Config, default_state_dir, load_config
from rtvi_edge.engines.hub import EngineHub, Engines, build_engines
from rtvi_edge.errors import ConfigError, RtviEdgeError
from rtvi_edge.logs import set_level as set_log_level
from rtvi_edge.memory import MemoryTrimmer, libc_trim
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.services.conversation_services import ConversationServices
from rtvi_edge.services.settings_owner import SettingsOwner
from rtvi_edge.tools.setup import ToolSettings, ToolSetup
from rtvi_edge.tools.timers import DEVICE_OWNER, Timer, TimerService
from rtvi_edge.tools.trust import is_guest_owner

if TYPE_CHECKING:  # imported where they start: each only when enabled
    from rtvi_edge.homeassistant.server import HomeAssistantSatellite
    from rtvi_edge.mqtt.bridge import MqttBridge
    from rtvi_edge.rtvi.server import RtviServer
    from rtvi_edge.wyoming_server.lifecycle import WyomingService

log = logging.getLogger(__name__)

__all__ = ["LOCAL_SESSION", "Daemon", "Notify", "run_daemon"]
WEB_ROOT = Path(__file__).parent / "web"


class Notify(Protocol):
    """What the daemon tells its supervisor (systemd's sd_notify)."""

    @property
    def watchdog_interval(self) -> float | None: ...

    def ready(self, status: str) -> None: ...

    def status(self, text: str) -> None: ...

    def watchdog(self) -> None: ...

    def reloading(self) -> None: ...

    def ready_after_reload(self) -> None: ...

    def stopping(self, status: str) -> None: ...


def default_notifier() -> Notify:
    from rtvi_edge.systemd import Notifier

    notifier: Notify = Notifier()
    return notifier


def device_id_for(config: Config) -> str:
    raw = config.device.device_id or socket.gethostname()
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in raw.lower()) or "rtvi-edge"


class Daemon:
    def __init__(
        self,
        config: Config,
        config_path: Path | None = None,
        notifier: Notify | None = None,
        engines: Engines | None = None,
    ) -> None:
        """`engines`: already built (tests hand in fakes); None: built from config at start."""
        self._given_engines = engines
        self.config_path = config_path
        self.notifier = notifier if notifier is not None else default_notifier()
        self.bus = ev.EventBus()
        self.state_dir = default_state_dir(config)
        self.device_id = device_id_for(config)
        self.hub: EngineHub | None = None
        # The one owner of the settings: the file, the runtime changes, and the layering.
        self.settings = SettingsOwner(config, self.state_dir)
        self.local: Conversation | None = None
        self.local_services: ConversationServices | None = None
        self.assembly: Assembly | None = None
        self.rtvi: RtviServer | None = None
        self.mqtt: MqttBridge | None = None
        self.wyoming: WyomingService | None = None
        self.homeassistant: HomeAssistantSatellite | None = None  # the ESPHome API satellite
        self.audio: LocalAudioSupervisor | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop = asyncio.Event()
        self._ready = False
        self.timers: TimerService | None = None
        self.tools: ToolSetup | None = None
        self.conversations: weakref.WeakValueDictionary[str, Conversation] = (
            weakref.WeakValueDictionary()
        )
        self.started_at = time.monotonic()
        self.ready_secs: float | None = None
        # An embedding application's hook for RTVI client input the device does not
        # serve (dtmf, ui-*, app client-messages): see docs/rtvi.md.
        self.on_client_input: Callable[[ev.ClientInput], Awaitable[Any]] | None = None

    @property
    def config(self) -> Config:
        """The settings now: the file with the runtime changes over it."""
        return self.settings.config

    @property
    def file_config(self) -> Config:
        return self.settings.file

    # -- startup -------------------------------------------------------------------
    async def start(self) -> None:
        t0 = time.monotonic()
        self.notifier.status("loading models")
        config = self.settings.config
        engines = self._given_engines
        if engines is None:
            engines = await asyncio.to_thread(build_engines, config)
        self.hub = EngineHub(engines, config)
        self._watch_backends(self.hub)
        self.settings.hub = self.hub
        await asyncio.to_thread(self._warm_up)
        self.timers = TimerService(self.state_dir, self.bus, self._timer_fired)
        self.tools = ToolSetup(config, self.timers, self._mqtt_publish)
        self.assembly = Assembly(lambda: self.settings.live, self.hub, self.bus, self.tools)
        self._start_local()
        self.timers.start()
        if config.rtvi.enabled:
            from rtvi_edge.rtvi.server import RtviServer

            self.rtvi = RtviServer(
                config.rtvi, self, WEB_ROOT, self._pairing_token(config), webrtc=config.webrtc
            )
            await self.rtvi.start()
        if config.homeassistant.satellite:
            await self._start_homeassistant()
        if config.mqtt.enabled:
            await self._start_mqtt()
        if config.wyoming.enabled:
            from rtvi_edge.wyoming_server.lifecycle import start_wyoming

            self.wyoming = await start_wyoming(self)
        self._follow_settings()
        self._spawn(self._watchdog(), "watchdog")
        self._spawn(MemoryTrimmer(self.bus, libc_trim()).run(), "memory-trim")
        self._ready = True
        self.ready_secs = time.monotonic() - t0
        log.info("ready in %.2f s: %s", self.ready_secs, self.describe())
        self.notifier.ready(self.describe())
        if config.turn.enabled:
            self.hub.turn_model.preload()  # after ready, in the background

    def _follow_settings(self) -> None:
        """Each running part hears of a change to its own settings (reload, update-config);
        what only a restart can change is named in services/restart_only.py."""
        follow = self.settings.follow
        if self.tools is not None:
            follow(ToolSettings.of, self.tools.use, ToolSettings.check)
        if self.rtvi is not None:
            follow(lambda c: c.rtvi, self.rtvi.use_config)
            follow(lambda c: c.webrtc, self.rtvi.use_webrtc)
        if self.mqtt is not None:
            follow(lambda c: c.mqtt, self.mqtt.use_config)
        if self.homeassistant is not None:
            follow(lambda c: c.homeassistant, self.homeassistant.use_config)
        follow(lambda c: c.log.level, set_log_level)

    def _pairing_token(self, config: Config) -> str:
        from rtvi_edge.rtvi.security import load_or_create_token

        if config.rtvi.open_device:
            log.warning("open device ([rtvi] open_device): anyone may change settings")
        if config.rtvi.token:
            return config.rtvi.token
        try:
            token = load_or_create_token(self.state_dir)
        except OSError as exc:
            token = secrets.token_urlsafe(18)
            log.warning(
                "cannot keep the pairing token in %s (%s): using one for this run",
                self.state_dir,
                exc,
            )
        log.info("pairing token for RTVI clients: %s (`rtvi-edge token` shows it)", token)
        return token

    def _warm_up(self) -> None:
        """One tiny generation so the first real turn finds the system prompt cached."""
        assert self.hub is not None
        import threading

        from rtvi_edge.engines.base import GenerationParams, GenerationStats

        msgs = [
            {"role": "system", "content": self.config.llm.system_prompt},
            {"role": "user", "content": "Hi"},
        ]
        try:
            for _ in self.hub.engines.llm.stream_chat(
                msgs, GenerationParams(max_tokens=1), threading.Event(), GenerationStats()
            ):
                pass
        except RtviEdgeError as exc:
            log.warning("LLM warm-up failed: %s", exc)

    def _watch_backends(self, hub: EngineHub) -> None:
        """LAN servers' failures and recoveries go on the bus; down ones are probed."""
        loop = asyncio.get_running_loop()

        def publish(event: ev.BackendEvent) -> None:
            loop.call_soon_threadsafe(self.bus.publish, event)

        hub.monitor.listener = publish
        self._spawn(hub.monitor.run(), "backend-monitor")

    def _start_local(self) -> None:
        assert self.assembly is not None
        config = self.config
        with_audio = config.device.local_session and config.audio.backend != AudioBackend.NONE
        local = self.assembly.local(with_audio)
        self.local = local.conversation
        # The device's mute and volume, however changed, are runtime changes: kept.
        self.local.device.watch_controls(self.settings.set_controls)
        self.local_services = ConversationServices(self.local, self.settings, base=local_settings)
        self.conversations[LOCAL_SESSION] = self.local
        if self.timers is not None:
            self.timers.bind(LOCAL_SESSION, DEVICE_OWNER)
        if not with_audio:
            log.info("local audio is off")
            return
        self.audio = LocalAudioSupervisor(config.audio, self.local, local.echo)
        self._spawn(self.audio.run(), "local-audio")

    async def _start_homeassistant(self) -> None:
        from rtvi_edge.homeassistant.server import HomeAssistantSatellite

        assert self.local is not None
        self.homeassistant = HomeAssistantSatellite(
            self.config, self.device_id, self.local, self.state_dir
        )
        await self.homeassistant.start()

    async def _start_mqtt(self) -> None:
        from rtvi_edge.local_control import LocalControl
        from rtvi_edge.mqtt.bridge import MqttBridge

        assert self.local is not None and self.local_services is not None
        control = LocalControl(
            self.bus, self.device_id, lambda: self.config, self.local, self.local_services
        )
        # With the satellite on, HA files both under one device (the same MAC).
        mac = self.homeassistant.identity.mac if self.homeassistant is not None else None
        self.mqtt = MqttBridge(self.config.mqtt, control, esphome_mac=mac)
        await self.mqtt.start()

    def _mqtt_publish(self, topic: str, payload: str) -> bool:
        publish = getattr(self.mqtt, "publish_raw", None)
        return bool(publish(topic, payload)) if publish is not None else False

    def _timer_fired(self, timer: Timer) -> None:
        """Announce to its owner (a connected session of that client), else on the device."""
        assert self.timers is not None
        conv = None
        for session_id in self.timers.sessions_of(timer.owner):
            found = self.conversations.get(session_id)
            if found is not None and not found.closed:
                conv = found
        if conv is None and is_guest_owner(timer.owner):
            # A guest's timer rings in its own session only, never on the device.
            log.info("timer %s of a guest is done; its session is gone", timer.id)
            return
        if conv is None:
            conv = self.local
        if conv is not None:
            self._spawn(conv.say(f"Your {timer.label} timer is done."), "timer-announce")
        else:
            log.warning(
                "timer %s (%s) is done, and nobody is there to hear it", timer.id, timer.label
            )

    def bind_owner(self, session_id: str, owner: str | None) -> None:
        """SessionFactory: who a session is, for its timers (None: the session is gone)."""
        if self.tools is not None:
            self.tools.guests.bind(session_id, owner)
        if self.timers is None:
            return
        if owner is None:
            self.timers.unbind(session_id)
        else:
            self.timers.bind(session_id, owner)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def describe(self) -> str:
        parts = []
        if self.hub:
            e = self.hub.engines
            parts.append(f"stt={e.stt.model_name} llm={e.llm.model_name} tts={e.tts.model_name}")
        if self.rtvi is not None:
            parts.append(f"rtvi=:{self.rtvi.port}")
        parts.append("local audio on" if self.audio and self.audio.connected else "local audio off")
        if self.mqtt is not None:
            parts.append("mqtt on")
        if self.wyoming is not None:
            parts.append(f"wyoming=:{self.wyoming.port}")
        if self.homeassistant is not None:
            parts.append(f"home assistant=:{self.homeassistant.port}")
        return ", ".join(parts)

    def text_conversation(self, session_id: str) -> Conversation:
        """A typed-turn conversation with the device's tools and intents (Wyoming handle)."""
        assert self.assembly is not None
        return self.assembly.text(session_id)

    # -- SessionFactory (RTVI) ------------------------------------------------------
    def new_conversation(self, session_id: str, sink: AudioSink) -> Conversation:
        assert self.assembly is not None
        conv = self.assembly.rtvi(session_id, sink)
        self.conversations[session_id] = conv
        return conv

    def new_services(
        self, conversation: Conversation, disconnect: Callable[[], Awaitable[None]]
    ) -> ConversationServices:
        return ConversationServices(conversation, self.settings, disconnect, base=rtvi_settings)

    def health(self) -> tuple[bool, dict[str, Any]]:
        info: dict[str, Any] = {"device_id": self.device_id}
        if self.hub is not None:
            e = self.hub.engines
            info["models"] = {
                "stt": e.stt.model_name,
                "llm": e.llm.model_name,
                "tts": e.tts.model_name,
            }
        info["local_audio"] = bool(self.audio and self.audio.connected)
        if self.hub is not None and (backends := self.hub.monitor.snapshot()):
            info["backends"] = backends
        return self._ready, info

    # -- running -------------------------------------------------------------------
    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload(), "reload"))
        try:
            await self._stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    def request_stop(self) -> None:
        self._stop.set()

    async def reload(self) -> None:
        """SIGHUP: re-read the config file; a bad file changes nothing."""
        self.notifier.reloading()
        try:
            new, _path = load_config(str(self.config_path) if self.config_path else None)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload refused: %s", problem)
            self.notifier.status(f"config reload refused: {exc.problems[0]}")
            self.notifier.ready_after_reload()
            return
        try:
            # The file goes under the runtime changes; each live conversation rebases.
            await self.settings.reload(new)
        except RtviEdgeError as exc:
            log.error("reload refused, nothing changed (the running engines neither): %s", exc)
            self.notifier.status(f"config reload refused: {exc}")
            self.notifier.ready_after_reload()
            return
        log.info("config reloaded from %s", self.config_path or "defaults")
        self.notifier.status(self.describe())
        self.notifier.ready_after_reload()

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval
        if interval is None:
            return
        while True:
            before = time.monotonic()
            await asyncio.sleep(interval)
            lag = time.monotonic() - before - interval
            if lag > interval:
                log.warning("event loop stalled for %.1f s; not pinging the watchdog", lag)
                continue
            if self.audio is not None and not self.audio.running:
                log.error("the local audio task died; letting the watchdog restart us")
                continue
            self.notifier.watchdog()

    # -- shutdown ------------------------------------------------------------------
    async def stop(self) -> None:
        self.notifier.stopping("shutting down")
        self._ready = False
        if self.mqtt is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.mqtt.stop(), 3)
        if self.homeassistant is not None:
            await self.homeassistant.stop()
        if self.rtvi is not None:
            await self.rtvi.stop()
        if self.wyoming is not None:
            await self.wyoming.stop()
        if self.timers is not None:
            self.timers.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.local is not None:
            await self.local.close()
        log.info("stopped")


async def run_daemon(config: Config, config_path: Path | None) -> int:
    daemon = Daemon(config, config_path)
    try:
        await daemon.start()
    except RtviEdgeError as exc:
        log.error("cannot start: %s", exc)
        daemon.notifier.status(f"failed: {exc}")
        await daemon.stop()
        return 1
    if daemon.rtvi is not None:
        port = daemon.rtvi.port
        host = daemon.config.rtvi.host
        shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
        print(
            f"rtvi-edge is ready. Open http://{shown}:{port}/ or point an RTVI client at "
            f"http://{shown}:{port}/start",
            flush=True,
        )
    try:
        await daemon.run_until_stopped()
    finally:
        await daemon.stop()
    return 0
