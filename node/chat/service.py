"""Chat as the owner: retrieve, build the prompt, stream from the model, remember the turn."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from secondme.node.chat.history import ChatHistory
from secondme.node.chat.prompt import (
    Memory,
    Message,
    build_messages,
    persona_prompt,
    prompt_budget,
)
from secondme.node.config import ModelSettings
from secondme.node.memory.l1.profile import PEER_PROFILE_REF, peer_profile
from secondme.node.memory.l1.store import describe_entity
from secondme.node.memory.l1.text import shorten, words
from secondme.node.memory.retrieval import L1Hit, PeerHit
from secondme.node.memory.service import Memory as MemoryService
from secondme.node.memory.vectors import ScopeFilter
from secondme.node.models.llm import BASE, ChatModel, Finished, ModelChoice, Piece
from secondme.node.owner import OwnerStore
from secondme.node.roles import RoleStore


@dataclass(frozen=True, slots=True)
class Sources:
    """The memories the answer is grounded in; sent before the first piece."""

    session_id: str
    hits: tuple[Memory, ...]


ChatEvent = Sources | Piece | Finished
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
            profile = self._memory.l1.profile()
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
            for entity_id, name in self._memory.l1.entity_names()
            if f" {' '.join(words(name))} " in asked
        ][:_ENTITY_NOTES]
        for entity in self._memory.l1.entities(ids=named) if named else ():
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
    ) -> AsyncIterator[ChatEvent]:
        """Answer another node's question as the owner, from the granted part of memory only.

        ``scope`` is the grant's filter (``None``: no memory at all), applied inside the vector
        search, so nothing outside it is ever retrieved; ``profile`` adds the profile made for
        that scope (never the owner's own). The prompt holds only the owner's *public* fields,
        no chat history and no entity notes (those draw on all of memory). ``model`` is the
        base unless the caller found an adapter that the peer's scope covers entirely. Nothing
        is saved to the owner's chat history.
        """
        found: list[Memory] = []
        if profile:
            found += await asyncio.to_thread(self._profile_note, scope, peer=True)
        if scope is not None and self._retrieve_k > 0:
            limits = {
                layer: k
                for layer, k in (("l1", _L1_HITS), ("l0", self._retrieve_k))
                if layer in scope.layers
            }
            if limits:
                hits = await self._memory.search_each(question, limits, scope=scope)
                found += hits.get("l1", []) + hits.get("l0", [])
        system = persona_prompt(self._owner.get().public_only())
        max_tokens = self._settings.max_answer_tokens
        messages, used = build_messages(
            system=system,
            hits=found,
            history=[],
            question=question,
            count_tokens=self.model.count_tokens,
            budget=prompt_budget(self._settings.context_tokens, max_tokens),
        )
        yield Sources("", tuple(used))
        async for event in self.model.stream(
            messages,
            requester=f"peer:{asker}",
            max_tokens=max_tokens,
            temperature=self._settings.temperature,
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
    ) -> AsyncIterator[ChatEvent]:
        """One turn of a kept conversation; the turn is saved once the answer is complete."""
        session_id = session_id or uuid.uuid4().hex
        persona = self._roles.get(role) if role else None
        hits = await self.grounding(message, persona.layers if persona else ("l1", "l0"))
        max_tokens = self._settings.max_answer_tokens
        messages, used = build_messages(
            system=persona_prompt(self._owner.get(), persona),
            hits=hits,
            history=self.history.messages(session_id),
            question=message,
            count_tokens=self.model.count_tokens,
            budget=prompt_budget(self._settings.context_tokens, max_tokens),
        )
        yield Sources(session_id, tuple(used))
        parts: list[str] = []
        async for event in self.model.stream(
            messages,
            requester=requester,
            max_tokens=max_tokens,
            temperature=self._settings.temperature,
            model=self.model.owner_choice(),
        ):
            if isinstance(event, Piece):
                parts.append(event.text)
            else:
                self.history.append_exchange(session_id, message, "".join(parts).strip(), role)
            yield event

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
