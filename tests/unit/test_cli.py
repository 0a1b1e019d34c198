"""The command line: options may come before or after the command."""

from __future__ import annotations

import pytest

from rtvi_edge.cli import _parser, main


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--config", "a.toml", "--log-level", "debug"],
        ["--config", "a.toml", "--log-level", "debug", "run"],
        ["--log-level", "debug", "run", "--config", "a.toml"],
    ],
)
def test_config_before_or_after_the_command(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    assert (args.command, args.config, args.log_level) == ("run", "a.toml", "debug")


def test_no_config_means_the_default_search() -> None:
    args = _parser().parse_args(["chat", "hello"])
    assert args.config is None and args.log_level is None and args.message == ["hello"]


def test_run_with_a_missing_config_file_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", "/nonexistent/rtvi-edge.toml"]) == 2
    assert "cannot read" in capsys.readouterr().err
