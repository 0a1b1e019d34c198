"""Is what the user said over the bot only a backchannel ("mm-hm", "yeah", "right")?

While the bot speaks, a listener who says "mm-hm" is not asking it to stop. The
bot's voice holds the moment the user starts (so a real interruption is heard at
once) and goes on if the words, at their first pause, are only these; anything
else ("wait", "stop", "yeah but ...") interrupts it. The list is English: with
another transcript language every voice interrupts, as before.
"""

from __future__ import annotations

import re

BACKCHANNELS = frozenset(
    {
        "mm",
        "mmm",
        "mhm",
        "mmhm",
        "mm-hm",
        "mm-hmm",
        "hm",
        "hmm",
        "uh-huh",
        "uh",
        "huh",
        "ah",
        "oh",
        "yeah",
        "yes",
        "yep",
        "yup",
        "ok",
        "okay",
        "right",
        "sure",
        "alright",
        "cool",
        "nice",
        "wow",
        "great",
        "really",
        "i",
        "see",
        "all",
        "got",
        "it",
    }
)
# Words that only make a backchannel together ("i see", "all right", "got it").
_PAIRS_ONLY = frozenset({"i", "see", "all", "got", "it"})
_PHRASES = frozenset({("i", "see"), ("all", "right"), ("got", "it")})
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
MAX_WORDS = 4


def is_backchannel(text: str) -> bool:
    words = _WORD.findall(text.lower())
    # "yeah yeah yeah" is one backchannel (and Whisper repeats a short word it is unsure of).
    words = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]
    if not words or len(words) > MAX_WORDS:
        return False
    i = 0
    while i < len(words):
        if tuple(words[i : i + 2]) in _PHRASES:
            i += 2
        elif words[i] in BACKCHANNELS and words[i] not in _PAIRS_ONLY:
            i += 1
        else:
            return False
    return True
