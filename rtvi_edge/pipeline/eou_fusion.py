"""One end-of-turn probability from two models: the audio turn model and the LLM.

Pure. The two are added in logits: the audio model's as it is, the language
model's centred on `neutral` (the probability at which it pulls neither way:
a small instruct model puts most of its mass on going on, so even a finished
question scores well under 0.5) and scaled by `weight`. Either may be missing;
with neither there is nothing to say.
"""

from __future__ import annotations

import math

_EPS = 1e-4


def logit(p: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def fused_probability(
    audio: float | None, text: float | None, weight: float, neutral: float
) -> float | None:
    if audio is None and text is None:
        return None
    z = 0.0 if audio is None else logit(audio)
    if text is not None:
        z += weight * (logit(text) - logit(neutral))
    return 1 / (1 + math.exp(-max(min(z, 60.0), -60.0)))
