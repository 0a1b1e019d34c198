"""Answers of the model that look like one of the device's fixed replies ("Done: …",
"I can't tell: …", "Thing: facts.", "Timer set for …") in a turn no tool ran and no
intent answered: the model copying the device's templates from its context. The device's
own honest replies ("I can't tell: I have no way to check that from here.") are not
counted: they are said with no tool, and a word-for-word copy cannot be told from them.

    python -m bench.template_answers bench/results/tools_blind_set5_session7_final.json ...

The shapes are tools/fixed_shapes.py's (the guard of pipeline/echo.py uses them too).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rtvi_edge.tools.fixed_shapes import device_shaped
from rtvi_edge.tools.honesty import REPLIES

# The device's own honest replies are said with no tool run (tools/honesty.py): not copies.
_HONEST = frozenset(REPLIES.values())


def copied(path: Path) -> list[tuple[str, str]]:
    """(utterance, answer) for each template-shaped answer with no tool or intent (the
    device's own honest replies aside: a copy of one word for word is not told apart)."""
    observed = json.loads(path.read_text())["observed"]
    return [
        (o["text"], o["answer"])
        for o in observed
        if not o["calls"]
        and not o["intents"]
        and device_shaped(o["answer"])
        and o["answer"] not in _HONEST
    ]


def main(argv: list[str]) -> int:
    for name in argv:
        found = copied(Path(name))
        print(f"{name}: {len(found)} template-shaped answers with no tool this turn")
        for text, answer in found:
            print(f"  {text!r} -> {answer!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
