"""First-person facts from memory text: who "I" is, what they say of themself, and since when.

Pure functions. A fact is a (subject, predicate, object) a sentence states in the first person:
"I live in Porto", "my sister Ana", "I can't stand olives", "I went to a support group
yesterday". Rules read plain English grammar (never a list of names or places): the subject is
whoever says "I" (the speaker of a chat turn, else the owner), the object is the words the
sentence gives. Questions, hypotheticals ("if I lived in Paris") and quoted speech are skipped,
and negations ("I no longer live in Porto") are kept as statements that close a fact without
opening one. How statements become facts with a validity is :func:`replay`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from secondme.node.memory.l1.extract import OWNER_KEY, entity_key
from secondme.node.memory.l1.text import MONTHS, find_dates, sentences, words

SINGLE_VALUED = frozenset({"lives_in", "works_at", "works_as", "partner"})
"""Predicates with one object at a time: a newer object closes the older one."""
RELATIONS = {
    "sister": "sister",
    "brother": "brother",
    "mother": "mother",
    "mom": "mother",
    "mum": "mother",
    "father": "father",
    "dad": "father",
    "son": "son",
    "daughter": "daughter",
    "wife": "partner",
    "husband": "partner",
    "partner": "partner",
    "boyfriend": "partner",
    "girlfriend": "partner",
    "fiancé": "partner",
    "fiancée": "partner",
    "fiance": "partner",
    "fiancee": "partner",
    "spouse": "partner",
    "friend": "friend",
    "colleague": "colleague",
    "coworker": "colleague",
    "co-worker": "colleague",
    "boss": "boss",
    "manager": "boss",
    "cousin": "cousin",
    "aunt": "aunt",
    "uncle": "uncle",
    "grandmother": "grandmother",
    "grandma": "grandmother",
    "grandfather": "grandfather",
    "grandpa": "grandfather",
    "niece": "niece",
    "nephew": "nephew",
    "roommate": "roommate",
    "flatmate": "roommate",
    "neighbour": "neighbour",
    "neighbor": "neighbour",
    "mentor": "mentor",
    "therapist": "therapist",
    "teacher": "teacher",
}
"""How a relation word ("my mum") is stored ("mother"); English kinship and social words."""
PREDICATES = (
    "lives_in",
    "works_at",
    "works_as",
    "likes",
    "dislikes",
    "has",
    "did",
    *sorted(set(RELATIONS.values())),
)
OPPOSITES = {"likes": "dislikes", "dislikes": "likes"}
"""A statement of one closes an open fact of the other with the same object."""

_NAME_WORD = r"[A-Z][\w'’&.-]*"
_NAME_JOIN = r"(?:de|da|do|dos|das|del|della|di|du|la|le|van|von|der|of|y|and|&)"
_NAME = rf"{_NAME_WORD}(?:(?:\s+{_NAME_JOIN})*\s+{_NAME_WORD})*"
_PHRASE = r"[^,;:!?()\"“”]+?"
_PHRASE_END = (
    r"(?=\s*(?:[,;:!?()\"“”]|\.(?:\s|$)|$|\s+(?:because|but|when|while|since|so|though|although"
    r"|and\s+(?:I|we|my|she|he|they|it)\b|which|who|anymore|any\s+more|these\s+days|lately"
    r"|a\s+lot|so\s+much|very\s+much|too|now|now\s+that|at\s+all)\b))"
)
_REL_WORDS = "|".join(sorted(map(re.escape, RELATIONS), key=len, reverse=True))
_REL_ADJ = (
    r"(?:(?:best|old|older|oldest|younger|youngest|little|big|baby|new|good|close|dear|late"
    r"|twin|step|half|ex)[\s-]+)*"
)
_I = r"(?:I|We|we)"
_I_AM = r"(?:I\s+am|I'm|I’m)"
_I_HAVE = r"(?:I\s+have|I've|I’ve)"
_NOT = r"(?:don't|don’t|do\s+not|didn't|didn’t|did\s+not)"
_ADVERB = r"(?:(?:now|currently|still|just|also|actually|really|finally|recently|officially)\s+)?"
_DATE_WORDS = frozenset(
    "yesterday today tonight ago last this morning evening afternoon weekend week month year "
    "monday tuesday wednesday thursday friday saturday sunday earlier recently".split()
)
_HYPOTHETICAL = re.compile(
    r"\b(?:if|unless|would|wouldn't|i'd|could|might|wish|imagine|suppose|supposing|pretend"
    r"|maybe|perhaps|someday|whether|hopefully|should)\b",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(?:do|does|did|are|is|was|were|have|has|can|could|will|would|should|shall|may"
    r"|what|where|when|who|whom|why|how|which)\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|«[^»]*»")
_PRONOUNS = frozenset(
    "it that this them him her you those these what how everything anything something "
    "nothing everyone someone one there here so".split()
)
_PAST = frozenset(
    "went saw met took had ran gave got made flew began wrote read did came left found bought "
    "sold won lost spent threw held brought taught caught felt heard sat swam drove rode ate "
    "drank sang fell broke chose spoke told thought kept paid sent led fought built dug hung "
    "became".split()
)
_NOT_EVENT = frozenset({"had", "got", "thought", "felt", "kept", "heard", "became", "made"})
"""Past verbs too vague to name an event on their own ("I had to", "I thought")."""
_ROLE_SUFFIXES = ("er", "or", "ist", "ian", "eer", "ant", "ent", "ect", "ive", "nurse", "chef")
_NOT_ROLES = frozenset(
    "fan lover member user owner person beginner believer fighter survivor parent mother father "
    "mom dad sister brother friend patient student-athlete".split()
)
_MAX_OBJECT_WORDS = 7
_NEGATIONS = frozenset("not no never longer anymore quit stopped left".split())
_FIRST_PERSON = frozenset({"i", "my", "i'm", "i've", "me", "we", "our", "mine"})
_NOT_NAMES = (
    frozenset(
        "i i'm i've i'd i'll the a an this that these those my our we he she they it you there "
        "here when then but and so today yesterday tomorrow".split()
    )
    | frozenset(m for m in MONTHS)
    | frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
)
"""Capitalised words that begin a clause or name a time, never a person, place or employer."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One first-person claim of one sentence, before replay gives it a validity.

    ``negated`` statements close a matching open fact and open none. ``position`` orders
    statements of one chunk (sentence order), for ties on the date.
    """

    subject: str
    subject_key: str
    predicate: str
    object: str
    sentence: str
    chunk_id: str
    date: str | None = None
    negated: bool = False
    method: str = "rule"
    position: int = 0

    def object_key(self) -> str:
        return entity_key(self.object)


@dataclass(frozen=True, slots=True)
class Turn:
    """Who speaks a stretch of a chunk ("I"), and when."""

    subject: str
    subject_key: str
    text: str
    time: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Fact:
    """A stored statement with the validity replay gave it."""

    id: str
    subject: str
    subject_key: str
    predicate: str
    object: str
    sentence_text: str
    valid_from: str | None
    valid_to: str | None = None
    closed_by: str | None = None
    negated: bool = False
    repeats: str | None = None
    chunk_id: str
    doc_id: str
    tags: tuple[str, ...] = ()
    method: str = "rule"
    position: int = 0
    part: int | None = None
    """The index of the source chunk in its document."""
    turns: tuple[int, int] | None = None
    """The chat turns the source chunk holds (first, last), for a chat export."""
    order: tuple = field(default=(), compare=False)

    @property
    def owner(self) -> bool:
        return self.subject_key == OWNER_KEY

    @property
    def current(self) -> bool:
        return not self.negated and self.repeats is None and self.valid_to is None

    def sentence(self, name: str | None = None) -> str:
        """The fact as a plain sentence with its dates: first person for the owner, or third
        person naming ``name`` (or the subject), e.g. "I have lived in Lisbon since 2026-03
        (until now)"."""
        first = self.owner and name is None
        who = "I" if first else (name if self.owner and name else self.subject)
        return _sentence(self, who, first) + _dates(self)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "subject": self.subject,
            "owner": self.owner,
            "predicate": self.predicate,
            "object": self.object,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "closed_by": self.closed_by,
            "negated": self.negated,
            "repeats": self.repeats,
            "current": self.current,
            "text": self.sentence(),
            "sentence": self.sentence_text,
            "chunk_id": self.chunk_id,
            "part": self.part,
            "turns": list(self.turns) if self.turns else None,
            "doc_id": self.doc_id,
            "tags": list(self.tags),
            "method": self.method,
        }


# -- the sentence a fact reads as -------------------------------------------------------------


def _sentence(fact: Fact, who: str, first: bool) -> str:
    third, past = not first, fact.valid_to is not None
    possessive = "my" if first else f"{who}'s"
    obj, pred = fact.object, fact.predicate
    if fact.negated and pred in _VERBS:
        verb = _VERBS[pred][0]
        return f"{who} no longer {_third(verb) if third else verb} {obj}"
    if fact.negated:
        return f"{obj} is no longer {possessive} {pred}"
    if pred == "did":
        return f"{who} {obj}"
    if pred in _VERBS:
        present, done = _VERBS[pred]
        verb = done if past else (_third(present) if third else present)
        if pred in ("works_as", "has"):
            obj = _article(obj)
        return f"{who} {verb} {obj}"
    return f"{obj} {'was' if past else 'is'} {possessive} {pred}"


_VERBS = {
    "lives_in": ("live in", "lived in"),
    "works_at": ("work at", "worked at"),
    "works_as": ("work as", "worked as"),
    "likes": ("like", "liked"),
    "dislikes": ("dislike", "disliked"),
    "has": ("have", "had"),
}
"""A predicate's verb, present and past (for a fact that has ended)."""


def _third(verb: str) -> str:
    head, _, rest = verb.partition(" ")
    head = "has" if head == "have" else head + "s"
    return f"{head} {rest}".strip()


def _article(phrase: str) -> str:
    if (
        phrase.split()[0].lower() in ("a", "an", "the", "my", "two", "three")
        or phrase[:1].isupper()
    ):
        return phrase
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _dates(fact: Fact) -> str:
    if fact.predicate == "did":
        return f" (on {fact.valid_from})" if fact.valid_from else ""
    since = f"since {fact.valid_from}" if fact.valid_from else "since an unknown date"
    if fact.negated:
        return f" ({fact.valid_from})" if fact.valid_from else ""
    if fact.valid_to:
        return f" ({since.replace('since', 'from')} until {fact.valid_to})"
    return f" ({since}, until now)"


# -- who "I" is -------------------------------------------------------------------------------


def is_owner_name(speaker: str, owner_name: str, *, exact: bool = False) -> bool:
    """Is a chat speaker the owner? Same name, case aside, or the same first name; only the
    same name with ``exact`` (the owner named themselves in this chat: ``ingest --me``)."""
    said, owner = words(speaker), words(owner_name)
    if not said or not owner:
        return False
    if exact:
        return said == owner
    return said == owner or said[0] == owner[0] or said in (["me"], ["i"])


def turns(
    text: str,
    speakers: Sequence[str],
    owner_name: str,
    time: str | None,
    *,
    exact: bool = False,
) -> list[Turn]:
    """The stretches of a chunk and who says "I" in each: in a chat export (``speakers``) each
    ``Speaker: text`` line is a turn of that speaker; a chunk of one speaker's without such
    lines (an email, whose sender is its speaker) is all that speaker's; elsewhere all is the
    owner's."""
    owner = Turn(owner_name or "me", OWNER_KEY, text, time)
    if not speakers:
        return [owner]
    if len(speakers) == 1 and not any(
        line.startswith(f"{speakers[0]}:") for line in text.splitlines()
    ):
        (speaker,) = speakers
        if is_owner_name(speaker, owner_name, exact=exact):
            return [Turn(owner_name or speaker, OWNER_KEY, text, time)]
        return [Turn(speaker, entity_key(speaker), text, time)]
    by_prefix = sorted(speakers, key=len, reverse=True)
    found: list[Turn] = []
    for line in text.splitlines():
        speaker = next((s for s in by_prefix if line.startswith(f"{s}:")), None)
        if speaker is None:
            if found:  # a turn that goes on over several lines
                last = found[-1]
                found[-1] = replace(last, text=f"{last.text}\n{line}")
            continue
        body = line[len(speaker) + 1 :].strip()
        if is_owner_name(speaker, owner_name, exact=exact):
            found.append(Turn(owner_name or speaker, OWNER_KEY, body, time))
        else:
            found.append(Turn(speaker, entity_key(speaker), body, time))
    return found


# -- dates ------------------------------------------------------------------------------------


def day_of(value: str | None) -> str | None:
    """The ISO date (``YYYY-MM-DD``, or ``YYYY-MM``/``YYYY``) a time string starts with."""
    if not value:
        return None
    match = re.match(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", value.strip())
    return "-".join(g for g in match.groups() if g) if match else None


def sentence_date(sentence: str, mentions: Iterable[object]) -> str | None:
    """The date a sentence mentions: a resolved mention of its chunk ("yesterday" → the day;
    a :class:`DateMention` or its JSON) whose words it contains, else a date written out."""
    for mention in mentions:
        said, date, granularity = (_field(mention, k) for k in ("text", "date", "granularity"))
        if said and date and said in sentence:
            return _granular(date, granularity or "day")
    found = find_dates(sentence)
    return found[0] if found else None


def _field(mention: object, name: str) -> str:
    value = mention.get(name) if isinstance(mention, Mapping) else getattr(mention, name, None)
    return str(value or "")


def parse_when(text: str) -> str:
    """A date the owner typed ("2025-06-01", "2025-06", "March 2025", "last summer") as ISO,
    as precise as it was given; ValueError with a one-line reason when it is not a date."""
    text = " ".join(text.split())
    if re.fullmatch(r"\d{4}(-\d{2}){0,2}", text):
        parts = [int(p) for p in text.split("-")] + [1, 1]
        if not (1 <= parts[1] <= 12 and 1 <= parts[2] <= 31):
            raise ValueError(f"{text!r} is not a date")
        return text
    from dateparser.date import DateDataParser  # slow to import; only typed dates need it

    parser = DateDataParser(languages=["en"], settings={"PREFER_DATES_FROM": "past"})
    data = parser.get_date_data(text) if text else None
    if data is None or data.date_obj is None:
        raise ValueError(f"cannot read {text!r} as a date (try 2025-06-01, 2025-06 or 'June 2025')")
    return _granular(data.date_obj.date().isoformat(), data.period or "day")


def _granular(date: str, granularity: str) -> str:
    iso = day_of(date) or date
    return {"year": iso[:4], "month": iso[:7]}.get(granularity, iso[:10])


# -- the rules --------------------------------------------------------------------------------


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _name_rx(pattern: str) -> re.Pattern[str]:
    """A pattern whose ``(?P<o>...)`` is a name: the words around may be any case, the name
    must be capitalised (the inline flag scopes case-insensitivity to the rest)."""
    return re.compile(pattern.replace("NAME", f"(?-i:{_NAME})"), re.IGNORECASE)


# (predicate, negated, pattern); "o" is the object, "r" a relation word.
_RULES: tuple[tuple[str, bool, re.Pattern[str]], ...] = (
    # where I live
    (
        "lives_in",
        True,
        _name_rx(
            rf"\b(?:I\s+(?:no\s+longer|don't|don’t|do\s+not)\s+live\s+in|{_I}\s+moved\s+"
            rf"(?:away\s+from|out\s+of))\s+(?P<o>NAME)"
        ),
    ),
    (
        "lives_in",
        False,
        _name_rx(
            rf"\b(?:I\s+{_ADVERB}live|{_I_AM}\s+{_ADVERB}(?:living|based|settled)|"
            rf"{_I_HAVE}\s+{_ADVERB}(?:lived|been\s+living)|{_I}\s+{_ADVERB}(?:have\s+|'ve\s+)?"
            rf"(?:moved|relocated)(?:\s+back)?|my\s+home\s+is|{_I}\s+settled)\s+(?:in|to)\s+"
            rf"(?P<o>NAME)"
        ),
    ),
    # where I work
    (
        "works_at",
        True,
        _name_rx(
            r"\b(?:I\s+(?:no\s+longer|don't|don’t|do\s+not)\s+work\s+(?:at|for)|I\s+"
            r"(?:quit|resigned\s+from|retired\s+from)(?:\s+my\s+(?:job|position|work)\s+"
            r"(?:at|with))?|I\s+left\s+my\s+(?:job|position|work)\s+(?:at|with)|I\s+(?:was|got)\s+(?:laid\s+off|fired|let\s+go)\s+(?:from|by))"
            r"\s+(?P<o>NAME)"
        ),
    ),
    (
        "works_at",
        False,
        _name_rx(
            rf"\b(?:I\s+{_ADVERB}work(?:ed)?\s+(?:at|for)|{_I_AM}\s+{_ADVERB}(?:working|employed)"
            rf"\s+(?:at|for|by)|I\s+{_ADVERB}(?:started|got|took|accepted|landed)\s+(?:a\s+|my\s+|"
            rf"the\s+)?(?:new\s+)?(?:job|position|role|internship)\s+(?:at|with)|I\s+{_ADVERB}"
            rf"(?:have\s+|'ve\s+)?joined|I\s+got\s+hired\s+(?:at|by)|my\s+(?:new\s+)?job\s+at|"
            rf"{_I_AM}\s+{_ADVERB}an?\s+(?P<role>[a-z][a-z-]+(?:\s+[a-z][a-z-]+)?)\s+(?:at|for))"
            rf"\s+(?:the\s+)?(?P<o>NAME)"
        ),
    ),
    # what I work as
    (
        "works_as",
        False,
        _rx(
            rf"\b(?:I\s+{_ADVERB}work\s+as|{_I_AM}\s+{_ADVERB}working\s+as|I\s+{_ADVERB}"
            rf"(?:became|started\s+(?:working\s+)?as|got\s+a\s+job\s+as|trained\s+as)|"
            rf"my\s+job\s+is)\s+(?:an?\s+)?(?P<o>[a-z][a-z -]{{1,40}}?){_PHRASE_END}"
        ),
    ),
    (
        "works_as",
        False,
        _rx(
            rf"\b{_I_AM}\s+{_ADVERB}(?:an?\s+)(?P<o>[a-z][a-z-]+(?:\s+[a-z][a-z-]+)?)\s+(?:at|for)\b"
        ),
    ),
    (
        "works_as",
        False,
        _rx(
            rf"^\s*(?:\w+,\s+)?{_I_AM}\s+{_ADVERB}(?:an?\s+)(?P<o>[a-z][a-z-]+(?:\s+[a-z][a-z-]+)?)"
            r"\s*[.!]?\s*$"
        ),
    ),
    # the people in my life
    (
        "relation",
        True,
        _name_rx(
            rf"\b(?:I\s+(?:broke\s+up\s+with|divorced|split\s+up\s+with|separated\s+from)\s+"
            rf"(?P<o>NAME)|(?P<o2>NAME)\s+(?:is|isn't)\s+(?:no\s+longer|not)\s+my\s+"
            rf"(?P<r>{_REL_WORDS})(?:\s+any\s*more)?)"
        ),
    ),
    (
        "relation",
        False,
        _name_rx(rf"\bmy\s+{_REL_ADJ}(?P<r>{_REL_WORDS})(?:,\s+|\s+)(?P<o>NAME)"),
    ),
    (
        "relation",
        False,
        _name_rx(
            rf"\b(?P<o>NAME)(?:\s+is|,)\s+(?:also\s+)?my\s+{_REL_ADJ}(?P<r>{_REL_WORDS})\b"
            r"(?!'s|’s|\s+of\b|\s+at\b)"
        ),
    ),
    (
        "relation",
        False,
        _name_rx(
            rf"\bmy\s+{_REL_ADJ}(?P<r>{_REL_WORDS})(?:'s\s+name|’s\s+name)?\s+is\s+"
            rf"(?:called\s+|named\s+)?(?P<o>NAME)"
        ),
    ),
    (
        "relation",
        False,
        _name_rx(
            rf"\bI\s+{_ADVERB}(?:(?P<m>married|got\s+married\s+to|(?:am|'m|’m)\s+(?:dating|"
            rf"married\s+to|engaged\s+to|seeing)|started\s+dating|got\s+engaged\s+to|"
            rf"moved\s+in\s+with))\s+(?P<o>NAME)"
        ),
    ),
    # what I like
    (
        "likes",
        True,
        _rx(
            rf"\bI\s+(?:no\s+longer\s+(?:like|love|enjoy)|{_NOT}\s+(?:like|love|enjoy)\s+(?P<o2>"
            rf"{_PHRASE})\s+any\s*more|(?:am|'m|’m)\s+(?:not|no\s+longer)\s+into\s+(?P<o3>"
            rf"{_PHRASE})\s+any\s*more|stopped\s+(?:liking|loving|enjoying))\s*(?P<o>{_PHRASE})?"
            rf"{_PHRASE_END}"
        ),
    ),
    (
        "dislikes",
        False,
        _rx(
            rf"\bI\s+{_ADVERB}(?:hate|dislike|detest|loathe|can't\s+stand|can’t\s+stand|cannot\s+"
            rf"stand|can\s+not\s+stand|{_NOT}\s+(?:like|enjoy))\s+(?P<o>{_PHRASE}){_PHRASE_END}"
        ),
    ),
    (
        "likes",
        False,
        _rx(
            rf"\b(?:I\s+{_ADVERB}(?:love|like|adore|enjoy)|{_I_AM}\s+{_ADVERB}(?:(?:a\s+)?"
            rf"(?:big\s+|huge\s+)?fan\s+of|(?:really\s+)?into|passionate\s+about|crazy\s+about))"
            rf"\s+(?P<o>{_PHRASE}){_PHRASE_END}"
        ),
    ),
    (
        "likes",
        False,
        _rx(rf"\bmy\s+favou?rite\s+[a-z]+\s+is\s+(?P<o>{_PHRASE}){_PHRASE_END}"),
    ),
    # what I have
    (
        "has",
        True,
        _rx(
            rf"\bI\s+{_ADVERB}(?:sold|gave\s+away|lost)\s+my\s+(?P<o>[a-z][\w -]{{1,30}}?)"
            rf"{_PHRASE_END}"
        ),
    ),
    (
        "has",
        False,
        _name_rx(
            rf"\b(?:I|We)\s+{_ADVERB}(?:have|'ve|own|adopted|rescued|got|bought)\s+(?:a|an|"
            rf"another)\s+(?:new\s+)?(?P<o>[a-z][a-z -]{{1,30}}?\s+(?:named|called)\s+NAME)"
        ),
    ),
    (
        "has",
        False,
        _rx(
            rf"\b(?:I|We)\s+{_ADVERB}(?:adopted|rescued|bought|own)\s+(?:a|an|another)\s+"
            rf"(?:new\s+)?(?P<o>[a-z][a-z -]{{1,30}}?){_PHRASE_END}"
        ),
    ),
)
_EVENT = re.compile(
    r"\b(?:I|We)\s+(?:(?:just|finally|also|actually)\s+)?(?P<o>(?P<v>[a-z]+)\b[^,;:!?\"“”]*)",
)


def extract(
    turn: Turn,
    chunk_id: str,
    mentions: Sequence[object] = (),
    *,
    start: int = 0,
) -> list[Statement]:
    """Statements the rules find in one turn (``start`` numbers its sentences after those of
    earlier turns)."""
    found: list[Statement] = []
    for offset, raw in enumerate(sentences(turn.text)):
        for statement in sentence_statements(raw, turn.subject, turn.subject_key, mentions):
            date = statement.date or day_of(turn.time)
            found.append(replace(statement, chunk_id=chunk_id, date=date, position=start + offset))
    return found


def chunk_statements(
    chunk_id: str,
    text: str,
    *,
    speakers: Sequence[str] = (),
    owner_name: str = "",
    time: str | None = None,
    mentions: Sequence[object] = (),
    exact: bool = False,
) -> list[Statement]:
    """Every statement the rules find in a chunk, each turn's "I" its speaker (the owner by
    name; by exactly that name with ``exact``)."""
    found: list[Statement] = []
    for index, turn in enumerate(turns(text, speakers, owner_name, time, exact=exact)):
        found += extract(turn, chunk_id, mentions, start=index * 1000)
    return found


MODEL_PREDICATES = tuple(p for p in PREDICATES if p != "did")
"""What the model may state (an event needs the date rules give, so it stays with them)."""


def model_candidates(
    chunk_id: str,
    text: str,
    *,
    speakers: Sequence[str] = (),
    owner_name: str = "",
    time: str | None = None,
    exact: bool = False,
) -> list[tuple[Turn, str, int]]:
    """First-person sentences in which the rules found nothing (questions and hypotheticals
    left out): (turn, sentence, position) for the model to read."""
    found = []
    for index, turn in enumerate(turns(text, speakers, owner_name, time, exact=exact)):
        for offset, sentence in enumerate(sentences(turn.text)):
            plain = first_person(sentence) and not skipped(sentence)
            if plain and not sentence_statements(sentence, turn.subject, turn.subject_key):
                found.append((turn, sentence, index * 1000 + offset))
    return found


def model_statement(
    record: Mapping,
    turn: Turn,
    sentence: str,
    chunk_id: str,
    position: int,
    mentions: Sequence[object] = (),
) -> Statement | None:
    """The model's answer as a statement, if it names a known predicate and its object is
    words of the sentence (the writer has checked grounding); None for "none"."""
    predicate, obj = str(record.get("predicate", "")), _clean(str(record.get("object", "")))
    if predicate not in MODEL_PREDICATES or not obj:
        return None
    if " ".join(obj.lower().split()) not in " ".join(sentence.lower().split()):
        return None
    said = set(words(_QUOTED.sub(" ", sentence)))
    negated = bool(record.get("negated"))
    if negated and not said & _NEGATIONS and "n't" not in sentence.replace("’", "'"):
        return None  # a small model's "negated" with no negation in the sentence
    if predicate in set(RELATIONS.values()) and not any(
        RELATIONS.get(w) == predicate for w in said
    ):
        return None  # "my daughter" must be said for a daughter
    if predicate in ("lives_in", "works_at", *RELATIONS.values()) and not obj[:1].isupper():
        return None  # places, employers and people are named
    return Statement(
        subject=turn.subject,
        subject_key=turn.subject_key,
        predicate=predicate,
        object=obj,
        sentence=" ".join(sentence.split()),
        chunk_id=chunk_id,
        date=sentence_date(sentence, mentions) or day_of(turn.time),
        negated=negated,
        method="model",
        position=position,
    )


def first_person(sentence: str) -> bool:
    """Does a sentence speak of its speaker ("I", "my", "we")? Quoted speech aside."""
    return bool(_FIRST_PERSON & set(words(_QUOTED.sub(" ", sentence))))


def skipped(sentence: str) -> bool:
    """Sentences that state no fact: questions and hypotheticals."""
    plain = _QUOTED.sub(" ", sentence).strip()
    return plain.endswith("?") or bool(_QUESTION_START.match(plain) or _HYPOTHETICAL.search(plain))


def sentence_statements(
    sentence: str, subject: str, subject_key: str, mentions: Sequence[object] = ()
) -> list[Statement]:
    """What the rules read in one sentence said by ``subject`` (its date still unset where
    the sentence names none)."""
    if skipped(sentence):
        return []
    plain = _QUOTED.sub(" … ", sentence)  # someone else's "I" inside quotes is not the speaker
    date = sentence_date(sentence, mentions)
    found: list[Statement] = []
    taken: list[tuple[str, int, int]] = []

    def add(predicate: str, obj: str, negated: bool, span: tuple[int, int]) -> None:
        obj = _clean(obj)
        family = _family(predicate)
        if not obj or any(span[0] < e and s < span[1] for f, s, e in taken if f == family):
            return
        taken.append((family, *span))
        found.append(
            Statement(
                subject=subject,
                subject_key=subject_key,
                predicate=predicate,
                object=obj,
                sentence=" ".join(sentence.split()),
                chunk_id="",
                date=date,
                negated=negated,
            )
        )

    for predicate, negated, pattern in _RULES:
        for match in pattern.finditer(plain):
            groups = match.groupdict()
            obj = next((g for g in map(groups.get, ("o2", "o3", "o")) if g and _clean(g)), None)
            if obj is None:
                continue
            if predicate == "relation":
                word = (groups.get("r") or "partner").lower()
                predicate_here = RELATIONS.get(word, "partner")
            else:
                predicate_here = predicate
            if predicate_here not in _PHRASE_PREDICATES and _not_a_name(obj):
                continue
            role = obj if predicate_here == "works_as" else groups.get("role")
            if role and not _role(role, match):
                continue
            if predicate_here in ("likes", "dislikes") and not _thing(obj):
                continue
            add(predicate_here, obj, negated, match.span())
    if not found and (date is not None or _DATE_WORDS & set(words(plain))):
        event = _event(plain)
        if event:
            add("did", event, False, (0, 0))
    return found


_PHRASE_PREDICATES = frozenset({"works_as", "likes", "dislikes", "has", "did"})
"""Predicates whose object is a phrase; every other one names someone or somewhere."""


def _not_a_name(obj: str) -> bool:
    said = words(obj)
    if len(said) > 1 and said[0] == "the":
        said = said[1:]  # "The Hague", "The Guardian"
    return not said or said[0] in _NOT_NAMES


def _clean(obj: str) -> str:
    obj = " ".join(obj.strip(" .,'’").split())
    obj = re.sub(r"^(?:the|my|a|an)\s+(?=[a-z])", "", obj)
    return " ".join(obj.split()[:_MAX_OBJECT_WORDS])


def _thing(obj: str) -> bool:
    said = words(obj)
    return bool(said) and said[0] not in _PRONOUNS and not obj.lower().startswith("to be")


def _role(obj: str, match: re.Match) -> bool:
    """Is ``obj`` plausibly an occupation? After "work as"/"became" yes; after a bare "I am a"
    only an agent noun ("teacher", "pharmacist", "nurse") not naming a relation or a taste."""
    last = obj.split()[-1].lower()
    if last in _NOT_ROLES or last in RELATIONS:
        return False
    said = match.group(0).lower()
    if re.search(r"work|job|became|trained|started", said):
        return True
    return last.endswith(_ROLE_SUFFIXES)


def _event(sentence: str) -> str | None:
    """A dated thing "I" did: the words from the past-tense verb on ("went to a support
    group"), time words at the end dropped."""
    match = _EVENT.search(sentence)
    if match is None:
        return None
    verb = match["v"].lower()
    if verb in _NOT_EVENT or not (verb in _PAST or (verb.endswith("ed") and len(verb) > 4)):
        return None
    kept: list[str] = []
    for word in match["o"].split():
        bare = word.lower().strip(".,")
        if bare in _DATE_WORDS or re.fullmatch(r"\d{4}(-\d{2}){0,2}", bare):
            break
        kept.append(word)
    while kept and kept[-1].lower().strip(".,") in ("on", "in", "at", "the", "a", "last", "this"):
        kept.pop()
    text = " ".join(kept).strip(" .,")
    return text if len(text.split()) >= 2 else None


# -- replay -----------------------------------------------------------------------------------


def replay(facts: Iterable[Fact]) -> list[Fact]:
    """Give each stored statement its validity by replaying them in time order.

    Per subject: a single-valued predicate's new object closes the open one (``valid_to`` =
    the newer's ``valid_from``); a negation closes the matching open fact and opens none; a
    repeat of an open fact is marked as such (the first statement stays the fact). Replaying
    everything each time makes late-ingested older documents and forgotten ones come out
    right: the result depends on the statements alone, not on the order they arrived in.
    """
    ordered = sorted(facts, key=_replay_order)
    opened: dict[tuple[str, str], list[Fact]] = {}
    result: dict[str, Fact] = {}
    for fact in ordered:
        fact = replace(fact, valid_to=None, closed_by=None, repeats=None)
        group = opened.setdefault((fact.subject_key, _family(fact.predicate)), [])
        closing: list[Fact] = []
        repeat: Fact | None = None
        for old in group:
            same = _same_object(old, fact)
            if fact.negated:
                if old.predicate == fact.predicate and (same or not fact.object):
                    closing.append(old)
            elif old.predicate == fact.predicate and same:
                repeat = old
            elif (old.predicate == OPPOSITES.get(fact.predicate) and same) or (
                old.predicate == fact.predicate and fact.predicate in SINGLE_VALUED
            ):
                closing.append(old)
        for old in closing:
            group.remove(old)
            result[old.id] = replace(old, valid_to=fact.valid_from, closed_by=fact.id)
        if repeat is not None:
            result[fact.id] = replace(fact, repeats=repeat.id)
            continue
        result[fact.id] = fact
        if not fact.negated and fact.predicate != "did":
            group.append(fact)
    # an open fact's latest state is in result (closing replaced it there)
    return [result[f.id] for f in ordered]


def _replay_order(fact: Fact) -> tuple:
    return (fact.valid_from or "", *fact.order, fact.position, fact.id)


def _family(predicate: str) -> str:
    return "taste" if predicate in OPPOSITES else predicate


def _same_object(old: Fact, new: Fact) -> bool:
    if entity_key(old.object) == entity_key(new.object):
        return True
    if old.predicate == "has" or new.predicate == "has":
        head = words(new.object)
        return bool(head) and head[-1] in words(old.object)
    return False


def valid_at(fact: Fact, at: str) -> bool:
    """Was ``fact`` true at ``at`` (an ISO date or month)? From its start, up to its end."""
    if fact.negated or fact.repeats:
        return False
    if fact.predicate == "did":
        return bool(fact.valid_from) and fact.valid_from[: len(at)] <= at
    start = fact.valid_from or ""
    if start[: len(at)] > at:
        return False
    return fact.valid_to is None or fact.valid_to > at
