"""Never invent the state of the world: what only a tool can know, and the honest reply.

A small model asked "Is the garage door open?" with no tool for it answers
"The garage door is open." This module spots the requests whose answer is a
fact only a tool can give — the state of a device, a timer, the time or date,
the weather, a command to a device — so that when no tool answered (none
matched, it failed, it timed out) the device says so in fixed words instead of
letting the model guess. Sans-I/O: text in, a category and a sentence out.
"""

from __future__ import annotations

import re
from typing import Literal

Need = Literal["device_state", "device_command", "timer", "clock", "weather"]

_HOME = (
    r"(?:garage(?: door)?|front door|back door|door|gate|window|blinds?|curtains?|shutters?|"
    r"lights?|lamps?|bulb|switch|plug|socket|lock|alarm(?: system)?|heating|heater|boiler|"
    r"thermostat|air ?con(?:ditioning|ditioner)?|ac|fan|oven|stove|cooker|kettle|fridge|freezer|"
    r"dishwasher|washing machine|washer|dryer|tv|television|sprinklers?|camera|doorbell|"
    r"vacuum|robot|car|charger|battery|sensor|temperature (?:inside|in the \w+)|humidity|"
    r"(?:kitchen|bedroom|living room|bathroom|hall(?:way)?|office|porch|garden|basement|"
    r"attic|patio|driveway) \w+)"
)
_STATE_WORDS = (
    r"(?:on|off|open|opened|closed|shut|locked|unlocked|running|working|armed|disarmed|"
    r"plugged in|charging|charged|left on|left open|still on|still open|set|up|down|"
    r"ringing|recording|full|empty|done|ready|boiling|heating|cooking|playing|moving|"
    r"finished|unplugged|switched on|switched off|turned on|turned off|working|online|"
    r"offline|connected|low|dead|broken|jammed|stuck|frozen|leaking)"
)
# A thing of the home said as a short noun phrase after an article: "the dryer", "my
# phone", "the baby monitor" (any noun: a device nobody declared is still a device).
_SOME_THING = r"(?:the|my|our|your) (?:[a-z][\w-]* ){0,2}[a-z][\w-]*"
# Measures only a sensor knows: "the water level in the pond", "the battery level of my
# phone", "how much gas is left in the car".
_MEASURE = (
    r"(?:water|battery|fuel|gas|oil|ink|charge|charging|signal|noise|light|humidity|"
    r"moisture|tank|pressure|power|energy|level)"
)
_Q = r"(?:is|are|was|were|did|have|has|do|does)"
# The thing a command is about: a few words that end the request, no second clause
# ("turn off your brain and relax, that's my motto" commands no device).
_THING = (
    r"(?:(?!(?:and|but|because|so|then|your|his|her|their|i|i'm|that's|we|you|it)\b)"
    r"[\w'-]+(?: |$)){1,8}"
)
# Things of a conversation, not of the home: "start the story", "open the quiz".
_TALK = (
    r"(?:the |my |our |your )(?:\w+ )?(?:story|game|quiz|conversation|lesson|joke|poem|"
    r"song|day|week|meeting|list|chapter|book|discussion|show|movie|film|talk)\b"
)
_RULES: list[tuple[Need, re.Pattern[str]]] = [
    (
        "device_state",
        re.compile(
            rf"^(?:{_Q}\b.*\b{_HOME}\b.*\b{_STATE_WORDS}\b|"
            rf"(?:check|see|tell me|find out|know|look)\b.*\b(?:if|whether|whether or not)?\b"
            rf".*\b{_HOME}\b|"
            rf"(?:what(?:'s| is)|how(?:'s| is)) the (?:status|state) of .*|"
            rf"(?:what(?:'s| is)|how(?:'s| is)|how warm|how cold|how hot) .*\b"
            rf"(?:temperature|humidity) (?:inside|in here|in the (?:house|\w+ ?room|kitchen|"
            r"bedroom|office))\b.*|"
            rf"(?:what(?:'s| is)) the (?:thermostat|heating|temperature) (?:set to|at)\b.*|"
            rf"(?:which|what) (?:lights?|doors?|windows?) (?:are|is) (?:on|open|off|closed|"
            rf"locked|unlocked)\b.*)$"
        ),
    ),
    (
        # Any thing's state asked by a short yes/no question ("Is the dryer finished?",
        # "Is the printer on?"), or a measure of a thing ("What's the water level in the
        # pond?", "How much gas is left in the car?").
        "device_state",
        re.compile(
            rf"^(?:{_Q} {_SOME_THING} (?:still |already |yet |fully |all )?"
            rf"{_STATE_WORDS}(?: yet| now| already| right now)?|"
            rf"(?:what(?:'s| is)|how(?:'s| is)|check) (?:the )?{_MEASURE} level"
            rf" (?:in|of|on) {_SOME_THING}|"
            rf"how much {_MEASURE} (?:is |do i have |does \w+ have )?(?:left|remaining)"
            rf"(?: in| on| of)? ?(?:{_SOME_THING})?|"
            # "What's the air pressure in the car tyres?", "How much battery does my phone
            # have?": a measure of a thing of the home, whatever its words (a named measure:
            # "the level of the sea" is no sensor's)
            rf"what(?:'s| is) the [\w-]+ {_MEASURE} (?:in|of|on|inside) {_SOME_THING}|"
            rf"how much {_MEASURE} (?:does|do|has|have) {_SOME_THING}(?: got)?(?: have)?(?: left)?|"
            rf"what(?:'s| is)? (?:the )?(?:temperature|humidity) (?:inside|of|in) {_SOME_THING}|"
            rf"(?:what|how) (?:temperature|hot|cold|warm|humid|full|charged) (?:is|are) "
            rf"{_SOME_THING}(?: at| set to)?|"
            # "How humid is it in the basement?", "How damp is the cellar?"
            rf"how (?:hot|cold|warm|humid|damp|dry|wet|full|bright|dark|loud|noisy|stuffy) "
            rf"(?:is|are) (?:it (?:in|at|on|inside) )?{_SOME_THING}(?: .*)?|"
            # "Did I leave the iron on?", "Have I left the oven on?"
            rf"(?:did|have|has) (?:i|we|you|somebody|someone|anyone) (?:leave|left) "
            rf"{_SOME_THING} (?:on|open|running|unlocked|plugged in)(?: .*)?|"
            # "Is the sauna warm yet?", "Is the pool hot enough?"
            rf"{_Q} {_SOME_THING} (?:still |already )?(?:warm|hot|cold|cool|dry|wet|damp|"
            rf"humid|charged|full|empty|clean|dirty)(?: yet| enough| now| already)?)$"
        ),
    ),
    (
        "device_command",
        re.compile(
            rf"^(?:turn|switch|shut|power|flip)(?: the| my)? (?:on|off|up|down)(?: {_THING})?$|"
            rf"^(?:turn|switch|shut|power|flip) {_THING}(?:on|off)$|"
            rf"^(?:open|close|lock|unlock|dim|brighten|arm|disarm|start|stop|run)"
            rf" (?:the |my |all the )?{_HOME}\b.*|"
            rf"^set the (?:thermostat|heating|temperature|lights?|fan)\b.*$|"
            rf"^set the (?:[\w-]+ ){{1,2}}{_HOME}\b.*$|"
            rf"^(?:start|open|close|lock|unlock|arm|disarm|dim|brighten|switch on|turn on|"
            rf"switch off|turn off|unplug|plug in) (?!{_TALK}){_SOME_THING}$"
        ),
    ),
    (
        "timer",
        re.compile(
            r"^(?:how (?:much time|long) .*\b(?:left|remaining|until|to go)\b|"
            r"(?:is|are|do i have) .*\b(?:timers?|alarms?)\b.*|"
            r"(?:what|which|any) (?:timers?|alarms?)\b.*|.*\b(?:my|the) (?:timers?|alarms?)\b.*|"
            r"(?:set|start|cancel|stop|delete|remove) (?:a |an |the |my )?.*\b"
            r"(?:timers?|alarms?|countdown|reminder)\b.*|remind me\b.*|wake me\b.*)$"
        ),
    ),
    (
        "clock",
        re.compile(
            r"^(?:.*\bwhat time is it\b.*|.*\bwhat(?:'s| is) the time\b.*|"
            r".*\b(?:the )?time (?:is it )?(?:right )?now\b.*|.*\bcurrent time\b.*|"
            r".*\bwhat (?:day|date) is (?:it|today)\b.*|.*\bwhat(?:'s| is) (?:the |today's )"
            r"date\b.*|.*\btoday's date\b.*|.*\bwhat day of the week\b.*|"
            r".*\b(?:tell me|do you (?:have|know)) (?:the|what) time\b.*|"
            r"what time (?:do|have) you (?:have|got|make it)\b.*)$"
        ),
    ),
    (
        "weather",
        re.compile(
            r"^(?:.*\b(?:weather|forecast)\b.*(?:today|tomorrow|now|like|outside|\bin\b).*|"
            r"(?:is|will|does|did) it .*\b(?:rain|snow|sunny|cloudy|windy|hot|cold|warm|"
            r"freezing)\b.*(?:today|tomorrow|tonight|now|later|outside|\bin\b).*|"
            r"(?:how|what(?:'s| is)) (?:warm|cold|hot|the temperature)\b.*\b(?:outside|today|"
            r"tomorrow|\bin\b [A-Z]?\w+).*|do i need an umbrella\b.*|should i take a coat\b.*)$"
        ),
    ),
]
NOT_A_REQUEST = re.compile(
    r"\b(?:story|joke|poem|riddle|history|invented|invent|inventor|explain|meaning|"
    r"define|definition|word for|why do|why does|why is|how do .* work|how does .* work|"
    r"titanic|ago|in \d{4}|century|the word|spell|spelling|pronounce|rhymes? with|synonym|"
    r"opposite of|used for|what does .* mean|stand for|average|on average|typical|"
    r"ideas?|suggestions?|tips|advice|"
    r"^how (?:does|do|did|can|would) an? \w+|\bshould an? \w+|^what(?:'s| is) an? |"
    r"what time (?:did|was|were|does|do)(?! you (?:have|got|make it)))\b|"
    r"^(?:i|we) (?:like|love|hate|enjoy|think|feel|was|were|had|used to)\b"
)

REPLIES: dict[Need, str] = {
    "device_state": "I can't tell: I have no way to check that from here.",
    "device_command": "I can't do that: no device by that name is set up for me.",
    "timer": "I can't tell: I have no timer tool right now.",
    "clock": "I can't tell the time right now: my clock tool is not available.",
    "weather": "I can't tell: I have no weather service to ask.",
}


def _normalize(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^\w'\s-]", " ", text)
    text = " ".join(text.split())
    fillers = (
        r"^(?:(?:hey|ok|okay|please|so|um|uh|well|and|but|excuse me|sorry)\s+|"
        r"(?:can|could|would|will) you(?: please)?\s+|i want you to\s+|i'd like you to\s+|"
        r"i want to know\s+|i wonder\s+|do you know\s+|tell me\s+(?=if|whether))+"
    )
    return re.sub(fillers, "", text).strip()


def needs_tool(text: str) -> Need | None:
    """The kind of fact or action only a tool can give, or None for plain conversation."""
    need = _need(_normalize(text))
    if need is None:  # "Did the mail come? Check the mailbox sensor.": each sentence
        parts = [p for p in re.split(r"(?<=[.?!])\s+", text.strip()) if p]
        for part in parts if len(parts) > 1 else []:
            need = need or _need(_normalize(part))
    return need


def _need(norm: str) -> Need | None:
    if not norm or NOT_A_REQUEST.search(norm):
        return None
    for need, rule in _RULES:
        if rule.search(norm):
            return need
    return None


def cannot_tell(need: Need) -> str:
    return REPLIES[need]
