import json
from collections.abc import Iterator
from pathlib import Path

from bench import memory_trace


def test_a_generator_is_tagged_while_it_works_not_between_items() -> None:
    class Engine:
        def synthesize(self, text: str, speed: float) -> Iterator[list[str]]:
            for _word in text.split():
                yield sorted(memory_trace._busy.values())

    memory_trace._wrap_generator(Engine, "synthesize", lambda text, _: f"piper:{len(text.split())}")
    gen = Engine().synthesize("two words", 1.0)
    assert next(gen) == ["piper:2"]
    assert memory_trace._busy == {}  # handed out: nothing in flight
    assert list(gen) == [["piper:2"]]


def test_the_summary_gives_each_combination_and_the_peaks(tmp_path: Path) -> None:
    rows = [{"t": i * 0.02, "rss": 400.0, "busy": []} for i in range(20)]
    rows += [{"t": 1.0, "rss": 480.0, "busy": ["piper:8w41c", "llm"]}]
    rows += [{"t": 5.0, "rss": 450.0, "busy": ["whisper:2.0"]}]
    path = tmp_path / "trace.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = memory_trace.summarize(path)
    assert summary["floor"] == 400.0 and summary["max_rss"] == 480.0
    assert summary["by_engines_in_flight"]["llm+piper"]["above_floor"] == 80.0
    assert list(summary["by_engines_in_flight"]) == ["llm+piper", "whisper", "idle"]
    assert [p["rss"] for p in summary["top_peaks"][:2]] == [480.0, 450.0]
