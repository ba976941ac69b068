"""Getting messages where they belong: the moderator's to its members, a member's missed ones.

The moderator keeps each message (its own, or a member's turn) and posts it to every active
member at once (:meth:`Delivery.publish`, :meth:`Delivery.keep_and_deliver`); a member that
fails, or is waiting for a retry, gets it from the :class:`~.outbox.Outbox` later. Every request
to a member carries the ``group/join`` grant it joined by (:meth:`Delivery.send_member`). A
member that finds itself behind fetches what it missed from its moderator
(:meth:`Delivery.catch_up`), at start and whenever a post or a turn shows a gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from secondme.node.access.service import AccessService
from secondme.node.core.errors import NodeError
from secondme.node.groups.context import JOIN, GroupContext, Tasks
from secondme.node.groups.outbox import MemberLeft, Outbox, why_failed
from secondme.node.groups.store import Group, StoredMessage
from secondme.node.groups.transcripts import Transcripts
from secondme.protocol.group_life import GroupState, MemberState
from secondme.protocol.group_messages import GroupMessages, GroupPosted, GroupSync
from secondme.protocol.groups import Body, GroupKey, GroupMessageError
from secondme.protocol.identity import PeerId
from secondme.protocol.messages import Request, Response

log = logging.getLogger(__name__)

Reported = Callable[[str, str, int | None], None]
"""Told what a member's answer to a post says of its relevance: (group id, peer, per mille or
``None`` when it does not share it)."""


class Delivery:
    def __init__(
        self,
        context: GroupContext,
        *,
        transcripts: Transcripts,
        access: AccessService,
        tasks: Tasks,
        reported: Reported,
        member_left: MemberLeft,
    ) -> None:
        self._context = context
        self._transcripts = transcripts
        self._access = access
        self._tasks = tasks
        self._reported = reported
        self.outbox = Outbox(
            context.store,
            context.settings,
            context.clock,
            me=context.me,
            spawn=tasks.spawn,
            send=self.send_member,
            seq_of=transcripts.seq_of,
            member_left=member_left,
        )

    def start(self) -> None:
        """Deliver what members of this node's groups are owed (retries survive a restart),
        and fetch what this node missed as a member while it was not running."""
        self.outbox.start()
        context = self._context
        for group in context.store.list():
            if group.moderator != context.me and group.status == GroupState.ACTIVE:
                self._tasks.spawn(self._catch_up_quietly(group))

    # -- the moderator's side ------------------------------------------------------------

    def active_members(self, group_id: str) -> list[str]:
        members = self._context.store.members(group_id)
        return [p for p, s in members.items() if s == MemberState.ACTIVE]

    async def publish(self, group_id: str, body: Body) -> StoredMessage:
        """Moderator: write a message of its own, keep it and deliver it to the members."""
        transcripts = self._transcripts
        async with transcripts.lock(group_id):  # kept and delivered in transcript order
            data = transcripts.write(group_id, body)
            stored = transcripts.keep(group_id, data)
            await self.deliver(group_id, data)
        return stored

    async def keep_and_deliver(self, group_id: str, data: bytes) -> StoredMessage:
        """Moderator: a member's message, checked and kept, then delivered to everyone."""
        async with self._transcripts.lock(group_id):
            stored = self._transcripts.keep(group_id, data)
            await self.deliver(group_id, data)
        return stored

    async def deliver(self, group_id: str, data: bytes) -> None:
        """Post a kept message to every active member but this node, at once; each member's
        answer carries its relevance to the message. One that fails, or is waiting for a
        retry, gets it from the outbox later (:class:`Outbox`)."""
        others = [
            p
            for p in self.active_members(group_id)
            if p != self._context.me and self.outbox.ready(group_id, p)
        ]
        for peer, result in (await self.outbox.post_now(group_id, others, data)).items():
            if isinstance(result, GroupPosted):
                self._reported(group_id, peer, result.relevance or None)  # 0: not shared

    async def to_each(
        self, group_id: str, peers: Sequence[str], message_for: Callable[[str], Request]
    ) -> dict[str, Response | BaseException]:
        """Send each member its message at once; each one's answer, or why it failed."""
        timeout = self._context.settings.delivery_timeout_s

        async def send(peer: str) -> Response:
            return await self.send_member(group_id, peer, message_for(peer), timeout=timeout)

        results = await asyncio.gather(*(send(p) for p in peers), return_exceptions=True)
        return dict(zip(peers, results, strict=True))

    async def send_member(
        self, group_id: str, peer: str, message: Request, *, timeout: float
    ) -> Response:
        """Moderator: a request to a member, carrying the ``group/join`` grant the member joined
        by (it authorises every request again with it); none for a member its owner let in."""
        context = self._context
        grant = context.store.member_grant(group_id, peer)
        if grant is None:  # joined before the roll kept grants, or by hand
            held = self._access.usable_grant(peer, JOIN)
            grant = held.token if held else None
        return await context.p2p.request(
            context.peer_record(peer), message, grant=grant, timeout=timeout
        )

    # -- a member's side -----------------------------------------------------------------

    async def _catch_up_quietly(self, group: Group) -> None:
        try:
            async with self._transcripts.lock(group.group_id):
                fetched = await self.catch_up(group)
        except (NodeError, GroupMessageError, TimeoutError) as exc:
            log.info("group %s: no catch-up at start: %s", group.group_id[:8], why_failed(exc))
            return
        if fetched:
            log.info("group %s: %d message(s) fetched at start", group.group_id[:8], fetched)

    async def catch_up(self, group: Group) -> int:
        """Fetch the messages this node missed (it was offline, say) from the moderator: at
        most ``catch_up_pages`` answers (the rest with the next message), and never past the
        group's quota. The caller holds the group's :meth:`Transcripts.lock`."""
        context, transcripts = self._context, self._transcripts
        fetched = 0
        for _ in range(context.settings.catch_up_pages):
            transcript = transcripts.chain(group.group_id)
            answer = await context.p2p.request(
                context.peer_record(group.moderator),
                GroupSync(group=group.group_id, after=len(transcript.messages)),
                timeout=context.settings.delivery_timeout_s,
            )
            assert isinstance(answer, GroupMessages)
            moderator = PeerId.from_base58(group.moderator)
            for sealed in answer.keys:
                transcripts.add_key(GroupKey.open(context.identity, sealed, moderator=moderator))
            for data in answer.messages:
                transcripts.keep(group.group_id, data)
                fetched += 1
            if not answer.more or not answer.messages:
                break
        return fetched
