"""What a request must be about for a builtin tool to be meant: the word's sense, not
its letters. "What is seven times eight?" shares the stem "time" with the clock tool,
"How many times does the heart beat in a minute?" with the timers' examples, "Don't stop
believing" the word "stop": none of them asks for the time, a timer, or silence.

Each sense is a regex over the lower-cased request; a tool with a sense is a candidate
(tools/matching.py) only when it matches. Sans-I/O.
"""

from __future__ import annotations

import re

# The current time or date asked for; not "times", "timeline", "time zone", "a time for",
# "what's the time complexity of…" (a clock question ends there).
CLOCK = re.compile(
    r"\b(?:what time (?:is it|it is|have you got|do you have)\b(?! in \w)"
    r"|what(?:'s| is) the time(?: now| please| right now| there)?[\s?.!]*$"
    r"|the time (?:now|please|right now)\b|current time\b"
    r"|(?:tell me|have|know|got|check|give me|say) the time\b"
    r"|time is it\b|what(?:'s| is) (?:the |today's )?date\b|today's date\b|the date today\b"
    r"|(?:what|which) day (?:is it|is today|of the week)\b|which day is (?:it|today)\b|o'clock\b"
    r"|what time do you (?:make it|have)\b"
    r"|^is it (?:still |already )?(?:morning|afternoon|evening|night|midnight|noon|lunchtime"
    r"|late|early)(?: yet| already)?[\s?.!]*$)"
)
# Timers and alarms, by name (not an alarm named for what it warns of: a security, smoke,
# fire, carbon monoxide, car alarm is a device); "remind me", "wake me",
# "how much time is left".
TIMER = re.compile(
    r"\b(?:timers?|(?<!security )(?<!burglar )(?<!house )(?<!smoke )(?<!fire )(?<!monoxide )"
    r"(?<!co )(?<!car )(?<!intruder )(?<!flood )(?<!gas )alarms?(?! system)|count ?downs?"
    r"|remind(?:ers?)?|wake me)\b"
    r"|\bhow (?:much time|long)\b.*\b(?:left|remaining|to go)\b"
    # "Time three minutes for my egg", "Let me know when a quarter of an hour is up"
    r"|^(?:please )?time (?:\w+ ){0,3}(?:seconds?|minutes?|hours?)\b"
    r"|\b(?:let me know|tell me|warn me|shout) when (?:\w+ ){0,6}(?:seconds?|minutes?|hours?)"
    r" (?:is |are |has |have )?(?:up|over|gone|passed|done)\b"
)
# A plain request for silence and nothing else: "stop", "never mind", "be quiet", "stop
# talking please". "Stop. What is two plus two?" asks a question after the stop (the
# interruption is already done: the question needs its answer, not another stop), and
# "stop me if you've heard this one" is no request for silence.
STOP = re.compile(
    r"^(?:(?:ok|okay|hey|please|just|oh|alright|shh+|sh+|psst)[\s,]+)*"
    r"(?:stop|never ?mind|be quiet|quiet|shush|hush|enough|that's enough|shut up|silence)"
    r"(?:[\s,]+(?:it|that|this|talking|speaking|now|right|please|there|thanks|thank you"
    r"|already|for now|the music|playing|reading))*[\s.!,]*$"
)
