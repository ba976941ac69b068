"""The profile in two forms: the owner's own, and the one a peer may see.

The owner's profile (stored in versions by the L1 worker) is written from the biggest topics of
all of memory and the owner's private description: it is for the owner. A peer never gets that
text. What a peer sees is made when it asks, from the owner's *public* fields and from the topics
and sentences inside the peer's scope only (:func:`peer_profile`), so a grant on one tag shows
neither the private description nor a topic of another tag.

Every text either form holds comes from chunks it lists as sources, so forgetting a chunk can
remove (the owner's versions) or change (a peer's, made fresh each time) what it said.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from secondme.node.memory.documents import DocumentRecord, DocumentStore
from secondme.node.memory.l1.extract import best_sentence
from secondme.node.memory.l1.facts import Fact
from secondme.node.memory.l1.store import L1Store
from secondme.node.memory.l1.text import shorten
from secondme.node.memory.vectors import ScopeFilter
from secondme.node.people.owner import OwnerProfile

PROFILE_TOPICS = 6
PROFILE_FACTS = 12
"""Current facts a profile states at most."""
_FACT_ORDER = ("lives_in", "works_at", "works_as", "partner", "likes", "has", "dislikes")
_RELATION_RANK = 3.5
"""Other people (a sister, a friend) come after a partner and before tastes."""
FACT_SEARCH = 12
"""Chunks nearest a topic's centre searched for the owner's own sentence that sums it up."""
PEER_PROFILE_REF = "scoped"
"""The reference a peer's profile is cited and audited by (it has no stored version)."""
_FACT_CHARS = 220
_L0, _L1 = "l0", "l1"


@dataclass(frozen=True, slots=True)
class ProfileTopic:
    """A topic as a profile uses it: its name, and the owner's own sentence about it."""

    id: str
    name: str
    size: int
    chunks: tuple[str, ...]
    fact: str | None
    fact_chunk: str | None


@dataclass(frozen=True, slots=True)
class PeerProfile:
    """What a peer may see as the owner's profile, and what it drew on (for the audit)."""

    text: str
    refs: tuple[str, ...]


def profile_topic(
    topic: dict, documents: DocumentStore, usable: Sequence[str] | None = None
) -> ProfileTopic:
    """``topic`` (as :meth:`TopicStore.list` gives it) with its best first-person sentence,
    searched among its central chunks (only those in ``usable``, when given)."""
    # The topic's distinctive words, the most distinctive weighing most.
    weights = Counter({t: len(topic["terms"]) - i for i, t in enumerate(topic["terms"])})
    searched = [c for c in topic["chunks"] if usable is None or c in usable][:FACT_SEARCH]
    fact, fact_chunk, best = None, None, 0.0
    for chunk_id, text in documents.chunk_texts(searched).items():
        candidate = best_sentence(text, weights, first_person=True)
        if candidate and candidate[1] > best:
            fact, fact_chunk, best = shorten(candidate[0], _FACT_CHARS), chunk_id, candidate[1]
    return ProfileTopic(
        topic["id"], topic["name"], len(topic["chunks"]), tuple(topic["chunks"]), fact, fact_chunk
    )


def interests(topics: Sequence[ProfileTopic]) -> str:
    """The topic names as a list a sentence can carry ("Hiking; Cello and Kitchen & Caldo")."""
    names = [t.name for t in topics]
    if not names:
        return ""
    return names[0] if len(names) == 1 else "; ".join(names[:-1]) + " and " + names[-1]


def extractive_biography(
    name: str, description: str, topics: Sequence[ProfileTopic], known: str = ""
) -> tuple[str, str]:
    """A biography made of the owner's own sentences, so a small model cannot falsify it;
    ``known`` is the owner's current facts as first-person sentences (:func:`facts_text`)."""
    facts = [t.fact for t in topics if t.fact]
    about = f"I write most about: {interests(topics)}." if topics else ""
    first = " ".join(part for part in (description.strip(), known, about, *facts) if part)
    quoted = " ".join(f"“{f}”" for f in facts)
    third = (f"{name} writes most about: {interests(topics)}." if topics else "") + (
        f" In {name}'s words: {quoted}" if quoted else ""
    )
    return first, third.strip()


def profile_facts(facts: Sequence[Fact], limit: int = PROFILE_FACTS) -> list[Fact]:
    """The owner's current facts a profile states: where they live and work, who is in their
    life, what they like and have (dated events are left to memory), most telling first;
    ``limit`` -1 keeps all."""
    rank = {p: i for i, p in enumerate(_FACT_ORDER)}
    kept = [f for f in facts if f.owner and f.current and f.predicate != "did"]
    kept.sort(key=lambda f: (rank.get(f.predicate, _RELATION_RANK), f.valid_from or "", f.id))
    return kept if limit < 0 else kept[:limit]


def facts_text(facts: Sequence[Fact], name: str | None = None) -> str:
    """The facts as sentences: first person, or third person naming ``name``."""
    return " ".join(f"{f.sentence(name)}." for f in facts)


def peer_profile(
    l1: L1Store, documents: DocumentStore, owner: OwnerProfile, scope: ScopeFilter | None
) -> PeerProfile:
    """The profile a peer whose memory scope is ``scope`` (``None``: no memory) may see.

    It starts from the owner's public description (a private one is never used), then names the
    topics whose L1 record the scope covers and quotes the owner's sentences from chunks it
    covers: nothing a search under the same scope could not find.
    """
    description = owner.public_fields().get("description", "")
    topics: list[ProfileTopic] = []
    refs: list[str] = []
    if scope is not None and (not scope.layers or _L1 in scope.layers):
        for topic in l1.topics.list():
            if len(topics) == PROFILE_TOPICS:
                break
            point = l1.points.get("topic", topic["id"])
            if point is None or not scope.covers_point(point_id=point.point_id, tags=point.tags):
                continue
            found = documents.chunks_with_documents(topic["chunks"])
            if scope.doc_ids and any(doc.id not in scope.doc_ids for _, doc in found.values()):
                continue
            usable = [c for c, (_, doc) in found.items() if _fact_usable(scope, c, doc)]
            topics.append(profile_topic(topic, documents, usable))
            refs.append(f"l1:topic:{topic['id']}")
    refs += [f"l0:chunk:{t.fact_chunk}" for t in topics if t.fact_chunk]
    facts = _facts_in_scope(l1, documents, scope)
    refs += [f"l0:chunk:{f.chunk_id}" for f in facts]
    first, _ = extractive_biography(owner.name, description, topics, facts_text(facts))
    return PeerProfile(first, tuple(dict.fromkeys(refs)))


def _facts_in_scope(l1: L1Store, documents: DocumentStore, scope: ScopeFilter | None) -> list[Fact]:
    """The owner's current facts whose source sentence the scope lets the peer read: an L1
    record (facts) of an L0 chunk (their sentence) it covers. A fact's validity still comes
    from every statement: a newer one the peer cannot see closes an older one it can, so the
    peer is not told a stale fact as current (it is told nothing of that predicate)."""
    if scope is None or (scope.layers and _L1 not in scope.layers):
        return []
    facts = profile_facts(l1.facts.facts(about=["me"]), limit=-1)
    found = documents.chunks_with_documents(list(dict.fromkeys(f.chunk_id for f in facts)))
    usable = [
        f
        for f in facts
        if f.chunk_id in found and _fact_usable(scope, f.chunk_id, found[f.chunk_id][1])
    ]
    return usable[:PROFILE_FACTS]


def _fact_usable(scope: ScopeFilter, chunk_id: str, doc: DocumentRecord) -> bool:
    """May a sentence of this chunk be quoted under ``scope`` (it is an L0 memory)?"""
    return scope.allows(point_id=chunk_id, layer=_L0, doc_id=doc.id, tags=doc.tags)
