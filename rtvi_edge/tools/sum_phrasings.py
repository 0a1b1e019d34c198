"""Everyday ways of asking for a sum, rewritten into the calculator's plain forms.

"Share 156 sweets between 12 kids" is "156 divided by 12"; "a 15 percent tip on 60" is
"15 percent of 60"; "add up 19, 23 and 8" is "19 plus 23 plus 8"; "It's 30 degrees
Celsius here, what's that in Fahrenheit?" is "30 degrees celsius in fahrenheit". A
rewrite only reshapes the words: every number still comes from the request, and the
result must still parse entirely (arithmetic, units), or there is no answer. Sans-I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from rtvi_edge.tools.numbers import TEN_WORDS, UNIT_WORDS

_NUMBER_WORDS = (
    *UNIT_WORDS, *TEN_WORDS, "hundred", "thousand", "million", "and", "point", "a", "an",
    "half", "dozen", "of", "minus", "negative",
)  # fmt: skip
# A word that names a thing ("sweets", "kids", "bill"): never one that is part of a number,
# so "one hundred fifty six sweets" cannot lose its "six" to the noun.
_NOT_NOUNS = (
    *_NUMBER_WORDS,
    "percent",
    "between",
    "among",
    "amongst",
    "by",
    "with",
    "on",
    "for",
    "at",
)
_NOUN = rf"(?!(?:{'|'.join(_NOT_NOUNS)})\b)[a-z']+"
_Q = r"(?P<q>[\w. ]+?)"  # an amount (checked by the parser, not here)
_N = r"(?P<n>[\w. ]+?)"  # a count or a percentage
_THE = r"(?:an? |the |my |our |this |that )?"

# Sums said with a verb or a situation, rewritten as operators. Each: a pattern over the
# whole body (frame and tail already gone) and the plain form it becomes.
_FORMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        # verbs
        (r"^add (.+?) (?:and|to|plus) (.+)$", r"\1 plus \2"),
        (r"^subtract (.+?) from (.+)$", r"\2 minus \1"),
        (r"^take (.+?) (?:from|away from) (.+)$", r"\2 minus \1"),
        (r"^multiply (.+?) (?:by|and|with|times) (.+)$", r"\1 times \2"),
        (r"^divide (.+?) by (.+)$", r"\1 divided by \2"),
        (r"^divide (.+?) into (.+)$", r"\2 divided by \1"),
        (r"^how many times (?:does|do|will|can) (.+?) go into (.+)$", r"\2 divided by \1"),
        (r"^(?:the )?product of (.+?) and (.+)$", r"\1 times \2"),
        (r"^(?:the )?difference between (.+?) and (.+)$", r"\1 minus \2"),
        (r"^(?:the )?square of (.+)$", r"\1 squared"),
        # sharing: "share 156 sweets between 12 kids", "split the bill of 84 between
        # the four of us", "84 split four ways"
        (
            rf"^(?:share|split|divide)(?: up| out)? {_THE}(?:{_NOUN} ){{0,2}}(?:of |for )?"
            rf"{_Q}(?: {_NOUN}){{0,2}} (?:equally |evenly )?(?:between|among|amongst|across|by) "
            rf"(?:the |us )?{_N}(?: of us| of them| ways| {_NOUN})?$",
            r"\g<q> divided by \g<n>",
        ),
        (
            rf"^{_THE}{_Q}(?: {_NOUN}){{0,2}} (?:shared|split|divided) (?:equally |evenly )?"
            rf"(?:between|among|amongst|across|by) (?:the )?{_N}(?: of us| of them| {_NOUN})?$",
            r"\g<q> divided by \g<n>",
        ),
        (
            rf"^(?:split |share |divide )?{_THE}{_Q}(?: {_NOUN}){{0,2}} {_N} ways$",
            r"\g<q> divided by \g<n>",
        ),
        # tips and discounts: "a 15 percent tip on 60", "a coat costs 120 with 25 percent
        # off", "60 plus a 15 percent tip", "reduce 80 by 25 percent"
        (
            rf"^{_THE}{_N} percent tip (?:on|for|of) {_THE}{_Q}(?: {_NOUN}){{0,2}}$",
            r"\g<n> percent of \g<q>",
        ),
        (
            rf"^(?:how much )?(?:should i |do i |would i )?tip (?:on|for) {_THE}{_Q}"
            rf"(?: {_NOUN}){{0,2}} at {_N} percent$",
            r"\g<n> percent of \g<q>",
        ),
        (
            rf"^(?:{_THE}(?:{_NOUN} ){{1,3}}(?:costs?|is|are|was|were|priced at|at) )?"
            rf"{_Q}(?: {_NOUN}){{0,2}} (?:with|less|minus|at) (?:an? )?{_N} percent "
            r"(?:off|discount)$",
            r"\g<n> percent off \g<q>",
        ),
        (
            rf"^{_Q}(?: {_NOUN}){{0,2}} (?:with|plus|and) (?:an? )?{_N} percent (?:tip|service)$",
            r"\g<q> plus \g<n> percent",
        ),
        (rf"^(?:increase|raise|grow) {_Q} by {_N} percent$", r"\g<q> plus \g<n> percent"),
        (
            rf"^(?:decrease|reduce|cut|lower|discount) {_Q} by {_N} percent$",
            r"\g<n> percent off \g<q>",
        ),
        # the number whose square is...: "what number squared gives 169"
        (
            r"^what number (?:squared|times itself|multiplied by itself) "
            r"(?:gives(?: you)?|is|equals|makes|comes to) (.+)$",
            r"the square root of \1",
        ),
        (
            r"^what number cubed (?:gives(?: you)?|is|equals|makes|comes to) (.+)$",
            r"cube root of \1",
        ),
    )
)
# A list added up: "add up 19, 23 and 8", "the sum of 4, 5 and 6", "19, 23 and 8 added up".
_LIST_SUM = (
    re.compile(
        r"^(?:(?:the )?(?:sum|total) of|add(?: up| together)?|sum(?: up)?|total(?: up)?) "
        r"(.+ and .+)$"
    ),
    re.compile(r"^(.+ and .+) (?:added (?:up|together)|summed|in total|all together)$"),
)
_AND = re.compile(r" and (?!an? (?:half|quarter|third)\b)")


def rewrite(body: str) -> str:
    """The plain form of a normalized sum's body; the body itself if no form fits."""
    for pattern in _LIST_SUM:
        if m := pattern.match(body):
            return _AND.sub(" plus ", m[1])
    for pattern, repl in _FORMS:
        if pattern.match(body):
            return pattern.sub(repl, body)
    return body


# A short lead-in before the sum: "Quick one: nine times six?", "Right, 12 times 4". Only
# words that ask for nothing themselves ("Set a timer, what's 5 times 3" keeps its timer).
_LEAD_WORDS = frozenset((
    "a", "quick", "one", "question", "sum", "maths", "math", "mental", "hey", "ok", "okay",
    "right", "so", "now", "alright", "and", "then", "next", "another", "um", "uh", "er",
    "well", "also", "please", "here's", "try", "this", "riddle", "for", "you", "me", "last",
    "simple", "easy", "little", "there",
))  # fmt: skip
# A first part that asks for an action is a command, not a quantity to convert ("Set the
# thermostat to 20 degrees, what's that in Fahrenheit?" must still set it).
_COMMANDS = frozenset((
    "set", "turn", "put", "make", "change", "switch", "raise", "lower", "heat", "cool", "bump",
    "drop", "start", "run", "give", "open", "close", "play", "increase", "decrease", "reduce",
    "boost", "warm", "preheat",
))  # fmt: skip
_LEAD_IN = re.compile(r"^\s*([a-z' ]{1,30}?)\s*[:,\u2014-]\s+(.+)$")
# The second clause asks about the first one's quantity: "..., what's that in Fahrenheit?",
# "..., how many miles is that?".
_THAT = r"(?:that|it|this)"
_REFERENT = re.compile(
    rf"^(?:so |and |then |ok |okay )?(?:"
    rf"what(?:'s| is| would be| does) {_THAT}(?: be| come to| make)? "
    rf"(?:in|to|as|in terms of) (?P<a>.+)"
    rf"|how (?:many|much) (?P<b>.+?) (?:is|would be|are|does|makes) {_THAT}(?: make| come to)?"
    rf"|(?:convert|change|turn|put) {_THAT} (?:in)?to (?P<c>.+)"
    rf"|in (?P<d>.+)"
    rf")$"
)


def clauses(text: str, converts: Callable[[str], bool]) -> Iterator[str]:
    """Other readings of a request said in two parts: without a short lead-in, or as one
    conversion when the second part asks about the first part's one quantity (`converts`
    says whether a "quantity in unit" phrase is a whole conversion)."""
    lowered = text.lower().replace("\u2019", "'").strip().rstrip("?.! ")
    lead = _LEAD_IN.match(lowered)
    if lead and len(lead[1].split()) <= 4 and all(w in _LEAD_WORDS for w in lead[1].split()):
        yield lead[2]
    parts = re.split(r"\s*[,;:]\s+|(?<!\d)\.\s+", lowered)
    if (
        len(parts) == 2
        and parts[0].split()[0] not in _COMMANDS
        and (r := _REFERENT.match(parts[1].rstrip("?.! ")))
    ):
        target = next(g for g in r.groups() if g)
        spans = _spans(parts[0], lambda span: converts(f"{span} in {target}"))
        if len(spans) == 1:  # one quantity; two ("5k and 3k") would be a guess
            yield f"{spans[0]} in {target}"


def _spans(clause: str, fits: Callable[[str], bool]) -> list[str]:
    """The longest runs of words in a clause that `fits` accepts, none inside another:
    for "it's 30 degrees celsius here", "30 degrees celsius"."""
    words = re.sub(r"[^\w.' -]", " ", clause).split()[:24]
    hits = [
        (start, stop)
        for start in range(len(words))
        for stop in range(start + 2, min(len(words), start + 8) + 1)
        if fits(" ".join(words[start:stop]))
    ]
    outer = [
        (a, b) for a, b in hits if not any(c <= a and b <= d and (c, d) != (a, b) for c, d in hits)
    ]
    return [" ".join(words[a:b]) for a, b in outer]
