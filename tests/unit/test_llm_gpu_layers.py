"""[llm] gpu_layers: a Jetson's CUDA build offloads every layer by default; CPU builds none."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtvi_edge.config import Config, load_config_file
from rtvi_edge.engines.llm_llama import offloaded_layers
from rtvi_edge.errors import ConfigError


@pytest.mark.parametrize(
    ("setting", "gpu", "expected"),
    [(-1, True, -1), (-1, False, 0), (0, True, 0), (12, True, 12), (12, False, 0)],
)
def test_offloaded_layers(setting: int, gpu: bool, expected: int) -> None:
    assert offloaded_layers(setting, gpu) == expected


def test_the_default_is_all_layers_where_there_is_a_gpu() -> None:
    assert Config().llm.gpu_layers == -1


def test_a_bad_value_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[llm]\ngpu_layers = -2\n")
    with pytest.raises(ConfigError, match="gpu_layers"):
        load_config_file(path)
