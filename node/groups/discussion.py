"""The moderator's discussion loop: ask, choose who speaks, stop, sum up.

It decides, and :class:`~secondme.node.groups.floor.Turns` carries each turn out (a member that
fails is skipped with why); the loop knows the rest of the node only through what it is given.

Everything it decides is written into the transcript (the question with its limits, each turn
with why that member spoke, each skip with why, the summary, the end with why), so a
discussion whose moderator crashed is resumed from the transcript alone (:meth:`Discussion.run`
with no question).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from secondme.node.groups.context import GroupContext
from secondme.node.groups.floor import Floor, Turns
from secondme.node.groups.policy import Candidate, Progress, choose_speaker, consensus, should_end
from secondme.node.groups.prompts import first_sentences
from secondme.node.groups.store import Group, StoredMessage
from secondme.protocol.groups import Body, BodyKind

log = logging.getLogger(__name__)

POSITION_CHARS = 300


class Discussion:
    """One discussion in one group, run by the moderator's node.

    It decides; the :class:`~.floor.Turns` it is given carry each turn out, ``publish`` writes
    the moderator's own messages, ``relevance_of`` tells how near this node's memory is to what
    was said, ``embed`` measures how far the turns agree, and ``members`` says who may speak.
    """

    def __init__(
        self,
        group: Group,
        *,
        context: GroupContext,
        floor: Floor,
        turns: Turns,
        publish: Callable[[str, Body], Awaitable[StoredMessage]],
        relevance_of: Callable[[Group, str], Awaitable[int | None]],
        embed: Callable[[Sequence[str]], np.ndarray],
        members: Callable[[str], list[str]],
    ) -> None:
        self.group = group
        self._context = context
        self._floor = floor
        self._turns = turns
        self._publish = publish
        self._relevance_of = relevance_of
        self._embed_texts = embed
        self._members = members
        self.stop_requested = False
        self.away: dict[str, str] = {}
        self.turns = 0
        """Turns of members' Second Mes so far (an owner speaking in person is not one)."""
        self.last_spoke: dict[str, int] = {}
        self.last_turns: dict[str, np.ndarray] = {}
        self.vectors: list[np.ndarray] = []

    async def _embed(self, text: str) -> np.ndarray:
        vectors = await asyncio.to_thread(self._embed_texts, [text])
        return vectors[0]

    async def run(
        self,
        question: str | None = None,
        *,
        rounds: int = 3,
        until: str = "rounds",
        budget_s: int | None = None,
    ) -> str:
        """Ask ``question`` (or, without one, go on with the transcript's open question) and
        run the discussion to its end; returns why it ended."""
        context, floor, gid = self._context, self._floor, self.group.group_id
        me = context.me
        if question is not None:
            await self._publish(
                gid,
                Body(
                    kind=BodyKind.QUESTION,
                    text=question,
                    rounds=rounds,
                    until=until,
                    budget_s=budget_s,
                ),
            )
        messages = context.store.messages(gid)
        start = max(i for i, m in enumerate(messages) if m.body.kind is BodyKind.QUESTION)
        asked = messages[start]
        rounds = asked.body.rounds or rounds
        until = asked.body.until or until
        budget_s = asked.body.budget_s
        for message in messages[start + 1 :]:
            if message.body.kind is BodyKind.TURN:
                await self._heard(message.sender, message.body.text)
            elif message.body.kind is BodyKind.SKIP and message.body.about:
                self.away[message.body.about] = message.body.reason or "skipped"
        last_text = messages[-1].body.text or asked.body.text
        floor.relevance[gid][me] = await self._relevance_of(self.group, last_text)
        while True:
            speakers = [p for p in self._members(gid) if p not in self.away]
            reason = should_end(
                Progress(
                    turns=self.turns,
                    rounds=rounds,
                    speakers=len(speakers),
                    elapsed_s=(context.clock.now_ms() - asked.ts) / 1000,
                    budget_s=budget_s,
                    stop_requested=self.stop_requested,
                    until=until,
                    last_turns=self.last_turns,
                    turn_vectors=self.vectors,
                )
            )
            if reason is not None:
                break
            raised = floor.raised[gid]
            candidates = [
                Candidate(
                    peer,
                    floor.relevance[gid].get(peer),
                    self.last_spoke.get(peer),
                    raised=peer in raised,
                )
                for peer in sorted(speakers, key=lambda p: raised.index(p) if p in raised else 99)
            ]
            chosen = choose_speaker(candidates, self.turns)
            assert chosen is not None
            peer, why = chosen
            outcome = await self._turns.give(self.group, peer, why)
            if isinstance(outcome, str):
                self.away[peer] = outcome
                continue
            if outcome.body.kind is BodyKind.TURN:  # an owner in person is not a turn
                await self._heard(peer, outcome.body.text)
            if peer != me:
                floor.relevance[gid][me] = await self._relevance_of(self.group, outcome.body.text)
            floor.relevance[gid][peer] = 0  # its memory is near its own words: no signal
        await self.finish(reason, start, self.last_turns)
        return reason

    async def _heard(self, peer: str, text: str) -> None:
        """Count a member's turn: when it spoke, and what it said (embedded)."""
        self.last_spoke[peer] = self.turns
        self.turns += 1
        vector = await self._embed(text)
        self.vectors.append(vector)
        self.last_turns[peer] = vector

    async def finish(self, reason: str, start: int, last_turns: dict[str, np.ndarray]) -> None:
        """Write the summary (each member's position, and how far they agree) and the end."""
        gid = self.group.group_id
        said = [
            m
            for m in self._context.store.messages(gid)[start + 1 :]
            if m.body.kind in (BodyKind.TURN, BodyKind.OWNER)
        ]
        last = {m.sender: m.body.text for m in said}
        positions = {peer: first_sentences(text, POSITION_CHARS) for peer, text in last.items()}
        await self._publish(
            gid,
            Body(kind=BodyKind.SUMMARY, text=self.agreement(last, last_turns), positions=positions),
        )
        self._floor.discussions.pop(gid, None)  # over: the next may start as the end goes out
        await self._publish(gid, Body(kind=BodyKind.END, reason=reason))
        log.info("group %s: the discussion ended: %s", self.group.name, reason)

    def agreement(self, last: dict[str, str], last_turns: dict[str, np.ndarray]) -> str:
        """How far the members' last turns agree, and the one nearest all the others (the
        common ground), measured on their embeddings rather than written by a model."""
        name = self._context.name_of
        if not last:
            return "Nobody spoke."
        if len(last) == 1:
            ((peer, text),) = last.items()
            return f"Only {name(peer)} spoke: {first_sentences(text, POSITION_CHARS)}"
        level = consensus(last_turns)
        word = "strong" if level >= 0.8 else "partial" if level >= 0.5 else "little"
        peers = [p for p in last if p in last_turns]
        matrix = np.stack([last_turns[p] for p in peers])
        centre = peers[int(np.argmax((matrix @ matrix.T).sum(axis=1)))]
        return (
            f"{word.capitalize()} agreement (similarity {level:.2f}). Closest to common "
            f"ground: {name(centre)}: {first_sentences(last[centre], POSITION_CHARS)}"
        )
