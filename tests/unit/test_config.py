import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from rtvi_edge.config import Config, ConfigError, config_from_mapping, load_config, load_config_file

EXAMPLE = Path(__file__).parents[2] / "config" / "rtvi-edge.example.toml"


def test_example_documents_every_option_with_its_default() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    assert config_from_mapping(data) == Config()
    for section in dataclasses.fields(Config):
        keys = {f.name for f in dataclasses.fields(getattr(Config(), section.name))}
        assert set(data[section.name]) == keys, section.name


def test_every_problem_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[vad]\nstop_secs = 9.0\nthreshold = "high"\n[tts]\nvoise = "x"\n'
        '[audio]\nbackend = "alsa"\n[nope]\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config_file(bad)
    text = "\n".join(info.value.problems)
    assert "[vad] stop_secs = 9.0: must be <= 5.0" in text
    assert "[vad] threshold = 'high': must be a number" in text
    assert "[tts] voise: unknown option" in text
    assert "[audio] backend = 'alsa': must be one of 'pyaudio', 'file', 'none'" in text
    assert "[nope]: unknown section" in text
    assert len(info.value.problems) == 5


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text("[vad\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config_file(tmp_path / "x.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "missing.toml")


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "env.toml"
    env.write_text("[llm]\nmax_tokens = 99\n")
    monkeypatch.setenv("RTVI_EDGE_CONFIG", str(env))
    assert load_config(None)[0].llm.max_tokens == 99
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[llm]\nmax_tokens = 42\n")
    assert load_config(str(explicit))[0].llm.max_tokens == 42


def test_check_config_command_exit_status(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[vad]\nstop_secs = -1\n")
    run = subprocess.run(
        [sys.executable, "-m", "rtvi_edge", "check-config", str(bad)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "[vad] stop_secs = -1: must be >= 0.1" in run.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "rtvi_edge", "check-config", str(EXAMPLE)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr


def test_barge_in_bar_comes_from_the_audio_section() -> None:
    from rtvi_edge.pipeline.endpointing import BargeIn
    from rtvi_edge.pipeline.settings import SessionSettings

    config = config_from_mapping({"audio": {"echo_cancel": True, "barge_in_secs": 0.3}})
    settings = SessionSettings.from_config(config)
    assert settings.echo_guard == "barge-in"
    assert settings.barge_in() == BargeIn(threshold=0.85, min_secs=0.3)
    # no higher bar than a normal start (RTVI clients cancel their own echo): none
    settings.barge_in_threshold = settings.endpoint.threshold
    settings.barge_in_secs = settings.endpoint.start_secs
    assert settings.barge_in() is None
