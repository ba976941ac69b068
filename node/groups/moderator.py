"""The moderator's side of a group: the roll, the epoch keys, discussions, and the end.

The node that creates a group moderates it: it invites each member's node, keeps the roll
(:data:`~secondme.protocol.group_life.MEMBER_LIFE`), makes a new epoch key whenever a member
goes so that it reads nothing said after, starts and stops discussions
(:class:`~.discussion.Discussion`, whose turns :class:`~.floor.Turns` gives), and closes the
group. Its members' requests (accepting, asking to speak, leaving, catching up) are answered by
the plain functions at the end of this module, registered with the node's SMP endpoint by
:func:`register`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from functools import partial

from secondme.node.access.service import AccessService
from secondme.node.core.errors import InvalidRequest, NodeError, NotFound
from secondme.node.groups.context import JOIN, NO_MEMORY, GroupContext, Tasks
from secondme.node.groups.delivery import Delivery
from secondme.node.groups.discussion import Discussion
from secondme.node.groups.floor import Floor, Turns
from secondme.node.groups.outbox import why_failed
from secondme.node.groups.policy import UNTIL
from secondme.node.groups.speaker import Speaker
from secondme.node.groups.store import Group
from secondme.node.groups.transcripts import Transcripts
from secondme.node.memory.scope import bind_topics
from secondme.node.memory.service import Memory
from secondme.node.p2p.handlers import Reply, fit
from secondme.node.p2p.service import P2PService
from secondme.node.people.peers import PeerRecord
from secondme.protocol.grants import Permit, Scope
from secondme.protocol.group_life import (
    GROUP_LIFE,
    MEMBER_LIFE,
    ON_ROLL,
    GroupEvent,
    GroupState,
    MemberEvent,
    MemberState,
)
from secondme.protocol.group_messages import (
    GroupAccept,
    GroupClosed,
    GroupInvite,
    GroupInvited,
    GroupKeyUpdate,
    GroupLeave,
    GroupMessages,
    GroupOk,
    GroupRaise,
    GroupSync,
    UnknownGroup,
)
from secondme.protocol.groups import MAX_MEMBERS, MAX_TEXT, Body, BodyKind, GroupKey
from secondme.protocol.identity import PeerId
from secondme.protocol.session import IncomingRequest

log = logging.getLogger(__name__)

SYNC_PAGE = 64
SYNC_BYTES = 2 * 1024 * 1024
"""A sync answer stops before this many bytes of messages (a frame holds 4 MiB)."""


class Moderator:
    """What this node does in the groups it moderates."""

    def __init__(
        self,
        context: GroupContext,
        *,
        transcripts: Transcripts,
        delivery: Delivery,
        floor: Floor,
        turns: Turns,
        speaker: Speaker,
        access: AccessService,
        memory: Memory,
        tasks: Tasks,
    ) -> None:
        self.context = context
        self.transcripts = transcripts
        self.delivery = delivery
        self.floor = floor
        self.turns = turns
        self._speaker = speaker
        self._access = access
        self._memory = memory
        self.tasks = tasks

    def moderated(self, name: str) -> Group:
        """The active group ``name`` if this node moderates it; raises otherwise."""
        context = self.context
        group = context.find(name)
        if group.moderator != context.me:
            raise InvalidRequest(
                f"only the group's moderator ({context.name_of(group.moderator)}) can do that"
            )
        if group.status != GroupState.ACTIVE:
            raise InvalidRequest(f"group {group.name!r} is {group.status}")
        return group

    def discussion_state(self, group_id: str) -> str:
        """``running``, ``ended``, ``interrupted`` (a question with no end: resume it) or
        ``idle``."""
        if self.floor.discussing(group_id):
            return "running"
        last = self.context.store.last_kind(group_id, (BodyKind.QUESTION, BodyKind.END))
        return {BodyKind.END: "ended", BodyKind.QUESTION: "interrupted"}.get(last, "idle")

    # -- the roll ------------------------------------------------------------------------

    async def create(
        self,
        name: str,
        members: Sequence[str],
        *,
        topic: str,
        scope: Scope | None,
        share_relevance: bool | None,
    ) -> tuple[str, dict[str, str]]:
        """A new group moderated here, and an invitation to each member's node; its id, and
        what became of each invitation."""
        context = self.context
        name = name.strip()
        if not name:
            raise InvalidRequest("a group needs a name")
        scope = bind_topics(scope, self._memory.l1) if scope else None
        peers: list[PeerRecord] = []
        for member in members:
            peer = context.peers.resolve(member)
            if peer.peer_id == context.me:
                raise InvalidRequest("this node is in the group already (it moderates it)")
            if peer.peer_id not in [p.peer_id for p in peers]:
                peers.append(peer)
        if not peers:
            raise InvalidRequest("a group needs at least one other member (--members PEER,...)")
        if len(peers) + 1 > MAX_MEMBERS:
            raise InvalidRequest(f"a group has at most {MAX_MEMBERS} members")
        group_id = os.urandom(16).hex()
        now = context.clock.now_ms()
        share = context.settings.share_relevance if share_relevance is None else share_relevance
        group = Group(
            group_id,
            name,
            topic,
            context.me,
            now,
            GroupState.ACTIVE,
            scope or NO_MEMORY,
            None,
            share,
        )
        context.store.add(group)
        context.store.set_member(group_id, context.me, MemberState.ACTIVE, now)
        for peer in peers:
            context.store.set_member(group_id, peer.peer_id, MemberState.INVITED, now)
        everyone = [context.me, *(p.peer_id for p in peers)]
        key = GroupKey.generate(group_id, 1, (PeerId.from_base58(p) for p in everyone))
        self.transcripts.add_key(key)
        results = await asyncio.gather(*(self._invite(group, key, everyone, p) for p in peers))
        return group_id, dict(zip((p.peer_id for p in peers), results, strict=True))

    async def _invite(
        self, group: Group, key: GroupKey, everyone: list[str], peer: PeerRecord
    ) -> str:
        context = self.context
        held = self._access.usable_grant(peer.peer_id, JOIN)
        invite = GroupInvite(
            group=group.group_id,
            name=fit(group.name, 128),
            topic=fit(group.topic, 1024),
            members=tuple(everyone),
            key=key.seal_for(
                context.identity,
                PeerId.from_base58(peer.peer_id),
                created_ms=context.clock.now_ms(),
            ),
        )
        try:
            answer = await context.p2p.request(
                peer,
                invite,
                grant=held.token if held else None,
                timeout=context.settings.delivery_timeout_s,
            )
        except NodeError as exc:
            return f"not delivered: {exc}"
        assert isinstance(answer, GroupInvited)
        if answer.accepted:
            assert held is not None, "a node joins at once only by a grant"
            joined = MEMBER_LIFE.next(MemberState.INVITED, MemberEvent.ACCEPT)
            context.store.set_member(
                group.group_id, peer.peer_id, joined, context.clock.now_ms(), grant_token=held.token
            )
            return "accepted (a group/join grant)"
        return "waiting for its owner (group accept)"

    async def joined(self, group_id: str, peer: str) -> None:
        async with self.floor.turn_lock(group_id):  # not in the middle of someone's turn
            await self.delivery.publish(
                group_id, Body(kind=BodyKind.MEMBERSHIP, about=peer, reason="joined")
            )

    async def rotate(self, group: Group, members: Sequence[str]) -> GroupKey:
        """A new epoch for ``members``, its key sent sealed to each of them."""
        context = self.context
        async with self.transcripts.lock(group.group_id):
            latest = context.store.latest_key(group.group_id)
            key = GroupKey.generate(
                group.group_id, latest.epoch + 1, (PeerId.from_base58(m) for m in members)
            )
            self.transcripts.add_key(key)

        def sealed_to(peer: str) -> GroupKeyUpdate:
            sealed = key.seal_for(
                context.identity, PeerId.from_base58(peer), created_ms=context.clock.now_ms()
            )
            return GroupKeyUpdate(group=group.group_id, key=sealed)

        others = [m for m in members if m != context.me]
        results = await self.delivery.to_each(group.group_id, others, sealed_to)
        for peer, result in results.items():
            if isinstance(result, BaseException):
                log.info(
                    "group %s: key %d not delivered to %s: %s",
                    group.group_id[:8],
                    key.epoch,
                    peer,
                    why_failed(result),
                )
        return key

    async def member_gone(self, group: Group, peer: str, status: MemberState, reason: str) -> None:
        """``peer`` is ``status`` now (declined, left or removed: the move was made from what
        the roll said when it was decided); new key without it, and say so. Waits for the
        turn under way, whose speaker writes under the key and place it was given."""
        async with self.floor.turn_lock(group.group_id):
            context = self.context
            context.store.set_member(group.group_id, peer, status, context.clock.now_ms())
            roll = context.store.members(group.group_id)
            await self.rotate(group, [p for p, s in roll.items() if s in ON_ROLL])
            await self.delivery.publish(
                group.group_id, Body(kind=BodyKind.MEMBERSHIP, about=peer, reason=reason)
            )

    def member_left(self, group: Group, peer: str, status: MemberState) -> None:
        """A member said (or showed) it is out of the group: take it off the roll."""
        self.tasks.spawn(self.member_gone(group, peer, status, "left the group"))

    async def remove(self, group: Group, peer_id: str) -> bool:
        """Take ``peer_id`` off the roll and tell it; whether it was told."""
        context = self.context
        status = context.store.members(group.group_id).get(peer_id)
        if status not in ON_ROLL:
            raise NotFound(f"{context.name_of(peer_id)} is not in group {group.name!r}")
        removed = MEMBER_LIFE.next(status, MemberEvent.REMOVE)
        await self.member_gone(group, peer_id, removed, "removed by the moderator")
        ending = GroupState.REMOVED.value  # what its node holds of the group from now on
        return await self.delivery.outbox.send_end(group.group_id, peer_id, ending)

    async def close(self, group: Group) -> tuple[int, int]:
        """End the group (and its discussion) and tell every member: (told, to tell)."""
        context = self.context
        task = self.floor.discussions.get(group.group_id)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task  # a failure of the discussion was logged when it ended
        members = [p for p in self.delivery.active_members(group.group_id) if p != context.me]
        closed = GROUP_LIFE.next(group.status, GroupEvent.CLOSE)
        context.store.set_status(group.group_id, closed)
        outbox = self.delivery.outbox
        told = await asyncio.gather(
            *(outbox.send_end(group.group_id, peer, closed.value) for peer in members)
        )
        return sum(told), len(members) - sum(told)

    # -- discussions ---------------------------------------------------------------------

    def discuss(
        self,
        group: Group,
        question: str | None,
        *,
        rounds: int | None,
        until: str,
        budget_s: int | None,
    ) -> dict:
        """Start a discussion (or, with no question, resume the interrupted one) in the
        background. Returns where it starts."""
        settings, floor = self.context.settings, self.floor
        gid = group.group_id
        if floor.discussing(gid):
            raise InvalidRequest(f"a discussion is running in {group.name!r}; stop it first")
        rounds = rounds or settings.default_rounds
        if not 1 <= rounds <= settings.max_rounds:
            raise InvalidRequest(f"rounds must be 1 to {settings.max_rounds}")
        if until not in UNTIL:
            raise InvalidRequest(f"--until is one of {', '.join(UNTIL)}")
        if budget_s is not None and budget_s < 1:
            raise InvalidRequest("the time budget is at least 1 s")
        if question is None:
            if self.discussion_state(gid) != "interrupted":
                raise InvalidRequest(f"no interrupted discussion in {group.name!r} to resume")
        else:
            question = question.strip()
            if not question or len(question.encode()) > MAX_TEXT:
                raise InvalidRequest(f"ask a question of 1 to {MAX_TEXT} bytes")
        after = len(self.context.store.messages(gid))
        discussion = Discussion(
            group,
            context=self.context,
            floor=floor,
            turns=self.turns,
            publish=self.delivery.publish,
            relevance_of=self._speaker.relevance_of,
            embed=self._memory.embed,
            members=self.delivery.active_members,
        )
        task = self.tasks.spawn(
            discussion.run(question, rounds=rounds, until=until, budget_s=budget_s),
            name=f"discussion in {group.name!r}",
        )
        task.discussion = discussion  # type: ignore[attr-defined]
        floor.discussions[gid] = task

        def done(finished: asyncio.Task) -> None:
            floor.discussions.pop(gid, None)
            if not self.transcripts.closing and floor.raised[gid]:
                self.turns.serve_raised_hands(group)  # hands raised as it ended

        task.add_done_callback(done)
        return {"group_id": gid, "after": after, "resumed": question is None}

    def stop(self, group: Group) -> dict:
        task = self.floor.discussions.get(group.group_id)
        if task is None:
            raise InvalidRequest(f"no discussion is running in {group.name!r}")
        task.discussion.stop_requested = True  # type: ignore[attr-defined]
        return {"group_id": group.group_id, "stopping": True}

    async def say(self, group: Group, text: str) -> dict:
        """The owner speaks in person in a group this node moderates: its next turn."""
        gid, me = group.group_id, self.context.me
        self.floor.raised[gid].append(me)
        self._speaker.to_say[gid].append(text)
        hands = self.turns.serve_raised_hands(group)
        if hands is not None:
            await hands
        return {"group_id": gid, "queued": hands is None}


# -- handlers: members' requests -----------------------------------------------------------


def from_member(
    moderator: Moderator,
    incoming: IncomingRequest,
    group_id: str,
    *statuses: MemberState,
    closed: bool = False,
) -> Group:
    """The group a member's request is about, if the peer is on its roll with one of
    ``statuses`` (default: active) and the group is active (or, with ``closed``, closed:
    a member may still fetch what was said before the end)."""
    context = moderator.context
    group = context.store.get(group_id)
    if group is None or group.moderator != context.me:
        raise UnknownGroup(f"this node moderates no group {group_id}")
    if group.status != GroupState.ACTIVE and not (closed and group.status == GroupState.CLOSED):
        raise GroupClosed(f"group {group_id} is {group.status}")
    status = context.store.members(group_id).get(str(incoming.peer))
    if status not in (statuses or (MemberState.ACTIVE,)):
        raise UnknownGroup(f"the peer is not a member of group {group_id}")
    return group


def heard_from(
    moderator: Moderator, group: Group, peer: str, *, held_seq: int | None = None
) -> None:
    """A member asked something: it is reachable, so what it is owed goes now."""
    outbox = moderator.delivery.outbox
    outbox.store.heard_from(group.group_id, peer, moderator.context.clock.now_ms(), held_seq)
    outbox.wake()


async def on_accept(
    moderator: Moderator, incoming: IncomingRequest, permit: Permit | None
) -> Reply:
    message = incoming.message
    assert isinstance(message, GroupAccept)
    group = from_member(moderator, incoming, message.group, MemberState.INVITED, MemberState.ACTIVE)
    peer = str(incoming.peer)
    was = moderator.context.store.members(group.group_id)[peer]
    if message.accept:
        joined = MEMBER_LIFE.next(was, MemberEvent.ACCEPT)
        moderator.context.store.set_member(
            group.group_id, peer, joined, moderator.context.clock.now_ms()
        )
        moderator.tasks.spawn(moderator.joined(group.group_id, peer))
    else:
        declined = MEMBER_LIFE.next(was, MemberEvent.DECLINE)
        moderator.tasks.spawn(
            moderator.member_gone(group, peer, declined, "declined the invitation")
        )
    return Reply(GroupOk(), note="accepted" if message.accept else "declined")


async def on_raise(moderator: Moderator, incoming: IncomingRequest, permit: Permit | None) -> Reply:
    message = incoming.message
    assert isinstance(message, GroupRaise)
    group = from_member(moderator, incoming, message.group)
    peer = str(incoming.peer)
    moderator.floor.raise_hand(group.group_id, peer)
    heard_from(moderator, group, peer)
    moderator.turns.serve_raised_hands(group)
    return Reply(GroupOk(), note="asked to speak")


async def on_leave(moderator: Moderator, incoming: IncomingRequest, permit: Permit | None) -> Reply:
    message = incoming.message
    assert isinstance(message, GroupLeave)
    group = from_member(moderator, incoming, message.group, MemberState.ACTIVE, MemberState.INVITED)
    peer = str(incoming.peer)
    was = moderator.context.store.members(group.group_id)[peer]
    moderator.member_left(group, peer, MEMBER_LIFE.next(was, MemberEvent.LEAVE))
    return Reply(GroupOk(), note="left")


async def on_sync(moderator: Moderator, incoming: IncomingRequest, permit: Permit | None) -> Reply:
    """Messages after ``after`` under the epochs the asker holds a place in, with those
    epochs' keys; nothing from an epoch it is not a member of (after its removal)."""
    message = incoming.message
    assert isinstance(message, GroupSync)
    context = moderator.context
    group = from_member(
        moderator, incoming, message.group, MemberState.ACTIVE, MemberState.INVITED, closed=True
    )
    peer = incoming.peer
    heard_from(moderator, group, str(peer), held_seq=message.after)
    keys = {k.epoch: k for k in context.store.keys(group.group_id)}
    messages = context.store.messages(group.group_id, after=message.after, limit=SYNC_PAGE)
    encoded = context.store.encoded(group.group_id, after=message.after, limit=SYNC_PAGE)
    sent: list[bytes] = []
    epochs: set[int] = set()
    size, more = 0, len(messages) == SYNC_PAGE
    for stored, data in zip(messages, encoded, strict=True):
        if peer not in keys[stored.epoch].members:
            more = False  # it is not in the group after this: nothing more for it
            break
        size += len(data) + 16
        if sent and size > SYNC_BYTES:
            more = True
            break
        sent.append(data)
        epochs.add(stored.epoch)
    sealed = tuple(
        keys[e].seal_for(context.identity, peer, created_ms=context.clock.now_ms())
        for e in sorted(epochs)
    )
    return Reply(GroupMessages(messages=tuple(sent), keys=sealed, more=more), note="sync")


def register(p2p: P2PService, moderator: Moderator) -> None:
    """Answer members' requests to this node as their moderator."""
    for request_type, handler in (
        (GroupAccept, on_accept),
        (GroupRaise, on_raise),
        (GroupLeave, on_leave),
        (GroupSync, on_sync),
    ):
        p2p.register(request_type, partial(handler, moderator))
