"""Who has the floor in the groups this node moderates: one turn at a time, raised hands, and
what each member last said of its relevance.

The :class:`Floor` is the moderator's turn-taking state, apart from the loop that uses it
(:class:`~.discussion.Discussion`): the discussion running in each group, one lock per group
that whoever gives a turn holds (a discussion, a raised hand, a change of the roll), the members
whose owners asked to speak (oldest first, at most ``raises_per_minute`` each), and each
member's last reported relevance. :class:`Turns` gives one turn: it asks the member (or this
node's own speaker), checks and keeps what comes back, or writes a ``skip`` with why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque

from secondme.node.core.errors import NodeError
from secondme.node.groups.context import GroupContext, Tasks
from secondme.node.groups.delivery import Delivery
from secondme.node.groups.speaker import Speaker
from secondme.node.groups.store import Group, StoredMessage
from secondme.node.groups.transcripts import Transcripts
from secondme.node.p2p.handlers import fit
from secondme.protocol.errors import RateLimited
from secondme.protocol.group_messages import GroupSaid, GroupTurn
from secondme.protocol.groups import (
    MAX_REASON,
    Body,
    BodyKind,
    GroupMessageError,
    MalformedGroupMessage,
    read_message,
)

log = logging.getLogger(__name__)

RAISED = "its owner asked to speak"


class Floor:
    """The moderator's turn-taking state, per group it moderates."""

    def __init__(self, raises_per_minute: int) -> None:
        self._raises_per_minute = raises_per_minute
        self.discussions: dict[str, asyncio.Task] = {}
        """The discussion running in each group (a task returning why it ended)."""
        self._turn_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._raise_times: defaultdict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.raised: defaultdict[str, list[str]] = defaultdict(list)
        """Members whose owners asked to speak, oldest first, per group."""
        self.relevance: defaultdict[str, dict[str, int | None]] = defaultdict(dict)
        """What each member last reported, per group (``None``: nothing)."""

    def turn_lock(self, group_id: str) -> asyncio.Lock:
        """One turn at a time per group, whoever gives it (a discussion or a raised hand)."""
        return self._turn_locks[group_id]

    def discussing(self, group_id: str) -> bool:
        return group_id in self.discussions

    def reported(self, group_id: str, peer: str, relevance: int | None) -> None:
        self.relevance[group_id][peer] = relevance

    def forget(self, group_id: str) -> None:
        """This node no longer moderates the group: nobody waits, nothing was reported."""
        self.raised.pop(group_id, None)
        self.relevance.pop(group_id, None)

    def raise_hand(self, group_id: str, peer: str) -> None:
        """``peer`` asks to speak; raises :class:`RateLimited` past ``raises_per_minute``."""
        recent = self._raise_times[(group_id, peer)]
        now = time.monotonic()
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= self._raises_per_minute:
            retry_ms = int((recent[0] + 60 - now) * 1000) + 1
            raise RateLimited(
                f"this member asked to speak {len(recent)} times in the last minute"
                f" (at most {self._raises_per_minute})",
                retry_after_ms=retry_ms,
            )
        recent.append(now)
        self.raised[group_id].append(peer)


class Turns:
    """Giving turns in the groups this node moderates."""

    def __init__(
        self,
        context: GroupContext,
        *,
        floor: Floor,
        transcripts: Transcripts,
        delivery: Delivery,
        speaker: Speaker,
        tasks: Tasks,
    ) -> None:
        self._context = context
        self._floor = floor
        self._transcripts = transcripts
        self._delivery = delivery
        self._speaker = speaker
        self._tasks = tasks
        self._hands: dict[str, asyncio.Task] = {}

    async def give(self, group: Group, peer: str, reason: str) -> StoredMessage | str:
        """Give ``peer`` the next turn and keep what it says; or, when it does not speak in
        time or sends something invalid, write a ``skip`` with the reason and return that
        reason."""
        async with self._floor.turn_lock(group.group_id):
            waiting = self._floor.raised[group.group_id]
            if reason == RAISED and peer in waiting:
                waiting.remove(peer)
            return await self._give(group, peer, reason)

    async def _give(self, group: Group, peer: str, reason: str) -> StoredMessage | str:
        context, delivery = self._context, self._delivery
        settings = context.settings
        if peer == context.me:
            body, _ = await self._speaker.speak(group, reason)
            return await delivery.publish(group.group_id, body)
        transcript = self._transcripts.chain(group.group_id)
        key = context.store.latest_key(group.group_id)
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
                delivery.send_member(group.group_id, peer, turn, timeout=settings.turn_timeout_s),
                settings.turn_timeout_s + 5,
            )
            assert isinstance(answer, GroupSaid)
            message = read_message(answer.message, transcript.keys)
            body = Body.decode(message.body)
            if str(message.sender) != peer or message.seq != turn.seq or message.epoch != key.epoch:
                raise MalformedGroupMessage("the turn's message is not this member's next message")
            if body.kind not in (BodyKind.TURN, BodyKind.OWNER) or body.reason != reason:
                raise MalformedGroupMessage(
                    "the turn's message is not a turn with the reason given"
                )
            answered = time.monotonic()
            stored = await delivery.keep_and_deliver(group.group_id, answer.message)
            log.info(
                "group %s: message %d by %s: answered in %.0f ms, kept and delivered in %.0f ms",
                group.group_id[:8],
                stored.seq,
                context.name_of(peer),
                (answered - started) * 1000,
                (time.monotonic() - answered) * 1000,
            )
            return stored
        except (NodeError, GroupMessageError, TimeoutError) as exc:
            waited = time.monotonic() - started
            if isinstance(exc, TimeoutError) or waited >= settings.turn_timeout_s:
                why = f"did not answer within {settings.turn_timeout_s:g} s"
            elif isinstance(exc, GroupMessageError):
                why = f"sent an invalid turn: {exc.message} ({exc.code})"
            else:
                why = str(exc)
            log.info("group %s: skipped %s: %s", group.group_id[:8], peer, why)
            await delivery.publish(
                group.group_id,
                Body(kind=BodyKind.SKIP, about=peer, reason=fit(f"skipped: {why}", MAX_REASON)),
            )
            return why

    def serve_raised_hands(self, group: Group) -> asyncio.Task | None:
        """Give the waiting hands their turns now, one by one, unless a discussion runs (it
        gives them the next turns); the task doing it, or ``None``."""
        gid, floor = group.group_id, self._floor
        if floor.discussing(gid):
            return None
        task = self._hands.get(gid)
        if task is None or task.done():

            async def serve() -> None:
                while floor.raised[gid] and not floor.discussing(gid):
                    await self.give(group, floor.raised[gid][0], RAISED)

            task = self._hands[gid] = self._tasks.spawn(serve())
        return task
