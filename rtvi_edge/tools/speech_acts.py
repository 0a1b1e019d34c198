"""Sentences that ask for no tool whatever their words: a remark ("My car is my pride and
joy.", "The TV show was a real turn off."), a question about the assistant's own taste
("Red or blue, which color do you prefer?"), a how-to or an advice question ("How do I
clean the inside of an oven?"), a suggestion to talk or play ("Let's play a word game."),
a request for a song, a fun fact or a comparison. Their words may be a client
function's ("turn off", "car", "blue") but in another sense: calling it would act on the
home for a remark. Sans-I/O: text in, yes or no out.
"""

from __future__ import annotations

import re

# A remark: a subject that is not a question word or a pronoun the user commands with,
# then a verb of being, and no question mark ("Alarm clocks are so annoying.").
_REMARK = re.compile(
    r"^(?!(?:is|are|was|were|what|what's|who|who's|how|how's|when|where|why|which|can|"
    r"could|would|will|do|does|did|it|it's|there|i|i'm|we|you|let's|please|hey|ok|okay|"
    r"turn|switch|set|make|put|start|stop|open|close|lock|unlock|check|tell)\b)"
    r"(?:[\w'-]+ ){1,6}(?:is|are|was|were|'s|'re|looks|seems|sounds|makes)\b[^?]*$"
)
# A second clause that does command something ("the heating is off, turn it on").
_COMMAND_CLAUSE = re.compile(
    r"[,;:.] *(?:please |can you |could you )?(?:turn|switch|set|make|put|start|stop|open|"
    r"close|lock|unlock|check|tell me)\b"
)
_NOT_A_REQUEST = re.compile(
    r"\b(?:do|would|did) you (?:prefer|like|love|enjoy|think|believe|agree|recommend|"
    r"remember when)\b|\byour (?:favou?rite|opinion|view)\b|\bwhich (?:\w+ )?do you\b|"
    r"^how (?:do|can|should|would|could) (?:i|you|we|one|people)\b|"
    r"\bwhat should (?:i|we) do\b|\b(?:something|anything) (?:interesting|fun|new) about\b|"
    r"\bfun fact\b|^who (?:wrote|painted|composed|directed|sang|built|discovered|founded|"
    r"invented|designed|made|created|played|won)\b|\bdifference between\b|"
    r"^let's (?:play|talk|chat|sing|have|go|do|think|see|try|pretend|imagine)\b|"
    r"^(?:sing|hum|recite|compose|write)\b"
)


def not_a_request(text: str) -> bool:
    """True for a sentence no tool should answer, whatever words it shares with one."""
    lowered = " ".join(text.lower().replace("’", "'").split())
    if _NOT_A_REQUEST.search(lowered):
        return True
    return bool(_REMARK.match(lowered)) and not _COMMAND_CLAUSE.search(lowered)
