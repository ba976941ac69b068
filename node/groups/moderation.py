"""Who moderates a group: handing moderation over, and continuing a group whose moderator is
gone.

Theory of operation. Who moderates is written in the transcript itself: a ``moderator``
message names the member that moderates from it on (``about``), says why (``reason``) and
carries the roll that member takes over (``roll``). Every node applies it when it keeps it
(:meth:`Moderation.kept`), however it came (a post, a catch-up, its own writing), so nodes
holding the same transcript agree on who moderates; the change is never made anywhere else.

- **Hand-over**: the moderator writes the message like any of its own, naming an active
  member, and delivers it; its node is a plain member from then on.
- **Takeover**: a member whose moderator's node is gone for good (its owner's choice) writes
  the message itself, naming itself, as the next message of *its* transcript under the latest
  key it holds, keeps it and delivers it. A member takes such a message from a peer that is
  not its moderator only when it is exactly its next message (:meth:`Moderation.takeover`):
  a member holding something the taker does not refuses it, so two histories are never
  merged.
- A member that joined by a ``group/join`` grant given to the old moderator cannot be shown
  that grant by the new one; it serves the new moderator while its own record of the grant
  stands (not revoked, not expired), checked on every request
  (:meth:`Moderation.grant_stands`), and leaves when it no longer does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from secondme.node.access.gate import AccessGate
from secondme.node.core.errors import InvalidRequest, NodeError, NotFound, PeerRefused
from secondme.node.groups.context import GroupContext
from secondme.node.groups.floor import Floor
from secondme.node.groups.prompts import UNNAMED
from secondme.node.groups.store import Group, GroupStore, StoredMessage
from secondme.node.groups.transcripts import Transcripts
from secondme.protocol.grants import GrantExpired, GrantUsedUp, RevokedGrant, short_id
from secondme.protocol.group_life import ON_ROLL, GroupState, MemberState
from secondme.protocol.group_messages import GroupPost, GroupSync, NotModerator
from secondme.protocol.groups import (
    Body,
    BodyKind,
    GroupMessage,
    GroupMessageError,
    MalformedGroupMessage,
    read_message,
)
from secondme.protocol.identity import PeerId
from secondme.protocol.session import IncomingRequest

log = logging.getLogger(__name__)

TOOK_OVER = "took over: the moderator's node did not answer"
"""The reason a takeover gives when its owner gives none."""


class Moderation:
    """The hand-over and the takeover, on both sides of a group."""

    def __init__(
        self,
        context: GroupContext,
        *,
        gate: AccessGate,
        transcripts: Transcripts,
        floor: Floor,
        publish: Callable[[str, Body], Awaitable[StoredMessage]],
        outbox_check: Callable[[str], None],
    ) -> None:
        self._context = context
        self._gate = gate
        self._transcripts = transcripts
        self._floor = floor
        self._publish = publish
        self._outbox_check = outbox_check

    # -- the owner's commands ------------------------------------------------------------

    async def hand_over(self, group: Group, peer: str) -> StoredMessage:
        """This node's group moderated by ``peer`` (an active member) from now on."""
        context = self._context
        gid = group.group_id
        if group.moderator != context.me:
            raise InvalidRequest(
                f"only the moderator ({context.name_of(group.moderator)}) can hand"
                f" {group.name!r} over; if its node is gone for good: group moderate --take"
            )
        self._active(group)
        if peer == context.me:
            raise InvalidRequest(f"this node moderates {group.name!r} already")
        roll = context.store.members(gid)
        if roll.get(peer) != MemberState.ACTIVE:
            raise NotFound(f"{context.name_of(peer)} is not an active member of {group.name!r}")
        async with self._floor.turn_lock(gid):  # not in the middle of a turn
            self._not_discussing(group)
            name = context.public_name_of(context.me)
            by = "the moderator" if name == UNNAMED else name
            body = Body(
                kind=BodyKind.MODERATOR,
                about=peer,
                reason=f"handed over by {by}",
                roll={p: s.value for p, s in roll.items() if s in ON_ROLL},
            )
            return await self._publish(gid, body)

    async def take_over(self, group: Group, reason: str | None) -> StoredMessage:
        """Continue ``group`` as its moderator, its moderator's node being gone: refused while
        that node still answers (its owner can hand over instead)."""
        context = self._context
        gid = group.group_id
        if group.moderator == context.me:
            raise InvalidRequest(f"this node moderates {group.name!r} already")
        self._active(group)
        reason = (reason or "").strip() or TOOK_OVER
        if len(reason.encode()) > 512:
            raise InvalidRequest("a reason is at most 512 bytes")
        await self._moderator_gone(group)
        async with self._floor.turn_lock(gid):
            key = context.store.latest_key(gid)
            body = Body(
                kind=BodyKind.MODERATOR,
                about=context.me,
                reason=reason,
                roll={str(member): MemberState.ACTIVE.value for member in key.members},
            )
            return await self._publish(gid, body)

    def _active(self, group: Group) -> None:
        if group.status != GroupState.ACTIVE:
            raise InvalidRequest(f"group {group.name!r} is {group.status}")
        self._not_discussing(group)

    def _not_discussing(self, group: Group) -> None:
        if self._floor.discussing(group.group_id):
            raise InvalidRequest(f"a discussion is running in {group.name!r}; stop it first")

    async def _moderator_gone(self, group: Group) -> None:
        """Raise unless the moderator's node fails to answer (within the delivery timeout)."""
        context = self._context
        held = self._transcripts.chain(group.group_id).next_seq - 1
        try:
            await context.p2p.request(
                context.peer_record(group.moderator),
                GroupSync(group=group.group_id, after=held),
                timeout=context.settings.delivery_timeout_s,
            )
        except PeerRefused as exc:
            why = f"it answered: {exc}"
        except (NodeError, TimeoutError) as exc:  # no answer at all: it is gone
            log.info("group %s: the moderator did not answer: %s", group.group_id[:8], exc)
            return
        else:
            why = "it answered"
        raise InvalidRequest(
            f"the moderator's node ({context.name_of(group.moderator)}) is not gone ({why});"
            " its owner can hand moderation over (group moderate --to)"
        )

    # -- every node: keeping a moderator message -----------------------------------------

    def kept(self, group_id: str, stored: StoredMessage) -> None:
        """A ``moderator`` message was kept: its member moderates from now on; on that
        member's node the roll becomes the message's, and the outbox starts on it."""
        body = stored.body
        if body.kind is not BodyKind.MODERATOR or body.about is None:
            return
        context = self._context
        mine = body.about == context.me
        roll = None
        if mine:
            roll = dict(body.roll or {})
            if not roll:  # none written: everyone of the latest epoch
                key = context.store.latest_key(group_id)
                roll = {str(member): MemberState.ACTIVE for member in key.members}
            roll[context.me] = MemberState.ACTIVE
        context.store.set_moderator(group_id, body.about, roll=roll, at_ms=context.clock.now_ms())
        if mine:
            self._outbox_check(group_id)
        else:
            self._floor.forget(group_id)
        log.info("group %s: %s moderates from message %d", group_id[:8], body.about, stored.seq)

    # -- a member's node: requests of a new moderator ------------------------------------

    def takeover(self, incoming: IncomingRequest, post: GroupPost) -> bool:
        """Whether ``post`` comes from a peer that is not the group's moderator here and
        carries a ``moderator`` message naming that peer, written by it (a takeover) or by
        the moderator (a hand-over it relays); anything else from a peer that does not
        moderate is ``not_moderator``. (Its place in the transcript is checked as it is kept.)"""
        group = self._context.store.get(post.group)
        peer = str(incoming.peer)
        if group is None or peer == group.moderator:
            return False
        refused = NotModerator(f"only the moderator of group {post.group} sends that")
        try:
            message = read_message(post.message, self._transcripts.chain(post.group).keys)
            body = Body.decode(message.body)
        except GroupMessageError:
            raise refused from None
        sender = str(message.sender)
        if (
            body.kind is not BodyKind.MODERATOR
            or body.about != peer
            or sender not in (peer, group.moderator)
        ):
            raise refused
        return True

    def grant_stands(self, group: Group, peer: PeerId) -> bool:
        """For a group joined by a grant the node issued to another peer than ``peer`` (a
        moderator that took over or was handed the group): check that grant in the node's own
        records, and say True; raises :class:`RevokedGrant` or :class:`GrantExpired` (the
        membership ends) or :class:`GrantUsedUp`. False: ``peer`` holds the grant and must
        show it, as any request."""
        record = self._gate.issued(group.grant_id or "")
        if record is None or record.peer_id == str(peer):
            return False
        what = f"the group/join grant {short_id(record.id)} this node joined {group.name!r} by"
        state = record.state(self._context.clock.now_ms())
        if state == "revoked":
            raise RevokedGrant(f"{what} was revoked")
        if state == "expired":
            raise GrantExpired(f"{what} expired")
        if state == "used up":
            raise GrantUsedUp(f"{what} is used up")
        return True


def check_moderator_message(
    store: GroupStore, group_id: str, message: GroupMessage, body: Body, members: frozenset[PeerId]
) -> None:
    """Before a ``moderator`` message is kept (on every node): it names a member of its epoch
    (``members``), and its sender is the moderator (a hand-over) or that member (a
    takeover)."""
    if body.kind is not BodyKind.MODERATOR:
        return
    group = store.find(group_id)
    if body.about is None or PeerId.from_base58(body.about) not in members:
        raise MalformedGroupMessage("a moderator message names a member of its epoch")
    if str(message.sender) not in (group.moderator, body.about):
        raise NotModerator(
            "a moderator message is written by the moderator or by the member it names"
        )
