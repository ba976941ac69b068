"""Chat as the owner: retrieve, build the prompt, stream from the model, remember the turn.

:meth:`ChatService.answer_peer` answers another node as the owner, within a grant's filter it is
handed ready; the SMP handler around it is :mod:`secondme.node.chat.peer`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from secondme.node.chat.fallbacks import (
    closest_memory,
    dont_remember_text,
    end_of_answer,
    why_not,
)
from secondme.node.chat.grounded import (
    AnswerCheck,
    Evidence,
    asked_names,
    coverage,
)
from secondme.node.chat.history import ChatHistory
from secondme.node.chat.prompt import (
    Memory,
    Message,
    build_messages,
    dated_text,
    evidence_text,
    grounded_messages,
    grounded_system,
    persona_prompt,
    prompt_budget,
)
from secondme.node.core.config import ModelSettings
from secondme.node.memory.l1.entity_store import describe_entity
from secondme.node.memory.l1.facts import Fact
from secondme.node.memory.l1.profile import PEER_PROFILE_REF, peer_profile
from secondme.node.memory.l1.text import content_words, shorten, stem, words
from secondme.node.memory.retrieval import L1Hit, PeerHit
from secondme.node.memory.service import Memory as MemoryService
from secondme.node.memory.vectors import ScopeFilter
from secondme.node.models.llm import BASE, ChatModel, Finished, ModelChoice, Piece
from secondme.node.people.owner import OwnerStore
from secondme.node.people.roles import Role, RoleStore

if TYPE_CHECKING:
    from secondme.node.memory.query import QueryPlan
    from secondme.node.memory.recall import Recall


@dataclass(frozen=True, slots=True)
class Sources:
    """The memories the answer is grounded in; sent before the first piece."""

    session_id: str
    hits: tuple[Memory, ...]


@dataclass(frozen=True, slots=True)
class Grounding:
    """What the answer rests on; sent after its last piece.

    ``used``: numbers (from 1) of the memories in :class:`Sources` the shown answer rests on;
    ``abstained``: the node said it does not remember; ``dropped``: sentences the model wrote
    that the memories do not support (never shown); ``reason``: why it abstained."""

    used: tuple[int, ...]
    abstained: bool
    dropped: tuple[str, ...]
    reason: str = ""

    def to_json(self) -> dict:
        return {
            "used": list(self.used),
            "abstained": self.abstained,
            "dropped": list(self.dropped),
            "reason": self.reason,
        }


ChatEvent = Sources | Piece | Grounding | Finished
_FACT_NOTES = 4
_OWNER_WORDS = frozenset({"i", "me", "my", "mine", "myself"})
_ANSWER_TOKENS = 64
"""Grounded answers are short: a small model drifts from its memories as it goes on."""
_PROMPT_MEMORY_CHARS = 1000
"""Memories in the answer prompt: few, so that a small model reads them all, and fast (the
shipped model reads about 120 prompt tokens a second on two cores)."""
_L1_HITS = 2
_ENTITY_NOTES = 2
_PROFILE_CHARS = 600


class ChatService:
    def __init__(
        self,
        *,
        model: ChatModel,
        memory: MemoryService,
        owner: OwnerStore,
        roles: RoleStore,
        history: ChatHistory,
        settings: ModelSettings,
        retrieve_k: int,
    ) -> None:
        self.model = model
        self._memory = memory
        self._owner = owner
        self._roles = roles
        self.history = history
        self._settings = settings
        self._retrieve_k = retrieve_k
        self.peer_notes: Callable[[str], Awaitable[list[PeerHit]]] | None = None
        """Set by the daemon: snippets peers shared that are near a question."""
        self.recall: Recall | None = None
        """Set by the daemon: retrieval re-ranked for questions (dates, names, neighbours)."""

    async def grounding(self, question: str, layers: Sequence[str]) -> list[Memory]:
        """L1 first (profile, people and places named, relevant topics), then L0 for detail."""
        found: list[Memory] = []
        if self._retrieve_k <= 0:
            return found
        limits = {
            layer: k for layer, k in (("l1", _L1_HITS), ("l0", self._retrieve_k)) if layer in layers
        }
        if "l1" in layers:
            found += await asyncio.to_thread(self._l1_notes, question)
        if limits:
            hits = await self._memory.search_each(question, limits)
            found += hits.get("l1", []) + hits.get("l0", [])
        if self.peer_notes is not None:
            found += await self.peer_notes(question)
        return found

    def _profile_note(
        self, peer_scope: ScopeFilter | None = None, *, peer: bool = False
    ) -> list[L1Hit]:
        """The profile as a memory: the owner's newest version, or with ``peer`` the one made
        for a peer whose memory scope is ``peer_scope`` (public fields and what the scope
        covers only: never the owner's private description or topics outside it)."""
        if peer:
            memory = self._memory
            made = peer_profile(memory.l1, memory.documents, self._owner.get(), peer_scope)
            text, ref = made.text, PEER_PROFILE_REF
        else:
            profile = self._memory.l1.profiles.get()
            text, ref = (profile["first_person"], str(profile["version"])) if profile else ("", "")
        if not text:
            return []
        return [
            L1Hit(
                point_id="",
                kind="profile",
                ref_id=ref,
                text=f"My profile\n{shorten(text, _PROFILE_CHARS)}",
                score=1.0,
            )
        ]

    def _l1_notes(self, question: str) -> list[L1Hit]:
        notes = self._profile_note()
        asked = " " + " ".join(words(question)) + " "
        named = [
            entity_id
            for entity_id, name in self._memory.l1.entities.names()
            if f" {' '.join(words(name))} " in asked
        ][:_ENTITY_NOTES]
        for entity in self._memory.l1.entities.list(ids=named) if named else ():
            notes.append(
                L1Hit(
                    point_id="",
                    kind="entity",
                    ref_id=entity["id"],
                    text=describe_entity(entity, relations=6),
                    score=1.0,
                )
            )
        return notes

    async def answer_peer(
        self,
        question: str,
        *,
        scope: ScopeFilter | None,
        profile: bool,
        asker: str,
        model: ModelChoice = BASE,
        now: datetime | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Answer another node's question as the owner, from the granted part of memory only.

        ``scope`` is the grant's filter, ready made (:mod:`secondme.node.memory.scope`; ``None``:
        no memory at all), applied inside the vector search, so nothing outside it is ever
        retrieved; ``profile`` adds the profile made for that scope (never the owner's own).
        The prompt holds only the owner's *public* name, no chat history and no entity notes
        (those draw on all of memory). ``model`` is the base unless the caller found an adapter
        that the peer's scope covers entirely. The answer is checked against those memories
        like the owner's. Nothing is saved to the owner's chat history.
        """
        found: list[Memory] = []
        if profile:
            found += await asyncio.to_thread(self._profile_note, scope, peer=True)
        if scope is not None and self._retrieve_k > 0:
            recalled, _ = await self._recalled(question, scope=scope, now=now)
            found = recalled + found
        owner = self._owner.get().public_only()
        async for event in self._grounded_answer(
            question,
            found,
            name=owner.name,
            session_id="",
            history=[],
            requester=f"peer:{asker}",
            model=model,
        ):
            yield event

    async def chat(
        self,
        message: str,
        *,
        session_id: str | None = None,
        role: str | None = None,
        requester: str = "owner",
        now: datetime | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """One turn of a kept conversation; the turn is saved once the answer is complete.

        The answer is grounded: memories found for the message (dated, numbered), a short
        answer from the model, each sentence shown only if the memories support it, and "I
        don't remember" with the closest memory when none is.
        """
        session_id = session_id or uuid.uuid4().hex
        persona = self._roles.get(role) if role else None
        layers = persona.layers if persona else ("l1", "l0")
        found: list[Memory] = []
        if self._retrieve_k > 0:
            recalled, plan = [], None
            if "l0" in layers:
                recalled, plan = await self._recalled(message, scope=None, now=now)
            if "l1" in layers:
                found += await asyncio.to_thread(self._fact_notes, message, plan)
            found += recalled
            if "l1" in layers:
                found += await asyncio.to_thread(self._l1_notes, message)
            if self.peer_notes is not None:
                found += await self.peer_notes(message)
        parts: list[str] = []
        async for event in self._grounded_answer(
            message,
            found,
            name=self._owner.get().name,
            session_id=session_id,
            history=self.history.messages(session_id),
            requester=requester,
            model=self.model.owner_choice(),
            role=persona,
        ):
            if isinstance(event, Piece):
                parts.append(event.text)
            elif isinstance(event, Finished):
                self.history.append_exchange(session_id, message, "".join(parts).strip(), role)
            yield event

    async def _recalled(
        self, question: str, *, scope: ScopeFilter | None, now: datetime | None
    ) -> tuple[list[Memory], QueryPlan | None]:
        """The owner's words (L0) that bear on ``question``, best first, within ``scope`` (none
        when it leaves out L0); and what the question asks (names, time) when recall read it."""
        if self.recall is not None:
            found = await self.recall.recall(question, scope=scope, now=now)
            return list(found.hits), found.plan
        hits = await self._memory.search(question, k=self._retrieve_k, layers=("l0",), scope=scope)
        return list(hits), None

    def _fact_notes(self, question: str, plan: QueryPlan | None) -> list[L1Hit]:
        """The facts (L1) about the people the question names, and about the owner when it
        asks about them, true at the time it asks about (or now): each a dated sentence."""
        owner = self._owner.get().name
        names = list(plan.names) if plan is not None else asked_names(question)
        asked = {w.lower() for w in words(question)}
        if asked & _OWNER_WORDS or (owner and owner.lower() in question.lower()):
            names.append("me")
        if not names:
            return []
        at = None
        if plan is not None and plan.time is not None:
            day = plan.time.end - timedelta(days=1) if plan.time.end else plan.time.start
            at = day.isoformat() if day else None
        facts = relevant_facts(question, names, self._memory.l1.facts.about(names, at=at))
        sources = self._memory.documents.chunks_with_documents([f.chunk_id for f in facts])
        notes = []
        for fact in facts:
            where = ""
            if fact.chunk_id in sources:
                doc = sources[fact.chunk_id][1]
                part = f"turns {fact.turns[0]}–{fact.turns[1]}" if fact.turns else None
                if part is None and fact.part is not None:
                    part = f"part {fact.part + 1}"
                where = f"{doc.name}, {part}" if part else doc.name
            notes.append(
                L1Hit(
                    point_id="",
                    kind="fact",
                    ref_id=fact.id,
                    text=fact.sentence(owner or None),
                    score=1.0,
                    tags=fact.tags,
                    source=where,
                )
            )
        return notes

    async def _grounded_answer(
        self,
        question: str,
        found: Sequence[Memory],
        *,
        name: str,
        session_id: str,
        history: Sequence[Message],
        requester: str,
        model: ModelChoice,
        role: Role | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Sources, then the checked answer's pieces, then :class:`Grounding`, then Finished."""
        max_tokens = min(self._settings.max_answer_tokens, _ANSWER_TOKENS)
        messages, used, shown_texts = grounded_messages(
            system=grounded_system(name, role=role),
            hits=found,
            history=history,
            question=question,
            count_tokens=self.model.count_tokens,
            budget=prompt_budget(self._settings.context_tokens, max_tokens),
            max_chars=_PROMPT_MEMORY_CHARS,
        )
        yield Sources(session_id, tuple(used))
        texts = [evidence_text(hit, text) for hit, text in zip(used, shown_texts, strict=True)]
        known = [n for _, n in self._memory.l1.entities.names()]
        gate = coverage(question, texts, known_names=known, free_names=[name])
        closest = closest_memory(question, [*used, *found])
        for_peer = requester.startswith("peer:")
        if not used or not gate.enough():
            text = dont_remember_text(question, closest, for_peer=for_peer)
            yield Piece(text)
            reason = why_not(gate, used, [dated_text(hit) for hit in found])
            yield Grounding(used=(), abstained=True, dropped=(), reason=reason)
            yield Finished("stop", 0, 0)
            return
        check = AnswerCheck(
            evidence=Evidence.of(texts, names=[name]), question=question, memories=len(used)
        )
        shown = False
        finished: Finished | None = None
        written = 0
        async for event in self.model.stream(
            messages,
            requester=requester,
            max_tokens=max_tokens,
            temperature=self._settings.answer_temperature,
            model=model,
        ):
            if isinstance(event, Piece):
                written += 1
                for sentence in check.feed(event.text):
                    yield Piece((" " if shown else "") + sentence)
                    shown = True
                if check.answered:
                    # A short answer is the whole answer: what a small model writes after it
                    # is repetition or drift, and every token of it is time the owner waits.
                    finished = Finished("stop", 0, written)
                    break
            else:
                finished = event
        for sentence in check.finish():
            yield Piece((" " if shown else "") + sentence)
            shown = True
        ending = end_of_answer(
            question, check, used, shown_texts, name=name, closest=closest, for_peer=for_peer
        )
        if ending.text:
            yield Piece((" " if shown else "") + ending.text)
        yield Grounding(
            used=ending.used,
            abstained=not ending.answered,
            dropped=tuple(v.sentence for v in check.dropped),
            reason="" if ending.answered else "the model's answer is not in the memories",
        )
        yield finished or Finished("stop", 0, 0)

    async def complete_openai(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None,
        temperature: float | None,
        requester: str = "owner",
    ) -> AsyncIterator[Piece | Finished]:
        """An OpenAI-style request: the client keeps the history; we add persona and memory."""
        question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        client_system = "\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [m for m in messages if m["role"] in ("user", "assistant")]
        if turns and turns[-1]["role"] == "user":
            turns = turns[:-1]
        system = persona_prompt(self._owner.get())
        if client_system:
            system += "\n" + client_system
        max_tokens = max_tokens or self._settings.max_answer_tokens
        built, _ = build_messages(
            system=system,
            hits=await self.grounding(question, ("l1", "l0")) if question else [],
            history=turns,
            question=question,
            count_tokens=self.model.count_tokens,
            budget=prompt_budget(self._settings.context_tokens, max_tokens),
        )
        async for event in self.model.stream(
            built,
            requester=requester,
            max_tokens=max_tokens,
            temperature=self._settings.temperature if temperature is None else temperature,
            model=self.model.owner_choice(),
        ):
            yield event


_VAGUE_OBJECTS = frozenset("it this that them him her there something one".split())
_OPEN_ENDINGS = frozenset("with to at in of for from and or".split())


def relevant_facts(question: str, names: Sequence[str], facts: Sequence[Fact]) -> list[Fact]:
    """The facts about the people asked about that bear on what is asked (their sentence or
    the words they were read from share a word with the question besides the names), best
    first; all of them (to a few) when the question asks nothing but a name. A fact whose
    object is a bare pronoun or a cut-off phrase says nothing and is left out."""
    named = {stem(w) for name in names for w in words(name)}
    asked = {stem(w) for w in content_words(question)} - named
    scored = []
    for position, fact in enumerate(facts):
        object_words = fact.object.lower().split()
        if not object_words or fact.object.lower() in _VAGUE_OBJECTS:
            continue
        if object_words[-1] in _OPEN_ENDINGS:
            continue
        said = {stem(w) for w in content_words(f"{fact.sentence()} {fact.sentence_text}")}
        score = len(asked & said)
        if score or not asked:
            scored.append((-score, position, fact))
    return [fact for _, _, fact in sorted(scored)[:_FACT_NOTES]]
