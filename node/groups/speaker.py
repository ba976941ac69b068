"""A node speaking in a group: its owner's own words, or its model answering from its memory.

Whether the turn was given by another moderator (:mod:`.member`) or by this node to itself
(:mod:`.floor`), the words come from here: what its owner waits to say, first; otherwise the
model, reading only the memory the group's scope allows (nothing outside it is ever searched)
and keeping only the sentences that memory supports (:func:`grounded_turn`). The moderator never
sees the memory, only the turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence

from secondme.node.access.service import AccessService
from secondme.node.chat.grounded import (
    AnswerCheck,
    Evidence,
    closest_words,
    dont_remember,
    overlap,
)
from secondme.node.chat.prompt import dated_text, memory_date
from secondme.node.chat.service import ChatService
from secondme.node.groups.context import NO_MEMORY, GroupContext
from secondme.node.groups.prompts import turn_messages
from secondme.node.groups.store import Group
from secondme.node.memory.l1.profile import peer_profile
from secondme.node.memory.scope import memory_filter
from secondme.node.memory.service import Memory
from secondme.node.p2p.handlers import fit
from secondme.protocol.grants import Scope
from secondme.protocol.group_messages import coarse_relevance
from secondme.protocol.groups import MAX_TEXT, Body, BodyKind

log = logging.getLogger(__name__)

NOTHING_REMEMBERED = "I don't remember anything about this."


class Speaker:
    """This node's voice in its groups; owns what its owner is waiting to say."""

    def __init__(
        self,
        context: GroupContext,
        *,
        memory: Memory,
        chat: ChatService,
        access: AccessService,
    ) -> None:
        self._context = context
        self._memory = memory
        self._chat = chat
        self._access = access
        self.to_say: defaultdict[str, list[str]] = defaultdict(list)
        """What this node's owner is waiting to say, per group (said at its next turn)."""

    def said(self, group_id: str) -> tuple[str, list[tuple[str, str]]]:
        """The current discussion's question and what was said since, as (public name,
        text)."""
        question, lines = "", []
        for message in self._context.store.messages(group_id):
            kind = message.body.kind
            if kind is BodyKind.QUESTION:
                question, lines = message.body.text, []
            elif kind in (BodyKind.TURN, BodyKind.OWNER):
                lines.append((self._context.public_name_of(message.sender), message.body.text))
        return question, lines

    async def speak(self, group: Group, reason: str) -> tuple[Body, str | None]:
        """This node's turn: its owner's waiting words, or its model speaking from the
        memories the group's scope allows (searched with the question and the last turn); and
        the model that wrote it (``base`` or an adapter the scope covers; None: the owner)."""
        context, settings = self._context, self._context.settings
        waiting = self.to_say.get(group.group_id)
        if waiting:
            return Body(kind=BodyKind.OWNER, text=waiting.pop(0), reason=reason), None
        group = context.store.get(group.group_id) or group  # as its owner set it now
        question, lines = self.said(group.group_id)
        query = " ".join([question, *(text for _, text in lines[-1:])])
        me = context.public_name_of(context.me)
        started = time.monotonic()
        memories, relevance = await self._memories(group.scope or NO_MEMORY, query)
        shared = coarse_relevance(relevance) if group.share_relevance else None
        searched = time.monotonic()
        messages = turn_messages(
            me=me,
            group=group.name,
            topic=group.topic,
            question=question,
            memories=memories,
            said=lines,
            quote_turns=settings.quote_turns,
        )
        model = self._access.model_for(group.scope or NO_MEMORY)
        text, _ = await self._chat.model.complete(
            messages,
            max_tokens=settings.max_turn_tokens,
            temperature=settings.temperature,
            requester=f"group:{group.group_id[:8]}",
            model=model,
        )
        log.info(
            "group %s: spoke (memory %.0f ms, model %.0f ms)",
            group.group_id[:8],
            (searched - started) * 1000,
            (time.monotonic() - searched) * 1000,
        )
        text = fit(grounded_turn(text, memories, question, group, lines), MAX_TEXT)
        return Body(kind=BodyKind.TURN, text=text, reason=reason, relevance=shared), model.name

    async def _memories(self, scope: Scope, query: str) -> tuple[list[str], int]:
        """What this node may draw on for the group: memory within ``scope`` (nothing outside
        it is ever searched) and, if the scope allows, the profile made for that scope; and how
        relevant the best of that memory is to ``query`` (per mille, as :meth:`relevance_of`)."""
        settings, memory = self._context.settings, self._memory
        found, relevance = [], 0
        search = memory_filter(scope, memory.l1)
        if scope.profile:
            owner = self._context.owner.get()
            made = await asyncio.to_thread(peer_profile, memory.l1, memory.documents, owner, search)
            if made.text:
                found.append(made.text)
        if search is not None and query.strip() and settings.turn_memories > 0:
            # The owner's own words (L0) first, then one L1 note: a small model leans on the
            # first memory it reads, and L0 is what the owner actually said.
            limits = {"l0": settings.turn_memories, "l1": 1}
            hits = await memory.search_each(
                query, {k: v for k, v in limits.items() if k in search.layers}, scope=search
            )
            ordered = [*hits.get("l0", []), *hits.get("l1", [])][: settings.turn_memories]
            found += [_dated(hit) for hit in ordered]
            relevance = max((per_mille(hit.score) for hit in ordered), default=0)
        return found, relevance

    async def relevance_of(self, group: Group, text: str) -> int | None:
        """How near this node's memory, within the group's scope, is to ``text``: per mille in
        coarse steps, or ``None`` when its owner does not share that with the group."""
        group = self._context.store.get(group.group_id) or group  # its owner may have changed it
        if not group.share_relevance:
            return None
        scope = memory_filter(group.scope, self._memory.l1) if group.scope else None
        if scope is None or not text.strip():
            return 0
        hits = await self._memory.search(text, k=1, layers=scope.layers, scope=scope)
        return coarse_relevance(per_mille(hits[0].score)) if hits else 0


def per_mille(score: float) -> int:
    return max(0, min(1000, round(score * 1000)))


def _dated(hit) -> str:
    """A memory as a member's model reads it: when it was said first, dates resolved."""
    when = memory_date(hit)
    return f"({when}) {dated_text(hit)}" if when else dated_text(hit)


def grounded_turn(
    text: str, memories: Sequence[str], question: str, group: Group, said: Sequence[tuple[str, str]]
) -> str:
    """The sentences of a turn that its memories (or the discussion itself) support; "I don't
    remember" when none is, so a member never presents an invention as its memory."""
    evidence = Evidence.of(
        [*memories, question, group.topic, group.name, *(line for _, line in said)],
        names=[name for name, _ in said],
    )
    check = AnswerCheck(evidence=evidence, question="", memories=0)
    kept = check.feed(text.strip()) + check.finish()
    if kept:
        return " ".join(kept)
    if not memories:
        return NOTHING_REMEMBERED
    # What this member does remember nearest the question, in its own words: honest, and its
    # own (two members with nothing to add do not echo each other into a false consensus).
    best = max(memories, key=lambda memory: overlap(question, closest_words(question, memory)))
    when, _, words_ = best.partition(") ") if best.startswith("(") else ("", "", best)
    return dont_remember(closest_words(question, words_), when.lstrip("(") or "my memory")
