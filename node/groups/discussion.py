"""The moderator's discussion loop: ask, give turns, skip who fails, stop, sum up.

Everything it decides is written into the transcript (the question with its limits, each turn
with why that member spoke, each skip with why, the summary, the end with why), so a
discussion whose moderator crashed is resumed from the transcript alone (:meth:`Discussion.run`
with no question).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import numpy as np

from secondme.node.core.errors import NodeError
from secondme.node.groups.policy import Candidate, Progress, choose_speaker, consensus, should_end
from secondme.node.groups.prompts import first_sentences
from secondme.node.groups.store import Group, StoredMessage
from secondme.node.p2p.handlers import fit
from secondme.protocol.group_messages import GroupSaid, GroupTurn
from secondme.protocol.groups import (
    MAX_REASON,
    Body,
    BodyKind,
    GroupMessageError,
    MalformedGroupMessage,
    read_message,
)

if TYPE_CHECKING:
    from secondme.node.groups.service import GroupService

log = logging.getLogger(__name__)

POSITION_CHARS = 300
RAISED = "its owner asked to speak"


async def give_turn(
    service: GroupService, group: Group, peer: str, reason: str
) -> StoredMessage | str:
    """Give ``peer`` the next turn and keep what it says; or, when it does not speak in time
    or sends something invalid, write a ``skip`` with the reason and return that reason."""
    async with service.turn_locks[group.group_id]:
        waiting = service.raised[group.group_id]
        if reason == RAISED and peer in waiting:
            waiting.remove(peer)
        return await _give_turn(service, group, peer, reason)


async def _give_turn(
    service: GroupService, group: Group, peer: str, reason: str
) -> StoredMessage | str:
    if peer == service.me:
        body, _ = await service.speak(group, reason)
        return await service.publish(group.group_id, body)
    transcript = service.chain(group.group_id)
    key = service.store.latest_key(group.group_id)
    turn = GroupTurn(
        group=group.group_id,
        seq=transcript.next_seq,
        prev=transcript.head,
        epoch=key.epoch,
        reason=reason,
    )
    started = time.monotonic()
    try:
        answer = await asyncio.wait_for(
            service.send_member(
                group.group_id, peer, turn, timeout=service.settings.turn_timeout_s
            ),
            service.settings.turn_timeout_s + 5,
        )
        assert isinstance(answer, GroupSaid)
        message = read_message(answer.message, transcript.keys)
        body = Body.decode(message.body)
        if str(message.sender) != peer or message.seq != turn.seq or message.epoch != key.epoch:
            raise MalformedGroupMessage("the turn's message is not this member's next message")
        if body.kind not in (BodyKind.TURN, BodyKind.OWNER) or body.reason != reason:
            raise MalformedGroupMessage("the turn's message is not a turn with the reason given")
        answered = time.monotonic()
        stored = await service.keep_and_deliver(group.group_id, answer.message)
        log.info(
            "group %s: message %d by %s: answered in %.0f ms, kept and delivered in %.0f ms",
            group.group_id[:8],
            stored.seq,
            service.name_of(peer),
            (answered - started) * 1000,
            (time.monotonic() - answered) * 1000,
        )
        return stored
    except (NodeError, GroupMessageError, TimeoutError) as exc:
        waited = time.monotonic() - started
        if isinstance(exc, TimeoutError) or waited >= service.settings.turn_timeout_s:
            why = f"did not answer within {service.settings.turn_timeout_s:g} s"
        elif isinstance(exc, GroupMessageError):
            why = f"sent an invalid turn: {exc.message} ({exc.code})"
        else:
            why = str(exc)
        log.info("group %s: skipped %s: %s", group.group_id[:8], peer, why)
        await service.publish(
            group.group_id,
            Body(kind=BodyKind.SKIP, about=peer, reason=fit(f"skipped: {why}", MAX_REASON)),
        )
        return why


class Discussion:
    """One discussion in one group, run by the moderator's node."""

    def __init__(self, service: GroupService, group: Group) -> None:
        self.service = service
        self.group = group
        self.stop_requested = False
        self.away: dict[str, str] = {}
        self.turns = 0
        """Turns of members' Second Mes so far (an owner speaking in person is not one)."""
        self.last_spoke: dict[str, int] = {}
        self.last_turns: dict[str, np.ndarray] = {}
        self.vectors: list[np.ndarray] = []

    async def _embed(self, text: str) -> np.ndarray:
        vectors = await asyncio.to_thread(self.service.memory.embed, [text])
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
        service, gid = self.service, self.group.group_id
        if question is not None:
            await service.publish(
                gid,
                Body(
                    kind=BodyKind.QUESTION,
                    text=question,
                    rounds=rounds,
                    until=until,
                    budget_s=budget_s,
                ),
            )
        messages = service.store.messages(gid)
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
        service.relevance[gid][service.me] = await service.relevance_of(self.group, last_text)
        while True:
            speakers = [p for p in service.active_members(gid) if p not in self.away]
            reason = should_end(
                Progress(
                    turns=self.turns,
                    rounds=rounds,
                    speakers=len(speakers),
                    elapsed_s=(service.clock.now_ms() - asked.ts) / 1000,
                    budget_s=budget_s,
                    stop_requested=self.stop_requested,
                    until=until,
                    last_turns=self.last_turns,
                    turn_vectors=self.vectors,
                )
            )
            if reason is not None:
                break
            raised = service.raised[gid]
            candidates = [
                Candidate(
                    peer,
                    service.relevance[gid].get(peer),
                    self.last_spoke.get(peer),
                    raised=peer in raised,
                )
                for peer in sorted(speakers, key=lambda p: raised.index(p) if p in raised else 99)
            ]
            chosen = choose_speaker(candidates, self.turns)
            assert chosen is not None
            peer, why = chosen
            outcome = await give_turn(service, self.group, peer, why)
            if isinstance(outcome, str):
                self.away[peer] = outcome
                continue
            if outcome.body.kind is BodyKind.TURN:  # an owner in person is not a turn
                await self._heard(peer, outcome.body.text)
            if peer != service.me:
                service.relevance[gid][service.me] = await service.relevance_of(
                    self.group, outcome.body.text
                )
            service.relevance[gid][peer] = 0  # its memory is near its own words: no signal
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
        service, gid = self.service, self.group.group_id
        said = [
            m
            for m in service.store.messages(gid)[start + 1 :]
            if m.body.kind in (BodyKind.TURN, BodyKind.OWNER)
        ]
        last = {m.sender: m.body.text for m in said}
        positions = {peer: first_sentences(text, POSITION_CHARS) for peer, text in last.items()}
        await service.publish(
            gid,
            Body(kind=BodyKind.SUMMARY, text=self.agreement(last, last_turns), positions=positions),
        )
        service.discussions.pop(gid, None)  # over: the next may start as the end goes out
        await service.publish(gid, Body(kind=BodyKind.END, reason=reason))
        log.info("group %s: the discussion ended: %s", self.group.name, reason)

    def agreement(self, last: dict[str, str], last_turns: dict[str, np.ndarray]) -> str:
        """How far the members' last turns agree, and the one nearest all the others (the
        common ground), measured on their embeddings rather than written by a model."""
        name = self.service.name_of
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
