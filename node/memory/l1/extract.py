"""What L1 can take from a document without the model: key sentences, entities, relations.

Pure functions. Key sentences are picked by centrality: the chunks nearest the document's mean
embedding, and in each the sentence that shares most of the document's frequent words. Entities
are found lexically (runs of capitalised words) and typed by the words around them ("my sister
Ana", "in Porto", "Hospital"); relations are the few words that join two mentions in a sentence.
The model only types what these rules leave open, so a small model cannot invent an entity.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from secondme.node.memory.l1.text import (
    MONTHS,
    STOPWORDS,
    content_words,
    sentences,
    shorten,
    term_counts,
    words,
)

OWNER_KEY = "@owner"
"""The entity that stands for the owner ("I", "my") in the graph."""
ENTITY_KINDS = ("person", "place", "organization", "thing")
_KEY_POINTS = 5
_SENTENCE_CHARS = 240


@dataclass(frozen=True, slots=True)
class ChunkText:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class KeyPoint:
    text: str
    chunk_id: str

    def to_json(self) -> dict:
        return {"text": self.text, "chunk_id": self.chunk_id}


@dataclass(frozen=True, slots=True)
class ExtractedInsight:
    title: str
    overview: str
    overview_chunk: str
    key_points: tuple[KeyPoint, ...]
    summary: str


def central_order(vectors: np.ndarray) -> list[int]:
    """Row indices from most to least central (cosine to the normalised mean)."""
    if len(vectors) == 0:
        return []
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        return list(range(len(vectors)))
    scores = vectors @ (mean / norm)
    return sorted(range(len(vectors)), key=lambda i: (-float(scores[i]), i))


_FIRST_PERSON = frozenset({"i", "my", "i'm", "i've", "me"})


def sentence_score(sentence: str, weights: Counter[str]) -> float:
    """How much of what ``weights`` values a sentence carries; 0 for fragments under 3 words."""
    terms = content_words(sentence)
    if len(terms) < 3:
        return 0.0
    return sum(weights[t] for t in set(terms)) / len(terms) ** 0.5


def best_sentence(
    text: str, weights: Counter[str], *, first_person: bool = False
) -> tuple[str, float] | None:
    """The sentence of ``text`` that carries most of ``weights``, with its score; with
    ``first_person``, only sentences the owner says of themself ("I", "my")."""
    best, best_score = None, 0.0
    for sentence in sentences(text):
        if first_person and not _FIRST_PERSON & {w.lower().strip(".,") for w in sentence.split()}:
            continue
        score = sentence_score(sentence, weights)
        if score > best_score:
            best, best_score = sentence, score
    return None if best is None else (best, best_score)


def extract_insight(
    title: str | None, chunks: Sequence[ChunkText], vectors: np.ndarray
) -> ExtractedInsight:
    """Title, overview, key points and summary made only of the document's own sentences."""
    weights = term_counts(c.text for c in chunks)
    order = central_order(vectors)
    points: list[tuple[int, KeyPoint]] = []
    seen: set[str] = set()
    for index in order:
        found = best_sentence(chunks[index].text, weights)
        if found is None or found[0] in seen:
            continue
        sentence = found[0]
        seen.add(sentence)
        points.append((index, KeyPoint(shorten(sentence, _SENTENCE_CHARS), chunks[index].id)))
        if len(points) == _KEY_POINTS:
            break
    overview, overview_chunk = (points[0][1].text, points[0][1].chunk_id) if points else ("", "")
    in_order = tuple(p for _, p in sorted(points, key=lambda item: item[0]))
    summary = " ".join(p.text for p in in_order[:3])
    return ExtractedInsight(
        title=(title or _title_from(chunks)).strip(),
        overview=overview,
        overview_chunk=overview_chunk,
        key_points=in_order,
        summary=summary,
    )


def _title_from(chunks: Sequence[ChunkText]) -> str:
    for chunk in chunks:
        for sentence in sentences(chunk.text):
            if content_words(sentence):
                return shorten(sentence, 60)
    return ""


# -- entities -----------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*|\S", re.UNICODE)
_CONNECTORS = frozenset("da de do dos das del della di du la le van von der den of the y e".split())
_HONORIFICS = frozenset("dr dr. mr mr. mrs mrs. ms ms. prof prof. sir dona dom".split())
_KIN = frozenset(
    """
    sister brother friend colleague mother father wife husband partner son daughter boss aunt
    uncle cousin neighbour neighbor grandmother grandfather mum mom dad niece nephew girlfriend
    boyfriend teacher doctor nurse manager mentor coach
    """.split()
)
_PERSON_AFTER = frozenset("said says told asked thinks wrote called replied laughed".split())
_ORG_WORDS = frozenset(
    """
    hospital university school college inc ltd llc company bank club association institute
    clinic church museum restaurant café cafe group foundation ministry council corp corporation
    society team department agency academy lab laboratory studio press
    """.split()
)
_PLACE_WORDS = frozenset(
    """
    serra mount mountain lake river street avenue road park island valley beach city town
    village bay coast peninsula region province county square forest trail
    """.split()
)
_PLACE_BEFORE = frozenset("in to from near visited around through across toward towards".split())
_ORG_BEFORE = ("work at", "works at", "worked at", "work for", "works for", "worked for", "joined")
_NOT_NAMES = frozenset(
    {"i", "i'm", "i've", "i'd", "i'll", "ok", "okay"}
    | set(MONTHS)
    | {m[:3] for m in MONTHS}
    | set(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])
)
_MAX_GAP_WORDS = 5


@dataclass(slots=True)
class Mention:
    name: str
    start: int  # token index in the sentence
    end: int
    kind_votes: Counter[str] = field(default_factory=Counter)


def entity_key(name: str) -> str:
    """How two spellings of one name are recognised as the same entity."""
    return " ".join(w for w in words(name) if w not in _HONORIFICS)


def _capitalised(token: str) -> bool:
    return token[:1].isupper() and any(ch.isalpha() for ch in token)


def _mentions(tokens: list[str], named_inside: frozenset[str]) -> list[Mention]:
    found: list[Mention] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not _capitalised(token) or token.lower().rstrip(".") in _NOT_NAMES:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(tokens):
            if _capitalised(tokens[j]) and tokens[j].lower() not in _NOT_NAMES:
                j += 1
            elif (
                tokens[j].lower() in _CONNECTORS
                and j + 1 < len(tokens)
                and _capitalised(tokens[j + 1])
            ):
                j += 2
            else:
                break
        run = tokens[start:j]
        # A capitalised first word of a sentence (or of a heading) is a name only if the text
        # also capitalises it inside a sentence: "Ana" is, "Yesterday" and "Hiking log" are not.
        while (
            run
            and start == 0
            and (run[0].rstrip(".") not in named_inside or run[0].lower() in STOPWORDS)
        ):
            run, start = run[1:], start + 1
        while run and run[0].lower() in _CONNECTORS:
            run, start = run[1:], start + 1
        while run and run[-1].lower() in _CONNECTORS:
            run = run[:-1]
        if run:
            name = " ".join(run).rstrip(".")
            for possessive in ("'s", "’s"):
                name = name.removesuffix(possessive)
            if len(entity_key(name)) > 1:
                found.append(Mention(name, start, start + len(run)))
        i = j
    return found


def _vote_kind(mention: Mention, tokens: list[str]) -> None:
    lower = [t.lower() for t in tokens]
    parts = [w.lower().rstrip(".") for w in mention.name.split()]
    before = lower[max(0, mention.start - 2) : mention.start]
    after = lower[mention.end : mention.end + 1]
    if parts[0] in {h.rstrip(".") for h in _HONORIFICS} or (before and before[-1] in _KIN):
        mention.kind_votes["person"] += 2
    if after and after[0] in _PERSON_AFTER:
        mention.kind_votes["person"] += 1
    if any(p in _ORG_WORDS for p in parts):
        mention.kind_votes["organization"] += 2
    elif " ".join(before) in _ORG_BEFORE or " ".join(before[-2:]) in _ORG_BEFORE:
        mention.kind_votes["organization"] += 1
    if any(p in _PLACE_WORDS for p in parts):
        mention.kind_votes["place"] += 2
    elif before and before[-1] in _PLACE_BEFORE:
        mention.kind_votes["place"] += 1


@dataclass(slots=True)
class EntityFinding:
    """Everything the rules learnt about one entity in one document.

    ``mentions`` keeps, per chunk, the name as that chunk writes it and the sentence it is met
    in, so that what the entity shows can always be traced to a chunk, and goes when it goes.
    """

    name: str
    key: str
    kind_votes: Counter[str] = field(default_factory=Counter)
    mentions: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def chunks(self) -> set[str]:
        return set(self.mentions)

    @property
    def context(self) -> str:
        """The first sentence of the document that names the entity."""
        return next(iter(self.mentions.values()), ("", ""))[1]


@dataclass(frozen=True, slots=True)
class RelationFinding:
    source: str  # entity key (or OWNER_KEY)
    target: str
    label: str
    chunk_id: str


def _between_label(tokens: list[str], start: int, end: int) -> str | None:
    """The words joining two mentions, if they read as a relation ("lives in", "works at")."""
    between = [t.lower() for t in tokens[start:end] if any(ch.isalpha() for ch in t)]
    if not 1 <= len(between) <= _MAX_GAP_WORDS:
        return None
    if len(between) != end - start:
        return None  # punctuation in between: another clause
    if all(w in STOPWORDS or w in _CONNECTORS for w in between):
        return "with" if between == ["with"] else None
    while between and between[-1] in ("the", "a", "an", "my"):
        between.pop()
    return " ".join(between)


def extract_entities(
    chunks: Sequence[ChunkText], speakers: Sequence[str] = ()
) -> tuple[list[EntityFinding], list[RelationFinding]]:
    """Entities of a document, typed where the rules are sure, and the relations between them."""
    named_inside = frozenset(
        token.rstrip(".")
        for c in chunks
        for sentence in sentences(c.text)
        for token in _TOKEN.findall(sentence)[1:]
        if _capitalised(token)
    )
    findings: dict[str, EntityFinding] = {}
    relations: list[RelationFinding] = []
    for speaker in speakers:
        key = entity_key(speaker)
        if key:
            finding = findings.setdefault(key, EntityFinding(speaker, key))
            finding.kind_votes["person"] += 3
    for chunk in chunks:
        for sentence in sentences(chunk.text):
            tokens = _TOKEN.findall(sentence)
            mentions = _mentions(tokens, named_inside)
            for mention in mentions:
                _vote_kind(mention, tokens)
                key = entity_key(mention.name)
                finding = findings.setdefault(key, EntityFinding(mention.name, key))
                finding.kind_votes.update(mention.kind_votes)
                name, context = finding.mentions.get(chunk.id, ("", shorten(sentence, 160)))
                if len(mention.name) > len(name):
                    name = mention.name  # "Dr. Rui Costa" over "Rui Costa"
                finding.mentions[chunk.id] = (name, context)
                if len(mention.name) > len(finding.name):
                    finding.name = mention.name
            relations += _sentence_relations(tokens, mentions, chunk.id)
    return list(findings.values()), relations


def _sentence_relations(
    tokens: list[str], mentions: list[Mention], chunk_id: str
) -> list[RelationFinding]:
    found: list[RelationFinding] = []
    lower = [t.lower() for t in tokens]
    for a, b in itertools.pairwise(mentions):
        label = _between_label(tokens, a.end, b.start)
        found.append(
            RelationFinding(
                entity_key(a.name), entity_key(b.name), label or "mentioned with", chunk_id
            )
        )
    for mention in mentions:
        key = entity_key(mention.name)
        window = lower[max(0, mention.start - _MAX_GAP_WORDS - 1) : mention.start]
        if len(window) >= 2 and window[-2] == "my" and window[-1] in _KIN:
            found.append(RelationFinding(OWNER_KEY, key, window[-1], chunk_id))
        elif "i" in window:
            at = len(window) - 1 - window[::-1].index("i")
            label = _between_label(tokens, mention.start - (len(window) - at - 1), mention.start)
            if label:
                found.append(RelationFinding(OWNER_KEY, key, label, chunk_id))
    return found


def rule_kind(votes: Counter[str]) -> str | None:
    """The kind the rules agree on, or None when they have no evidence."""
    if not votes:
        return None
    (kind, count), *rest = votes.most_common()
    if rest and rest[0][1] == count:
        return None
    return kind


def group_relations(relations: Sequence[RelationFinding]) -> dict[tuple[str, str, str], set[str]]:
    """Relations merged by (source, target, label), with their supporting chunks."""
    grouped: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in relations:
        if r.source != r.target:
            grouped[(r.source, r.target, r.label)].add(r.chunk_id)
    return grouped


# -- links between notes ------------------------------------------------------------------------

LINK_LABEL = "links to"
"""The relation a note's wikilink makes: the note links to the note it names."""


def _note_key(name: str) -> str:
    """A note's entity key: as any name's, so that a note named after a person is that person;
    its plain lower-case form where numbers tell notes apart ("Budget 2024", "2024-03-05")."""
    if any(ch.isdigit() for ch in name):
        return " ".join(name.casefold().split())
    return entity_key(name)


def _where_named(name: str, chunks: Sequence[ChunkText]) -> dict[str, tuple[str, str]]:
    """Per chunk that writes ``name``, the name and the sentence it is in; the first chunk (with
    its first sentence) when none does (a link shown by its alias)."""
    wanted = name.casefold()
    found: dict[str, tuple[str, str]] = {}
    for chunk in chunks:
        if wanted in chunk.text.casefold():
            sentence = next((s for s in sentences(chunk.text) if wanted in s.casefold()), "")
            found[chunk.id] = (name, shorten(sentence or chunk.text, 160))
    if not found and chunks:
        first = chunks[0]
        found[first.id] = (name, shorten(next(iter(sentences(first.text)), first.text), 160))
    return found


def with_links(
    findings: list[EntityFinding],
    relations: list[RelationFinding],
    note: str | None,
    links: Sequence[str],
    chunks: Sequence[ChunkText],
) -> tuple[list[EntityFinding], list[RelationFinding]]:
    """A document's findings with its links to other notes added: the note ``note`` (its title
    or name) and each linked note become entities, joined by :data:`LINK_LABEL` relations that
    the chunks naming the linked note support (the first chunk where none names it), so that a
    link goes when the chunks that hold it go. Nothing changes without links or chunks."""
    if not note or not links or not chunks:
        return findings, relations
    merged = {f.key: f for f in findings}
    source = _note_key(note)
    if not source:
        return findings, relations
    first = chunks[0]
    named = merged.setdefault(source, EntityFinding(note, source))
    named.mentions.setdefault(first.id, (note, shorten(first.text, 160)))
    added: list[RelationFinding] = []
    for name in dict.fromkeys(" ".join(link.split()) for link in links):
        target = _note_key(name)
        if not target or target == source:
            continue
        finding = merged.setdefault(target, EntityFinding(name, target))
        where = _where_named(name, chunks)
        for chunk_id, mention in where.items():
            finding.mentions.setdefault(chunk_id, mention)
        added += [RelationFinding(source, target, LINK_LABEL, c) for c in where]
    return list(merged.values()), relations + added
