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
    r"(?![\w'-]+(?:\s*:|\s+that\b))"  # "Announce that dinner is ready", "Broadcast: …"
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


# A question about the world, not about this home now: advice on how much or how long
# ("How much water should I drink a day?", "How long can you keep chicken in a
# freezer?"), whether something is safe, why something is so, what something is for,
# what is best or usual. A device's words in it ("water", "freezer", "blanket") name
# the thing in general, not this home's one.
_WORLD_QUESTION = re.compile(
    r"^how (?:much|many|long|often|far|short|big|small|hot|cold|warm|high|low|early|late|old"
    r"|many times)\b(?: [\w'-]+){0,4} (?:should|can|could|must|do|does|would) "
    r"(?:i|you|we|one|people|they|a|an|kids|children|adults|dogs|cats)\b"
    r"|^why\b"
    r"|^how (?:do|does|did) (?!(?:i|you|we|it|they|my|our|your)\b)"  # "How do bees make honey?"
    r"|\bis it (?:safe|ok|okay|bad|good|healthy|normal|possible|dangerous|wise|legal|true|"
    r"better|worth) (?:to|for|that|if)\b"
    r"|^what(?:'s| is| are) (?:the |a |an )?(?:best|ideal|right|recommended|usual|normal|"
    r"average|healthiest|safest)\b"
    r"|\b(?:usually|generally|typically|in general|on average)\b"
    r"|^what(?:'s| is| are) (?:the |a |an )?(?:[\w'-]+ ){1,6}for[?.!]*$"
)
# ... unless it is about here and now ("How long is left on the timer?").
_HERE_NOW = re.compile(
    r"\b(?:now|right now|today|tonight|this (?:morning|afternoon|evening|week)|currently|"
    r"at the moment|left|yet|still|(?:do|did) (?:i|we) have)\b"
)


def world_question(lowered: str) -> bool:
    """A question of general knowledge or advice that no state of the home answers."""
    return bool(_WORLD_QUESTION.search(lowered)) and not _HERE_NOW.search(lowered)


def not_a_request(text: str) -> bool:
    """True for a sentence no tool should answer, whatever words it shares with one."""
    lowered = " ".join(text.lower().replace("’", "'").split())
    if _NOT_A_REQUEST.search(lowered) or world_question(lowered):
        return True
    return bool(_REMARK.match(lowered)) and not _COMMAND_CLAUSE.search(lowered)
