"""A member's side of a group: joining, answering its moderator, following a hand-over, leaving.

A member's node takes a group's messages, keys and turns only from the peer that moderates it
(or from the member whose ``moderator`` message makes it moderate, :mod:`.moderation`), only
while its own record of the group is ``active`` (an invitation waits with its first key alone),
and, for a group it joined by a ``group/join`` grant, only while that grant still allows it:
every request is authorised again (:meth:`Member.from_moderator`). When it is given the turn it
speaks from its own memory (:class:`~.speaker.Speaker`); the moderator sees the words, never
the memory. The moderator's requests are answered by the plain functions at the end of this
module, registered with the node's SMP endpoint by :func:`register`.
"""

from __future__ import annotations

import logging
from functools import partial

from secondme.node.access.gate import AccessGate
from secondme.node.core.errors import InvalidRequest, NodeError
from secondme.node.groups.context import JOIN, NO_MEMORY, GroupContext, Tasks
from secondme.node.groups.delivery import Delivery
from secondme.node.groups.inbox import InviteInbox
from secondme.node.groups.moderation import Moderation
from secondme.node.groups.quota import StorageQuota
from secondme.node.groups.speaker import Speaker
from secondme.node.groups.store import Group
from secondme.node.groups.transcripts import Transcripts
from secondme.node.memory.scope import bind_topics
from secondme.node.memory.service import Memory
from secondme.node.p2p.handlers import Reply
from secondme.node.p2p.service import P2PService
from secondme.protocol.grants import (
    GrantError,
    GrantExpired,
    NoGrant,
    Permit,
    RevokedGrant,
    Scope,
    short_id,
)
from secondme.protocol.group_life import (
    END_EVENTS,
    GROUP_LIFE,
    LIVE,
    GroupEvent,
    GroupState,
)
from secondme.protocol.group_messages import (
    GroupAccept,
    GroupClosed,
    GroupEnd,
    GroupInvite,
    GroupInvited,
    GroupKeyUpdate,
    GroupLeave,
    GroupOk,
    GroupPost,
    GroupPosted,
    GroupRaise,
    GroupSaid,
    GroupTurn,
    NotModerator,
    UnknownGroup,
)
from secondme.protocol.groups import GroupKey, MalformedGroupMessage, OutOfOrder, UnknownEpoch
from secondme.protocol.session import IncomingRequest

log = logging.getLogger(__name__)


class Member:
    """What this node does in the groups another node moderates."""

    def __init__(
        self,
        context: GroupContext,
        *,
        transcripts: Transcripts,
        delivery: Delivery,
        speaker: Speaker,
        moderation: Moderation,
        gate: AccessGate,
        quota: StorageQuota,
        inbox: InviteInbox,
        memory: Memory,
        tasks: Tasks,
    ) -> None:
        self.context = context
        self.transcripts = transcripts
        self.delivery = delivery
        self.speaker = speaker
        self.moderation = moderation
        self.gate = gate
        self.quota = quota
        self.inbox = inbox
        self._memory = memory
        self.tasks = tasks

    # -- the owner's commands ------------------------------------------------------------

    async def accept(
        self, group: Group, *, scope: Scope | None, accept: bool, share_relevance: bool | None
    ) -> None:
        """Answer the invitation to ``group`` (the moderator first, then this node's record)."""
        context = self.context
        if group.status != GroupState.INVITED:
            raise InvalidRequest(
                f"group {group.name!r} is {group.status}, not waiting for an answer"
            )
        scope = bind_topics(scope, self._memory.l1) if scope else None
        await context.p2p.request(
            context.peer_record(group.moderator),
            GroupAccept(group=group.group_id, accept=accept),
            timeout=context.settings.delivery_timeout_s,
        )
        if accept:
            joined = GROUP_LIFE.next(group.status, GroupEvent.ACCEPT)
            context.store.set_status(group.group_id, joined, scope=scope or NO_MEMORY)
            if share_relevance is not None:
                context.store.set_share_relevance(group.group_id, share_relevance)
        else:
            context.store.set_status(
                group.group_id, GROUP_LIFE.next(group.status, GroupEvent.DECLINE)
            )

    async def say(self, group: Group, text: str) -> dict:
        """The owner speaks in person: it asks the moderator for the next turn, and says
        ``text`` when it is given."""
        context, gid = self.context, group.group_id
        waiting = self.speaker.to_say[gid]
        waiting.append(text)
        try:
            await context.p2p.request(
                context.peer_record(group.moderator),
                GroupRaise(group=gid),
                timeout=context.settings.turn_timeout_s + context.settings.delivery_timeout_s,
            )
        except NodeError:
            waiting.remove(text)
            raise
        return {"group_id": gid, "queued": bool(waiting)}

    async def leave(self, group: Group) -> bool:
        """Leave ``group`` and tell its moderator; whether it was told."""
        context = self.context
        context.store.set_status(group.group_id, GROUP_LIFE.next(group.status, GroupEvent.LEAVE))
        self.transcripts.forget(group.group_id)
        notified = True
        try:
            await context.p2p.request(
                context.peer_record(group.moderator),
                GroupLeave(group=group.group_id),
                timeout=context.settings.delivery_timeout_s,
            )
        except NodeError as exc:
            notified = False
            log.info("group %s: the moderator was not told we left: %s", group.group_id[:8], exc)
        return notified

    def grant_revoked(self, revocation_id: str, root_id: str) -> None:
        """The owner revoked a grant: leave every group joined under it. (Revoking a copy
        handed on from it ends such a group at the moderator's next request instead, when
        the copy's grant fails; this node does not know which copy a group came by.)"""
        if revocation_id != root_id:
            return
        for group in self.context.store.joined_by(root_id):
            self.tasks.spawn(self._grant_ended(group, "its group/join grant was revoked"))

    async def _grant_ended(self, group: Group, why: str) -> None:
        current = self.context.store.get(group.group_id)
        if current is None or current.status not in LIVE:
            return
        log.info("group %s: leaving, %s", group.group_id[:8], why)
        await self.leave(current)

    # -- serving the moderator -----------------------------------------------------------

    def from_moderator(
        self,
        incoming: IncomingRequest,
        group_id: str,
        *,
        invited: bool = False,
        taking_over: bool = False,
    ) -> tuple[Group, Permit | None]:
        """The group a moderator's request is about, once the request may be served: the
        node is in it (``active``; or ``invited`` too, for ``invited``), the peer moderates
        it (or, ``taking_over``, posts the message that makes it moderate), and the grant it
        joined by (if any) still allows ``group/join`` to that peer; with that grant's permit
        (None for a group the owner accepted by hand, or a grant the peer cannot show)."""
        group = self.context.store.get(group_id)
        if group is None:
            raise UnknownGroup(f"this node is not in group {group_id}")
        if str(incoming.peer) != group.moderator and not taking_over:
            raise NotModerator(f"only the moderator of group {group_id} sends that")
        permit = self._reauthorize(incoming, group) if group.grant_id is not None else None
        if group.status not in LIVE:
            raise GroupClosed(f"this node is {group.status} from group {group_id}")
        if group.status == GroupState.INVITED and not invited:
            raise GroupClosed(
                f"this node's owner has not accepted the invitation to group {group_id}:"
                " it takes nothing of the group before"
            )
        return group, permit

    def _reauthorize(self, incoming: IncomingRequest, group: Group) -> Permit | None:
        """Check the request's grant through the gate, as for any request (revocation, expiry,
        uses, rate), and that it is the grant the group was joined by; from a moderator the
        grant was not given to (moderation changed hands), check this node's record of it
        instead. A grant revoked or expired ends the membership: the node leaves (a used-up or
        busy one only refuses)."""
        try:
            if self.moderation.grant_stands(group, incoming.peer):
                return None
            if incoming.grant is None:
                raise NoGrant(
                    f"this node joined group {group.group_id} by grant"
                    f" {short_id(group.grant_id or '')}; each request must carry it"
                )
            permit = self.gate.authorize_ability(incoming, JOIN)
        except (RevokedGrant, GrantExpired) as exc:
            self.tasks.spawn(self._grant_ended(group, exc.message))
            raise
        if permit.grant.grant_id != group.grant_id:
            raise GrantError(
                f"this node joined group {group.group_id} by grant"
                f" {short_id(group.grant_id or '')}, not {short_id(permit.grant.grant_id)}"
            )
        return permit


# -- handlers: the moderator's requests -----------------------------------------------------


async def on_invite(member: Member, incoming: IncomingRequest, permit: Permit | None) -> Reply:
    message = incoming.message
    assert isinstance(message, GroupInvite)
    context = member.context
    moderator = str(incoming.peer)
    if message.members[0] != moderator:
        raise MalformedGroupMessage("an invitation lists its moderator first")
    existing = context.store.get(message.group)
    if existing is not None and existing.moderator != moderator:
        raise UnknownGroup(f"group {message.group} has another moderator here")
    permit = member.gate.authorize_ability(incoming, JOIN) if incoming.grant else None
    key = GroupKey.open(context.identity, message.key, moderator=incoming.peer)
    if key.group != message.group or {str(m) for m in key.members} != set(message.members):
        raise MalformedGroupMessage("the sealed key is for another group or other members")
    if existing is None:
        member.quota.admit_group(moderator)
        if permit is None:
            member.inbox.admit(moderator)
        # Joined at once by a grant: the invitation is accepted as it arrives.
        status = (
            GROUP_LIFE.next(GroupState.INVITED, GroupEvent.ACCEPT) if permit else GroupState.INVITED
        )
        context.store.add(
            Group(
                message.group,
                message.name,
                message.topic,
                moderator,
                context.clock.now_ms(),
                status,
                permit.scope if permit else None,
                permit.grant.grant_id if permit else None,
                context.settings.share_relevance,
            )
        )
        if context.peers.find(moderator) is None:  # reachable on the connection it used
            context.peers.add(moderator, [])
    if existing is None or existing.status == GroupState.ACTIVE:  # an invitation waits with one key
        member.transcripts.add_key(key)
    stored = context.store.get(message.group)
    accepted = stored.status == GroupState.ACTIVE  # type: ignore[union-attr]
    note = "joined by a group/join grant" if accepted else "waiting for the owner"
    log.info("group %s invitation from %s: %s", message.name, moderator, note)
    return Reply(GroupInvited(accepted=accepted), note=note)


async def on_key(member: Member, incoming: IncomingRequest, permit: Permit | None) -> Reply:
    message = incoming.message
    assert isinstance(message, GroupKeyUpdate)
    _, joined_by = member.from_moderator(incoming, message.group)  # an invitation waits
    key = GroupKey.open(member.context.identity, message.key, moderator=incoming.peer)
    if key.group != message.group:
        raise MalformedGroupMessage("the sealed key is for another group")
    member.transcripts.add_key(key)
    return Reply(GroupOk(), note=f"group key epoch {key.epoch}", permit=joined_by)


async def on_post(member: Member, incoming: IncomingRequest, permit: Permit | None) -> Reply:
    message = incoming.message
    assert isinstance(message, GroupPost)
    transcripts = member.transcripts
    takeover = member.moderation.takeover(incoming, message)
    group, joined_by = member.from_moderator(incoming, message.group, taking_over=takeover)
    gid = group.group_id
    async with transcripts.lock(gid):
        try:
            stored = transcripts.keep(gid, message.message)
        except (OutOfOrder, UnknownEpoch):
            if takeover:  # exactly the next message or nothing: no fork is merged
                raise
            held = transcripts.held(gid, message.message)
            if held is None:  # a gap or a key it missed: fetch them, then this one
                fetched = await member.delivery.catch_up(group)
                held = transcripts.held(gid, message.message)
                if held is None and fetched and transcripts.gap_remains(gid, message.message):
                    # The catch-up stopped at its page limit: say how far it got, and
                    # the moderator's outbox posts again.
                    head = transcripts.chain(gid).head
                    return Reply(
                        GroupPosted(relevance=0, head=head),
                        note=f"caught up to message {transcripts.chain(gid).next_seq - 1}",
                        permit=joined_by,
                    )
            stored = held or transcripts.keep(gid, message.message)
    relevance = await member.speaker.relevance_of(group, stored.body.text)
    head = transcripts.chain(gid).head
    return Reply(
        GroupPosted(relevance=relevance or 0, head=head),
        note=f"group message {stored.seq}",
        permit=joined_by,
    )


async def on_turn(member: Member, incoming: IncomingRequest, permit: Permit | None) -> Reply:
    message = incoming.message
    assert isinstance(message, GroupTurn)
    transcripts = member.transcripts
    group, joined_by = member.from_moderator(incoming, message.group)
    transcript = transcripts.chain(group.group_id)
    if transcript.next_seq != message.seq or transcript.head != message.prev:
        async with transcripts.lock(group.group_id):
            await member.delivery.catch_up(group)
    if transcript.next_seq != message.seq or transcript.head != message.prev:
        raise OutOfOrder(
            f"this node is at message {transcript.next_seq - 1}, not {message.seq - 1}"
        )
    if message.epoch not in transcript.keys:
        raise UnknownEpoch(f"this node holds no key of epoch {message.epoch}")
    body, model = await member.speaker.speak(group, message.reason)
    async with transcripts.lock(group.group_id):
        data = transcripts.write(group.group_id, body, epoch=message.epoch)
    return Reply(
        GroupSaid(message=data),
        shared=[f"group:{group.group_id}:turn"],
        note="spoke in a group",
        model=model,
        permit=joined_by,
    )


async def on_end(member: Member, incoming: IncomingRequest, permit: Permit | None) -> Reply:
    message = incoming.message
    assert isinstance(message, GroupEnd)
    group, joined_by = member.from_moderator(incoming, message.group, invited=True)
    ended = GROUP_LIFE.next(group.status, END_EVENTS[message.reason])
    member.context.store.set_status(group.group_id, ended)
    member.transcripts.forget(group.group_id)
    log.info("group %s: %s by the moderator", group.name, message.reason)
    return Reply(GroupOk(), note=f"group {message.reason}", permit=joined_by)


def register(p2p: P2PService, member: Member) -> None:
    """Answer the requests of the moderators of this node's groups."""
    for request_type, handler in (
        (GroupInvite, on_invite),
        (GroupKeyUpdate, on_key),
        (GroupPost, on_post),
        (GroupTurn, on_turn),
        (GroupEnd, on_end),
    ):
        p2p.register(request_type, partial(handler, member))
