"""The shared turn model's fallback, and Whisper base joined from its two packages."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rtvi_edge.engines.turn_smart import SharedTurnModel
from rtvi_edge.engines.whisper_models import join_model, packaged_whisper
from rtvi_edge.errors import ModelNotFoundError


def test_a_missing_turn_model_answers_none_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = SharedTurnModel()
    shared.configure(str(tmp_path / "nope.onnx"), 1)
    with caplog.at_level(logging.WARNING):
        assert shared.probability(b"\0" * 3200) is None
        assert shared.probability(b"\0" * 3200) is None
    warnings = [r for r in caplog.records if "turn model unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "nope.onnx" in warnings[0].getMessage()


def test_a_bad_turn_model_file_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    shared = SharedTurnModel()
    shared.configure(str(bad), 1)
    assert shared.load() is None


def test_join_model_concatenates_once(tmp_path: Path) -> None:
    a, b, cfg = tmp_path / "model.bin.part1", tmp_path / "model.bin.part2", tmp_path / "config.json"
    a.write_bytes(b"abc")
    b.write_bytes(b"defg")
    cfg.write_text("{}")
    out = join_model([a, b], [cfg], tmp_path / "joined")
    assert (out / "model.bin").read_bytes() == b"abcdefg"
    assert (out / "config.json").read_text() == "{}"
    stamp = (out / "model.bin").stat().st_mtime_ns
    join_model([a, b], [cfg], tmp_path / "joined")  # already there: left alone
    assert (out / "model.bin").stat().st_mtime_ns == stamp


def test_unknown_packaged_whisper_name(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="known"):
        packaged_whisper("huge", tmp_path)


async def test_verdicts_run_in_the_models_own_low_priority_thread() -> None:
    import os
    import sys
    import threading

    from rtvi_edge.engines.turn_smart import NICENESS

    seen: list[tuple[str, int]] = []

    class Recording(SharedTurnModel):
        def probability(self, pcm: bytes) -> float | None:
            seen.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, 0)))
            return 0.5

    model = Recording()
    assert await model.judge(b"\0" * 3200) == 0.5
    assert await model.judge(b"\0" * 3200) == 0.5
    names = {name for name, _ in seen}
    assert len(names) == 1 and next(iter(names)).startswith("turn-model")
    if sys.platform == "linux":
        assert seen[0][1] >= NICENESS  # it yields to the answer the user waits for


async def test_the_engine_hub_owns_one_turn_model_and_reconfigures_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from rtvi_edge.config import config_from_mapping
    from rtvi_edge.engines.hub import EngineHub
    from tests.fakes import fake_engines

    config = config_from_mapping({"turn": {"model": str(tmp_path / "first.onnx")}})
    hub = EngineHub(fake_engines(), config)
    with caplog.at_level(logging.WARNING):
        assert hub.turn_model.load() is None
        await hub.reconfigure(config_from_mapping({"turn": {"model": str(tmp_path / "2.onnx")}}))
        assert hub.turn_model.load() is None
    said = [r.getMessage() for r in caplog.records if "turn model unavailable" in r.getMessage()]
    assert len(said) == 2 and "first.onnx" in said[0] and "2.onnx" in said[1]
