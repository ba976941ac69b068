"""Group discussions between nodes: the one object the owner API and the daemon hold.

The node that creates a group moderates it. It keeps the roll, makes each epoch's key and
seals it to every member, orders the transcript (it assigns each message its place) and
delivers each message to every member. Members speak only when the moderator gives them the
turn, and then from their own memory within the scope their owner set for the group; the
moderator sees the replies and never the memory. Each node keeps the transcript and checks
every message (signature, epoch key, hash chain) before it keeps it, so all copies are
identical or a member refuses the message.

:class:`GroupService` assembles the parts, each owning its own state, and answers the owner's
commands with them:

- :mod:`.transcripts`: the verified chains, the keeping of messages, live readers;
- :mod:`.delivery` (with :mod:`.outbox`): posting to members until they hold it, catching up;
- :mod:`.floor`: who speaks next in the groups this node moderates, and giving each turn;
  :mod:`.discussion`: the loop that decides;
- :mod:`.moderator`: the roll, keys, discussions, the close, and members' requests;
- :mod:`.member`: joining, serving the moderator, leaving;
- :mod:`.speaker`: this node's turn, from its owner or its memory;
- :mod:`.moderation`: handing moderation over, and taking it over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from functools import partial

from secondme.node.access.gate import AccessGate
from secondme.node.access.service import AccessService
from secondme.node.chat.service import ChatService
from secondme.node.core.config import GroupSettings
from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.node.groups import member as member_side
from secondme.node.groups import moderator as moderator_side
from secondme.node.groups.context import GroupContext, Tasks
from secondme.node.groups.delivery import Delivery
from secondme.node.groups.floor import Floor, Turns
from secondme.node.groups.inbox import InviteInbox
from secondme.node.groups.member import Member
from secondme.node.groups.moderation import Moderation, check_moderator_message
from secondme.node.groups.moderator import Moderator
from secondme.node.groups.quota import StorageQuota
from secondme.node.groups.speaker import Speaker
from secondme.node.groups.store import Group, GroupStore, StoredMessage
from secondme.node.groups.transcripts import Transcripts
from secondme.node.memory.scope import bind_topics
from secondme.node.memory.service import Memory
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerStore
from secondme.protocol.clock import Clock
from secondme.protocol.grants import Scope
from secondme.protocol.group_life import LIVE, GroupState, MemberState
from secondme.protocol.groups import MAX_TEXT, BodyKind
from secondme.protocol.identity import Identity


class GroupService:
    """This node's groups, as its owner sees them: the parts assembled, and their commands."""

    def __init__(
        self,
        *,
        identity: Identity,
        store: GroupStore,
        p2p: P2PService,
        peers: PeerStore,
        access: AccessService,
        gate: AccessGate,
        chat: ChatService,
        memory: Memory,
        owner: OwnerStore,
        settings: GroupSettings,
        clock: Clock,
    ) -> None:
        context = GroupContext(identity, store, p2p, peers, owner, settings, clock)
        self.context = context
        self.store = store
        self._memory = memory
        self.tasks = Tasks()
        quota = StorageQuota(store, settings, context.me)
        self.inbox = InviteInbox(store, settings, clock, me=context.me, quota=quota)
        self.transcripts = Transcripts(
            context,
            quota,
            check=partial(check_moderator_message, store),
            kept=self._kept,
        )
        self.speaker = Speaker(context, memory=memory, chat=chat, access=access)
        self.floor = Floor(settings.raises_per_minute)
        self.delivery = Delivery(
            context,
            transcripts=self.transcripts,
            access=access,
            tasks=self.tasks,
            reported=self.floor.reported,
            member_left=self._member_left,
        )
        turns = Turns(
            context,
            floor=self.floor,
            transcripts=self.transcripts,
            delivery=self.delivery,
            speaker=self.speaker,
            tasks=self.tasks,
        )
        self.moderation = Moderation(
            context,
            gate=gate,
            transcripts=self.transcripts,
            floor=self.floor,
            publish=self.delivery.publish,
            outbox_check=self.delivery.outbox.check,
        )
        self.moderator = Moderator(
            context,
            transcripts=self.transcripts,
            delivery=self.delivery,
            floor=self.floor,
            turns=turns,
            speaker=self.speaker,
            access=access,
            memory=memory,
            tasks=self.tasks,
        )
        self.member = Member(
            context,
            transcripts=self.transcripts,
            delivery=self.delivery,
            speaker=self.speaker,
            moderation=self.moderation,
            gate=gate,
            quota=quota,
            inbox=self.inbox,
            memory=memory,
            tasks=self.tasks,
        )
        gate.on_revoke.append(self.member.grant_revoked)
        member_side.register(p2p, self.member)
        moderator_side.register(p2p, self.moderator)

    # The parts are made in the order they need each other; these two tell a part made
    # earlier of what a later one decides.

    def _kept(self, group_id: str, stored: StoredMessage) -> None:
        self.moderation.kept(group_id, stored)

    def _member_left(self, group: Group, peer: str, status: MemberState) -> None:
        self.moderator.member_left(group, peer, status)

    def start(self) -> None:
        """Deliver what members of this node's groups are owed (retries survive a restart),
        and fetch what this node missed as a member while it was not running."""
        self.delivery.start()

    def stop_watchers(self) -> None:
        """End every live stream (the node is stopping: its API waits for open requests)."""
        self.transcripts.stop_watchers()

    async def close(self) -> None:
        self.delivery.outbox.stop()
        await self.tasks.close()

    # -- reading -------------------------------------------------------------------------

    def find(self, name: str) -> Group:
        return self.context.find(name)

    def describe(self, group: Group) -> dict:
        context, store = self.context, self.store
        me = context.me
        count, head = store.message_counts([group.group_id]).get(group.group_id, (0, None))
        keys = store.keys(group.group_id)
        if group.moderator == me:
            roll = store.members(group.group_id)
        else:
            roll = {str(m): "member" for m in keys[-1].members} if keys else {}
        epoch = keys[-1].epoch if keys else 0
        delivery = self.delivery.outbox.members_json(group) if group.moderator == me else {}
        return {
            **group.to_json(),
            "role": "moderator" if group.moderator == me else "member",
            "moderator_name": context.name_of(group.moderator),
            "members": [
                {
                    "peer_id": peer,
                    "name": context.name_of(peer),
                    "status": status,
                    **delivery.get(peer, {}),
                }
                for peer, status in roll.items()
            ],
            "epoch": epoch,
            "messages": count,
            "head": head.hex() if head else None,
            "discussing": self.floor.discussing(group.group_id),
            "state": self.discussion_state(group.group_id),
            "invitation_expires_ms": (
                self.inbox.expires_ms(group) if group.status == GroupState.INVITED else None
            ),
        }

    def list(self) -> list[dict]:
        self.inbox.expire()
        return [self.describe(group) for group in self.store.list()]

    def discussion_state(self, group_id: str) -> str:
        """``running``, ``ended``, ``interrupted`` (a question with no end: resume it) or
        ``idle``."""
        return self.moderator.discussion_state(group_id)

    def transcript(self, name: str) -> dict:
        group = self.find(name)
        messages = self.store.messages(group.group_id)
        verified = self.store.transcript(group.group_id)  # raises if the chain is broken
        return {
            "group_id": group.group_id,
            "name": group.name,
            "head": verified.head.hex(),
            "messages": [self.message_json(m) for m in messages],
        }

    def message_json(self, message: StoredMessage) -> dict:
        """A transcript entry with the names this node knows for the peers it mentions."""
        entry = message.to_json()
        peers = {message.sender, *(message.body.positions or ()), message.body.about}
        entry["names"] = {p: self.context.name_of(p) for p in peers if p}
        entry["from_name"] = entry["names"][message.sender]
        return entry

    def summary(self, name: str) -> dict:
        group = self.find(name)
        messages = self.store.messages(group.group_id)
        summaries = [m for m in messages if m.body.kind is BodyKind.SUMMARY]
        if not summaries:
            raise NotFound(f"group {group.name!r} has no summary yet (a discussion ends with one)")
        last = summaries[-1]
        ended = next(
            (m for m in messages if m.seq > last.seq and m.body.kind is BodyKind.END), None
        )
        positions = dict(last.body.positions or {})
        return {
            "group_id": group.group_id,
            "seq": last.seq,
            "agreed": last.body.text,
            "positions": [
                {"peer_id": peer, "name": self.context.name_of(peer), "position": text}
                for peer, text in positions.items()
            ],
            "ended": ended.body.reason if ended else None,
        }

    def watch(
        self, name: str, *, after: int = 0, follow: bool = False
    ) -> AsyncIterator[StoredMessage | None]:
        """The transcript from ``after`` on, then each message as it is kept
        (:meth:`Transcripts.watch`)."""
        return self.transcripts.watch(name, after=after, follow=follow)

    # -- the owner's commands ------------------------------------------------------------

    async def create(
        self,
        name: str,
        members: Sequence[str],
        *,
        topic: str = "",
        scope: Scope | None = None,
        share_relevance: bool | None = None,
    ) -> dict:
        """A new group moderated here, and an invitation to each member's node."""
        group_id, invitations = await self.moderator.create(
            name, members, topic=topic, scope=scope, share_relevance=share_relevance
        )
        described = self.describe(self.store.find(group_id))
        described["invitations"] = invitations
        return described

    async def accept(
        self,
        name: str,
        *,
        scope: Scope | None,
        accept: bool = True,
        share_relevance: bool | None = None,
    ) -> dict:
        self.inbox.expire()
        group = self.find(name)
        await self.member.accept(group, scope=scope, accept=accept, share_relevance=share_relevance)
        return self.describe(self.find(group.group_id))

    def set_scope(self, name: str, scope: Scope) -> dict:
        group = self.find(name)
        scope = bind_topics(scope, self._memory.l1)
        self.store.set_scope(group.group_id, scope, grant_id=group.grant_id)
        return self.describe(self.find(group.group_id))

    def share_relevance(self, name: str, share: bool) -> dict:
        """Whether this node tells the group how near its memory is to what is said."""
        group = self.find(name)
        self.store.set_share_relevance(group.group_id, share)
        return self.describe(self.find(group.group_id))

    async def say(self, name: str, text: str) -> dict:
        """The owner speaks in person: the moderator gives this node the next turn."""
        group = self.find(name)
        if group.status != GroupState.ACTIVE:
            raise InvalidRequest(f"group {group.name!r} is {group.status}")
        text = text.strip()
        if not text or len(text.encode()) > MAX_TEXT:
            raise InvalidRequest(f"say something of 1 to {MAX_TEXT} bytes")
        if group.moderator == self.context.me:
            return await self.moderator.say(group, text)
        return await self.member.say(group, text)

    async def remove(self, name: str, peer_name: str) -> dict:
        group = self.moderator.moderated(name)
        peer = self.context.peers.resolve(peer_name)
        told = await self.moderator.remove(group, peer.peer_id)
        return {**self.describe(self.find(group.group_id)), "member_told": told}

    async def moderate(
        self, name: str, *, to: str | None = None, take: bool = False, reason: str | None = None
    ) -> dict:
        """Hand the group's moderation to member ``to``; or, ``take``, continue the group as
        its moderator when its moderator's node is gone for good. Either is a ``moderator``
        message in the transcript, delivered to every member
        (:class:`~secondme.node.groups.moderation.Moderation`)."""
        group = self.find(name)
        if (to is None) == (not take):
            raise InvalidRequest("say either to whom to hand moderation (to) or take it (take)")
        if take:
            stored = await self.moderation.take_over(group, reason)
        else:
            peer = self.context.peers.resolve(to or "")
            stored = await self.moderation.hand_over(group, peer.peer_id)
        return {**self.describe(self.find(group.group_id)), "moderator_message": stored.seq}

    async def leave(self, name: str) -> dict:
        group = self.find(name)
        if group.moderator == self.context.me:
            raise InvalidRequest("the moderator cannot leave its group; close it (group close)")
        if group.status not in LIVE:
            raise InvalidRequest(f"group {group.name!r} is {group.status}")
        notified = await self.member.leave(group)
        return {**self.describe(self.find(group.group_id)), "moderator_notified": notified}

    async def close_group(self, name: str) -> dict:
        group = self.moderator.moderated(name)
        told, to_tell = await self.moderator.close(group)
        return {
            **self.describe(self.find(group.group_id)),
            "members_told": told,
            "members_to_tell": to_tell,
        }

    def discuss(
        self,
        name: str,
        question: str | None,
        *,
        rounds: int | None = None,
        until: str = "rounds",
        budget_s: int | None = None,
    ) -> dict:
        """Start a discussion (or, with no question, resume the interrupted one) in the
        background; its messages are read with :meth:`watch`. Returns where it starts."""
        group = self.moderator.moderated(name)
        return self.moderator.discuss(
            group, question, rounds=rounds, until=until, budget_s=budget_s
        )

    def stop(self, name: str) -> dict:
        return self.moderator.stop(self.moderator.moderated(name))
