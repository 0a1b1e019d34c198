"""The settings owner's layers: the file under what the user changed at run time,
kept in the state dir across reloads and restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtvi_edge import events as ev
from rtvi_edge.assembly import Assembly, rtvi_settings
from rtvi_edge.audio.sink import NullSink
from rtvi_edge.config import Config, config_from_mapping, replace_section
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.services.conversation_services import ConversationServices
from rtvi_edge.services.settings_owner import RUNTIME_FILE, SettingsOwner
from tests.fakes import fake_engines


def file_with(**audio: object) -> Config:
    return config_from_mapping({"audio": audio, "llm": {"temperature": 0.3}})


async def test_the_file_goes_under_the_runtime_changes_on_reload(tmp_path: Path) -> None:
    owner = SettingsOwner(file_with(volume=1.0), tmp_path)
    owner.set_controls(muted=True, volume=0.4)
    new_file = replace_section(file_with(volume=0.8, muted=False), "llm", temperature=0.6)
    await owner.reload(new_file)
    assert owner.config.audio.muted and owner.config.audio.volume == 0.4  # the user's
    assert owner.config.llm.temperature == 0.6  # the file's own change applies


async def test_a_restart_keeps_the_runtime_changes(tmp_path: Path) -> None:
    owner = SettingsOwner(file_with(), tmp_path)
    owner.set_controls(muted=False, volume=0.25)  # only the volume changed
    again = SettingsOwner(file_with(muted=True), tmp_path)
    assert again.config.audio.volume == 0.25
    assert again.config.audio.muted  # the file's mute: the user never changed it
    assert json.loads((tmp_path / RUNTIME_FILE).read_text()) == {"audio": {"volume": 0.25}}


async def test_device_options_are_runtime_changes_too(tmp_path: Path) -> None:
    owner = SettingsOwner(Config(), tmp_path)
    await owner.apply_device(replace_section(owner.config, "vad", engine="energy"))
    await owner.reload(config_from_mapping({"vad": {"engine": "webrtc"}}))
    assert owner.config.vad.engine == "energy"


@pytest.mark.parametrize("saved", ['{"audio": {"volume": 9}}', '{"rtvi": {"port": 1}}', "not json"])
def test_a_bad_saved_layer_is_ignored(tmp_path: Path, saved: str) -> None:
    (tmp_path / RUNTIME_FILE).write_text(saved)
    assert SettingsOwner(Config(), tmp_path).config == Config()


async def test_a_live_session_keeps_its_own_options_over_a_new_base(tmp_path: Path) -> None:
    owner = SettingsOwner(file_with(), tmp_path)
    hub = EngineHub(fake_engines(), owner.config)
    owner.hub = hub
    conv = Assembly(lambda: owner.config, hub, ev.EventBus(), None).rtvi("s1", NullSink())
    services = ConversationServices(conv, owner, base=rtvi_settings)
    await services.update_config([{"service": "tts", "options": [{"name": "speed", "value": 1.5}]}])
    new_file = replace_section(file_with(), "llm", temperature=0.9, system_prompt="Be brief.")
    await owner.reload(new_file)
    assert conv.settings.tts_speed == 1.5  # the session's own
    assert conv.settings.temperature == 0.9 and conv.context.system_prompt == "Be brief."
    await conv.close()
