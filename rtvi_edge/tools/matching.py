"""Which tool a request is about, by its words: a small, explainable scorer.

A 135M model chooses a tool about half the time right; the words of a request
against each tool's name, description, keywords and example requests do far
better (bench/tools_eval.py). Each stem shared with a tool counts by how rare
it is among the tools (IDF), and a request that closely resembles one of the
tool's examples counts most. Sans-I/O: text in, scores out.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rtvi_edge.tools import word_vectors
from rtvi_edge.tools.numbers import parse_number
from rtvi_edge.tools.registry import Tool
from rtvi_edge.tools.vocabulary import SYNONYM_TEXT, THING_TEXT

# Words that tell nothing about which tool is meant.
_STOP_TEXT = """
    a an the and or of to for in on at is are am be been was were it its this that these
    those with from by as what which who whom how when where why do does did can could
    would will shall should may might you your yours me my mine i we our us they them
    their there then than please tell give get let make some any about into just really
    right now hey ok okay so um uh well if off out it's what's that's i'm i'd i'll
    you're there's here know want need like one thing bit little much very also too all
    today tomorrow tonight have has had got many few several every each other more most
    only still
"""
STOPWORDS = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


# Irregular past tenses met in requests ("Who rang the doorbell?").
_IRREGULAR = {
    "rang": "ring", "rung": "ring", "ran": "run", "made": "make", "sent": "send",
    "went": "go", "gone": "go", "came": "come", "took": "take", "gave": "give",
    "told": "tell", "bought": "buy", "brought": "bring", "lit": "light", "wrote": "write",
    "woke": "wake", "broke": "break", "froze": "freeze", "heard": "hear", "saw": "see",
    "seen": "see", "paid": "pay", "said": "say", "began": "begin", "drove": "drive",
    "fed": "feed", "left": "leave", "kept": "keep", "shut": "shut", "spent": "spend",
}  # fmt: skip


def stem(word: str) -> str:
    """A crude suffix stripper: enough to meet "timers"/"timer", "closed"/"close"."""
    word = word.lower().removesuffix("'s")
    word = _IRREGULAR.get(word, word)
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: len(word) - len(suffix)] + repl
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("_", " ").replace("’", "'"))


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1}


# Words that mean the same thing for a home assistant: a tool named for one of them is
# found by the others ("rain" finds a weather tool). Small and general on purpose.
RELATED: tuple[frozenset[str], ...] = tuple(
    frozenset(stem(w) for w in group.split())
    for group in (
        "weather forecast rain raining snow snowing sunny cloudy windy storm umbrella warm cold",
        "temperature degrees warm warmer cold colder hot heat heating thermostat",
        "weather temperature",
        "open opened closed close shut",
        "lock locked unlock unlocked",
        "light lights lamp bulb",
        "volume loud louder quieter soft softer",
        "timer alarm countdown reminder remind",
        "cancel delete remove clear rid",
        "list grocery groceries shopping",
        "music song songs play playing track",
        "time clock hour",
        "date day weekday",
        "electricity energy consumption usage kilowatt kwh watt",
        "sprinkler water watering irrigation irrigate lawn",
        "washer washing laundry wash",
        "charge charged charging battery",
        *SYNONYM_TEXT.strip().splitlines(),
    )
)
# Nouns of things: named in a tool's description, they say what the tool is about.
THINGS = frozenset(stem(w) for w in words(THING_TEXT))


def related(stems: set[str] | frozenset[str]) -> set[str]:
    out: set[str] = set()
    for group in RELATED:
        if group & stems:
            out |= group
    return out - set(stems)


# Things in a home: a request about one the tool never names is about something else
# ("Is the dishwasher running?" is not for a timer tool that knows "running").
_OBJECT_TEXT = """
    door garage gate window blind curtain shutter light lamp bulb plug socket lock alarm
    heating heater boiler thermostat fan oven stove cooker kettle fridge freezer
    dishwasher washer dryer tv television sprinkler camera doorbell vacuum car charger
    battery sensor phone laptop tablet computer printer microwave toaster iron radio router
"""
OBJECTS = frozenset(stem(w) for w in _OBJECT_TEXT.split())
_PLACE_TEXT = """
    house home flat apartment room rooms kitchen bedroom bathroom hallway hall lounge
    garden yard lawn office basement attic patio porch upstairs downstairs place
"""
PLACES = frozenset(stem(w) for w in _PLACE_TEXT.split())


@dataclass(frozen=True)
class ToolScore:
    tool: Tool
    score: float  # IDF-weighted share of the tool's evidence found in the request
    example: float  # best resemblance to one of the tool's examples (0..1)

    @property
    def total(self) -> float:
        return self.score + self.example


@dataclass(frozen=True)
class _Profile:
    tool: Tool
    core: frozenset[str]  # what the tool is about: its name, keywords, examples (+ related)
    stems: frozenset[str]  # all its words, the description's too
    examples: tuple[frozenset[str], ...]
    pairs: frozenset[tuple[str, str]]  # "garage door": (modifier, head) in its own words
    reads: bool  # it reads a state (get_..., list_...) rather than changes one
    acts: bool  # it changes one (set_..., cancel_...)
    meaning: tuple[str, ...] = ()  # its words as said, for word vectors (word_vectors.py)
    core_meaning: tuple[str, ...] = ()  # those of them that say what it is about


# A function name's leading verb says what it does, not what it is about.
_READ_TEXT = """
    get list check show read find query lookup is fetch tell say
"""
_READ_VERBS = frozenset(_READ_TEXT.split())
_ACTION_TEXT = """
    set add change update create delete remove toggle turn make do run send put cancel
    start stop play mute unmute control open close lock unlock switch
"""
# A function whose name starts with one of these changes the world: a question
# ("Is my timer still running?") never calls it.
_ACTION_VERBS = frozenset(_ACTION_TEXT.split())
_NAME_VERBS = _READ_VERBS | _ACTION_VERBS


def _profile(tool: Tool) -> _Profile:
    name = words(tool.name)
    verb = name[0] if name and name[0] in _NAME_VERBS else ""
    # the verb is not what the tool is about, except when it is all of its name ("stop")
    keep_verb = not verb or len(name) == 1
    examples = tuple(frozenset(content_stems(e)) for e in tool.examples)
    core = content_stems(" ".join([*name[0 if keep_verb else 1 :], *tool.keywords]))
    core = core.union(*examples)
    core |= content_stems(tool.description) & THINGS  # "whether post has arrived"
    core |= content_stems(" ".join(_proper_names(tool)))  # "Jazz FM" names the radio
    core |= related(core)
    stems = core | content_stems(tool.description) | content_stems(" ".join(_enum_words(tool)))
    stems |= content_stems(verb)  # "find" of find_dog explains "find the puppy"
    pairs = set()
    for text in (" ".join(name), tool.description, *tool.keywords, *tool.examples):
        pairs |= _pairs(text)
    reads = verb in _READ_VERBS or tool.description.lower().startswith(
        ("tell", "say", "get", "check", "read", "list", "show")
    )
    acts = verb in _ACTION_VERBS
    subject = [*name[0 if keep_verb else 1 :], *words(" ".join(tool.keywords))]
    meaning = _plain([*subject, *words(tool.description), *words(" ".join(tool.examples))])
    core_meaning = tuple(w for w in meaning if stem(w) in core)
    return _Profile(
        tool,
        frozenset(core),
        frozenset(stems),
        examples,
        frozenset(pairs),
        reads,
        acts,
        meaning,
        core_meaning,
    )


def _plain(ws: list[str]) -> tuple[str, ...]:
    """Words worth a vector: no stop word, no number, each once, in order."""
    seen: dict[str, None] = {}
    for w in ws:
        if w not in STOPWORDS and w.isalpha() and len(w) > 1:
            seen.setdefault(w, None)
    return tuple(seen)


def _enum_words(tool: Tool) -> list[str]:
    """The values its arguments take ("medium", "kitchen"): words of the tool too."""
    props = tool.model_schema().get("properties") or {}
    out: list[str] = []
    for spec in props.values():
        if isinstance(spec, dict) and isinstance(spec.get("enum"), list):
            out += [str(v) for v in spec["enum"]]
    return out


def _proper_names(tool: Tool) -> list[str]:
    """Enum values written as names ("Jazz FM", "BBC Radio 4"): said, they name the tool;
    common words ("strong", "out") do not."""
    return [v for v in _enum_words(tool) if v[:1].isupper()]


def _pairs(text: str) -> set[tuple[str, str]]:
    ws = words(text)
    return {
        (stem(a), stem(b))
        for a, b in itertools.pairwise(ws)
        if a not in STOPWORDS
        and b not in STOPWORDS
        and len(a) > 1
        and len(b) > 1
        and parse_number(a) is None  # "five minutes" vs "ten minutes": the same thing
    }


_QUESTION = re.compile(
    r"^(?:(?:hey|ok|okay|so|please|(?:can|could|would|will) you(?: please)?)\s+)*"
    r"(?:what|which|who|how|when|where|is|are|was|were|do|does|did|has|have|any|"
    r"check|show|list|tell me|read)\b"
)


def is_question(text: str) -> bool:
    return bool(_QUESTION.match(text.lower().strip()))


# How close in meaning (cosine of GloVe 50d vectors) a word no tool has must be to one of
# a tool's words to count for it: "puppy"/"dog" 0.78, "sunscreen"/"uv" 0.66; loose
# associations stay under it ("water"/"drink" 0.62 is not a word no tool has, anyway).
MEANT_FLOOR = 0.62
# Near a thing the tool names, a word is most often another thing of its kind ("cellar"
# and "garage" 0.64, "skylight" and "fireplace" 0.64): a thing is meant only when closer.
MEANT_THING_FLOOR = 0.7
# Measures of a thing are of one kind too: "humidity" is no "temperature".
_MEASURE_TEXT = """
    temperature humidity pressure moisture level brightness volume speed power charge
    usage consumption weight depth height distance price
"""
_OWN_KIND = THINGS | OBJECTS | PLACES | frozenset(stem(w) for w in _MEASURE_TEXT.split())
SENSE_SCORE = 0.5  # a builtin whose sense the request has (tools/senses.py) scores at least this
MEANT_MARGIN = 0.1  # within this of the nearest tool's word, else the word is not theirs
MEANT_MIN_RANK = 2500  # GloVe's most frequent words are too general to mean one thing


class ToolMatcher:
    """Scores the tools of one conversation; rebuild it when the tools change.
    `meaning`: also match words no tool has by their vectors (word_vectors.py)."""

    def __init__(self, tools: Iterable[Tool], meaning: bool = True) -> None:
        self.vectors = word_vectors.shared() if meaning else None
        self.profiles = [_profile(t) for t in tools if t.policy]
        df: dict[str, int] = {}
        for p in self.profiles:
            for s in p.stems:
                df[s] = df.get(s, 0) + 1
        n = max(1, len(self.profiles))
        self._idf = {s: math.log(1.0 + n / c) for s, c in df.items()}

    def idf(self, s: str) -> float:
        return self._idf.get(s, 0.0)

    def _weight(self, s: str, raw: dict[str, str]) -> float:
        """A word no tool knows still counts against every tool — less if it looks like an
        argument (a number, a name: "Paris") than if it changes the subject ("winter")."""
        if s in self._idf:
            return self._idf[s]
        word = raw.get(s, s)
        return 0.25 if word[:1].isdigit() or word[:1].isupper() else math.log(2.0)

    def _meanings(
        self, said: set[str], raw: dict[str, str]
    ) -> dict[str, dict[str, tuple[str, float]]]:
        """For each tool, the said stems that no tool has by its letters but that mean
        one of its words: tool → stem → (the tool's word, cosine). A word goes to the
        tools nearest to it only ("refrigerator" is nearer "fridge" than "oven")."""
        out: dict[str, dict[str, tuple[str, float]]] = {p.tool.name: {} for p in self.profiles}
        if self.vectors is None:
            return out
        for s in said:
            written = raw.get(s, s)
            word = written.lower()
            if s in self._idf or s in _OWN_KIND or word in STOPWORDS or written != word:
                continue  # some tool's word, a thing of its own ("radio" is no "tv"), a name
            rank = self.vectors.rank(word) if word.isalpha() else None
            if rank is None or rank < MEANT_MIN_RANK:
                continue  # a common word means too many things ("find", "back")
            near = {p.tool.name: self.vectors.closest(word, p.core_meaning) for p in self.profiles}
            top = max((sim for _, sim in near.values()), default=0.0)
            for name, (target, sim) in near.items():
                floor = MEANT_THING_FLOOR if stem(target) in _OWN_KIND else MEANT_FLOOR
                if sim >= floor and sim >= top - MEANT_MARGIN:
                    out[name][s] = (target, sim)
        return out

    def scores(self, text: str) -> list[ToolScore]:
        """Every tool with any evidence, best first."""
        said = content_stems(text)
        if not said:
            return []
        raw = _raw_words(text)
        said_pairs = _pairs(text)
        question = is_question(text)
        said_weight = sum(self._weight(s, raw) for s in said)
        out = []
        lowered = text.lower().replace("’", "'")
        verb = _leading_verb(_POLITE.sub("", lowered.strip()))
        command = not question and verb in COMMAND_VERBS
        thing = _direct_object(lowered)
        best = self._meanings(said, raw)
        for p in self.profiles:
            if p.tool.sense is not None and not p.tool.sense.search(lowered):
                continue  # the words, in another sense ("seven times eight")
            parts = _compound_hits(said - p.core, p.core, raw)  # "door" of "doorbell"
            shared = (said & p.stems) | set(parts.values())
            meant = {s: hit for s, hit in best[p.tool.name].items() if s not in shared}
            sensed = p.tool.sense is not None  # it matched: the request asks for it
            if not shared & p.core and not meant and not sensed:
                # a description word alone ("open") is not enough
                continue
            known = p.stems | set(parts) | set(meant)
            things = said & OBJECTS - {stem(verb)}  # "Light the fireplace": a verb here
            if _other_thing(said_pairs, p) or things - known:
                continue
            if question and p.acts:  # a question does not change the world
                continue
            if command and p.reads and not p.acts:  # "Lock the door" reads no lock
                continue
            if thing and not thing & known:  # "Set the table for four": no table here
                continue
            # Share of what was said that this tool explains, by rarity among the tools.
            score = sum(self.idf(s) for s in shared) / said_weight
            score += sum(self._weight(s, raw) * sim for s, (_, sim) in meant.items()) / said_weight
            if question and p.reads:
                score += 0.15  # a question asks to read something, not to change it
            if sensed:  # "Is it still morning?": the sense is the evidence, not the words
                score = max(score, SENSE_SCORE)
            example = max((_resemblance(said, ex) for ex in p.examples), default=0.0)
            out.append(ToolScore(p.tool, round(score, 4), round(example, 4)))
        out.sort(key=lambda s: s.total, reverse=True)
        return out


# Verbs that start a command to change something: such a request never calls a tool that
# only reads ("Lock the front door" is not "is the front door locked?").
_COMMAND_TEXT = """
    set add change update create delete remove toggle turn make run send put cancel start
    stop play mute unmute open close lock unlock switch resume pause skip arm disarm dim
    brighten boost preheat heat water raise lower let's sing light
"""
COMMAND_VERBS = frozenset(_COMMAND_TEXT.split())
_POLITE = re.compile(
    r"^(?:(?:hey|ok|okay|so|please|now|just|(?:can|could|would|will) you(?: please)?)\s+)*"
)
_OBJECT = re.compile(
    r"^(?:[\w'-]+)(?: (?:up|down|on|off|out|in|over|back))? (?:the|my|our|your|this|that) "
    r"((?:[a-z][\w-]* ?){1,3})"
)


def _leading_verb(lowered: str) -> str:
    rest = _POLITE.sub("", lowered.strip())
    first = rest.split(" ", 1)[0] if rest else ""
    return first.strip(",.!?")


def _direct_object(lowered: str) -> frozenset[str]:
    """The stems of what a command acts on ("set the table for four" → table), or none
    when the request is no plain command."""
    rest = _POLITE.sub("", lowered.strip())
    if _leading_verb(rest) not in COMMAND_VERBS:
        return frozenset()
    m = _OBJECT.match(re.sub(r"[^\w' -]", " ", rest))
    if m is None:
        return frozenset()
    out: set[str] = set()
    for w in m.group(1).split():
        if w in STOPWORDS or parse_number(w) is not None:
            break
        out.add(stem(w))
    # a place is where a tool acts, not another thing ("heat the house to 22 degrees")
    return frozenset() if out <= PLACES else frozenset(out)


def _compound_hits(
    unknown: set[str], core: frozenset[str], raw: dict[str, str] | None = None
) -> dict[str, str]:
    """Said stems that are one part of a tool's compound word: "door" and "bell" of
    "doorbell", "heat" of "preheat", "wash" of "washer". Said stem → the tool's stem."""
    out: dict[str, str] = {}
    for s in unknown:
        # a word of four letters or more ("fire", though its stem is "fir"), not a prefix
        if len((raw or {}).get(s, s)) < 4 or len(s) < 3:
            continue
        for c in core:
            if len(c) >= len(s) + 2 and (c.startswith(s) or c.endswith(s)):
                out[s] = c
                break
    return out


def _raw_words(text: str) -> dict[str, str]:
    """Stem → the word as written (capitals kept), for the first word of each stem."""
    out: dict[str, str] = {}
    for i, w in enumerate(re.findall(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?", text)):
        out.setdefault(stem(w), w if i else w.lower())
    return out


def _other_thing(said_pairs: set[tuple[str, str]], p: _Profile) -> bool:
    """ "the front door" is not the tool's "garage door": the same head word with a
    modifier the tool never uses."""
    heads = {b: a for a, b in p.pairs if b in p.core}
    return any(
        b in heads and a not in p.stems and heads[b] != a and not a.endswith("ly")
        for a, b in said_pairs
    )  # "fully charged": an adverb says how, not which thing


def _resemblance(said: set[str], example: frozenset[str]) -> float:
    if not example:
        return 0.0
    return len(said & example) / len(said | example)
