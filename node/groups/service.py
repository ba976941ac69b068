"""Group discussions between nodes, both sides: the moderator's node and each member's.

The node that creates a group moderates it. It keeps the roll, makes each epoch's key and
seals it to every member, orders the transcript (it assigns each message its place) and
delivers each message to every member. Members speak only when the moderator gives them the
turn, and then from their own memory within the scope their owner set for the group; the
moderator sees the replies and never the memory. Each node keeps the transcript and checks
every message (signature, epoch key, hash chain) before it keeps it, so all copies are
identical or a member refuses the message. The discussion itself is
:class:`~secondme.node.groups.discussion.Discussion`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Sequence

from secondme.node.access.gate import AccessGate
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
from secondme.node.core.config import GroupSettings
from secondme.node.core.errors import InvalidRequest, NodeError, NotFound, PeerUnreachable
from secondme.node.groups.discussion import RAISED, Discussion, give_turn
from secondme.node.groups.inbox import InviteInbox
from secondme.node.groups.moderation import Moderation
from secondme.node.groups.outbox import Outbox, why_failed
from secondme.node.groups.policy import UNTIL
from secondme.node.groups.prompts import UNNAMED, turn_messages
from secondme.node.groups.quota import StorageQuota
from secondme.node.groups.store import (
    ACTIVE,
    INVITED,
    Group,
    GroupStore,
    StoredMessage,
    key_bytes,
)
from secondme.node.memory.l1.profile import peer_profile
from secondme.node.memory.scope import bind_topics, memory_filter
from secondme.node.memory.service import Memory
from secondme.node.p2p.handlers import Reply, fit
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerRecord, PeerStore
from secondme.protocol.clock import Clock
from secondme.protocol.errors import RateLimited
from secondme.protocol.grants import (
    GrantError,
    GrantExpired,
    NoGrant,
    Permit,
    RevokedGrant,
    Scope,
    short_id,
)
from secondme.protocol.group_messages import (
    GroupAccept,
    GroupClosed,
    GroupEnd,
    GroupInvite,
    GroupInvited,
    GroupKeyUpdate,
    GroupLeave,
    GroupMessages,
    GroupOk,
    GroupPost,
    GroupPosted,
    GroupRaise,
    GroupSaid,
    GroupSync,
    GroupTurn,
    NotModerator,
    UnknownGroup,
    coarse_relevance,
)
from secondme.protocol.groups import (
    GENESIS,
    MAX_MEMBERS,
    MAX_TEXT,
    Body,
    BodyKind,
    GroupKey,
    GroupMessageError,
    MalformedGroupMessage,
    OutOfOrder,
    Transcript,
    UnknownEpoch,
    read_message,
    write_message,
)
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import Request, Response
from secondme.protocol.session import IncomingRequest

log = logging.getLogger(__name__)

NO_MEMORY = Scope(profile_only=True)
"""The scope of a group whose owner said nothing: the public profile, no memory."""
JOIN = "group/join"
SYNC_PAGE = 64
WATCH_IDLE_S = 15.0
SYNC_BYTES = 2 * 1024 * 1024
"""A sync answer stops before this many bytes of messages (a frame holds 4 MiB)."""


class GroupService:
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
        self._identity = identity
        self.me = str(identity.peer_id)
        self.store = store
        self.p2p = p2p
        self._peers = peers
        self._access = access
        self._gate = gate
        self.chat = chat
        self.memory = memory
        self._owner = owner
        self.settings = settings
        self.clock = clock
        self._transcripts: dict[str, Transcript] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._watchers: defaultdict[str, set[asyncio.Queue[StoredMessage | None]]] = defaultdict(
            set
        )
        self.quota = StorageQuota(store, settings, self.me)
        self.inbox = InviteInbox(store, settings, clock, me=self.me, quota=self.quota)
        gate.on_revoke.append(self._grant_revoked)
        self.moderation = Moderation(self, gate)
        self._closing = False
        self._hands: dict[str, asyncio.Task] = {}
        self.outbox = Outbox(self, store.db, settings, clock)
        self.turn_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        """One turn at a time per group, whoever gives it (a discussion or a raised hand)."""
        self._raise_times: defaultdict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.raised: defaultdict[str, list[str]] = defaultdict(list)
        """Moderator: members whose owners asked to speak, oldest first, per group."""
        self.relevance: defaultdict[str, dict[str, int | None]] = defaultdict(dict)
        """Moderator: what each member last reported, per group (``None``: nothing)."""
        self._to_say: defaultdict[str, list[str]] = defaultdict(list)
        """Member: what this node's owner is waiting to say, per group."""
        self.discussions: dict[str, asyncio.Task] = {}
        self._tasks: set[asyncio.Task] = set()
        for request_type, handler in (
            (GroupInvite, self._on_invite),
            (GroupKeyUpdate, self._on_key),
            (GroupPost, self._on_post),
            (GroupTurn, self._on_turn),
            (GroupEnd, self._on_end),
            (GroupAccept, self._on_accept),
            (GroupRaise, self._on_raise),
            (GroupLeave, self._on_leave),
            (GroupSync, self._on_sync),
        ):
            p2p.register(request_type, handler)

    def start(self) -> None:
        """Deliver what members of this node's groups are owed (retries survive a restart),
        and fetch what this node missed as a member while it was not running."""
        self.outbox.start()
        for group in self.store.list():
            if group.moderator != self.me and group.status == ACTIVE:
                self.spawn(self._catch_up_quietly(group))

    async def _catch_up_quietly(self, group: Group) -> None:
        try:
            async with self._locks[group.group_id]:
                fetched = await self._catch_up(group)
        except (NodeError, GroupMessageError, TimeoutError) as exc:
            log.info("group %s: no catch-up at start: %s", group.group_id[:8], why_failed(exc))
            return
        if fetched:
            log.info("group %s: %d message(s) fetched at start", group.group_id[:8], fetched)

    async def close(self) -> None:
        self.outbox.stop()
        tasks = [*self.discussions.values(), *self._tasks]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- reading -------------------------------------------------------------------------

    def find(self, name: str) -> Group:
        return self.store.find(name)

    def _moderated(self, name: str) -> Group:
        group = self.find(name)
        if group.moderator != self.me:
            raise InvalidRequest(
                f"only the group's moderator ({self.name_of(group.moderator)}) can do that"
            )
        if group.status != ACTIVE:
            raise InvalidRequest(f"group {group.name!r} is {group.status}")
        return group

    def name_of(self, peer_id: str) -> str:
        if peer_id == self.me:
            return self._owner.get().name or "me"
        peer = self._peers.find(peer_id)
        return (peer.name or peer.display_name or peer_id[:12]) if peer else peer_id[:12]

    def describe(self, group: Group) -> dict:
        count, head = self.store.message_counts([group.group_id]).get(group.group_id, (0, None))
        keys = self.store.keys(group.group_id)
        if group.moderator == self.me:
            roll = self.store.members(group.group_id)
        else:
            roll = {str(m): "member" for m in keys[-1].members} if keys else {}
        epoch = keys[-1].epoch if keys else 0
        delivery = self.outbox.members_json(group) if group.moderator == self.me else {}
        return {
            **group.to_json(),
            "role": "moderator" if group.moderator == self.me else "member",
            "moderator_name": self.name_of(group.moderator),
            "members": [
                {
                    "peer_id": peer,
                    "name": self.name_of(peer),
                    "status": status,
                    **delivery.get(peer, {}),
                }
                for peer, status in roll.items()
            ],
            "epoch": epoch,
            "messages": count,
            "head": head.hex() if head else None,
            "discussing": group.group_id in self.discussions,
            "state": self.discussion_state(group.group_id),
            "invitation_expires_ms": (
                self.inbox.expires_ms(group) if group.status == INVITED else None
            ),
        }

    def list(self) -> list[dict]:
        self.inbox.expire()
        return [self.describe(group) for group in self.store.list()]

    def discussion_state(self, group_id: str) -> str:
        """``running``, ``ended``, ``interrupted`` (a question with no end: resume it) or
        ``idle``."""
        if group_id in self.discussions:
            return "running"
        last = self.store.last_kind(group_id, (BodyKind.QUESTION, BodyKind.END))
        return {BodyKind.END: "ended", BodyKind.QUESTION: "interrupted"}.get(last, "idle")

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
        entry["names"] = {p: self.name_of(p) for p in peers if p}
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
                {"peer_id": peer, "name": self.name_of(peer), "position": text}
                for peer, text in positions.items()
            ],
            "ended": ended.body.reason if ended else None,
        }

    async def watch(
        self, name: str, *, after: int = 0, follow: bool = False
    ) -> AsyncIterator[StoredMessage | None]:
        """The transcript from ``after`` on, then each message as it is kept; ends after an
        ``end`` message unless ``follow``, and when the node stops. Yields ``None`` after
        :data:`WATCH_IDLE_S` without news (the caller sends a keep-alive, which also tells it
        whether the reader is still there)."""
        group = self.find(name)
        queue: asyncio.Queue[StoredMessage | None] = asyncio.Queue()
        self._watchers[group.group_id].add(queue)
        try:
            last = after
            for message in self.store.messages(group.group_id, after=after):
                yield message
                last = message.seq
                if message.body.kind is BodyKind.END and not follow and message.seq > after:
                    return
            while not self._closing:
                try:
                    message = await asyncio.wait_for(queue.get(), WATCH_IDLE_S)
                except TimeoutError:
                    yield None
                    continue
                if message is None:  # the node is stopping
                    return
                if message.seq <= last:
                    continue
                last = message.seq
                yield message
                if message.body.kind is BodyKind.END and not follow:
                    return
        finally:
            self._watchers[group.group_id].discard(queue)

    def stop_watchers(self) -> None:
        """End every live stream (the node is stopping: its API waits for open requests)."""
        self._closing = True
        for queues in self._watchers.values():
            for queue in queues:
                queue.put_nowait(None)

    # -- keeping messages ----------------------------------------------------------------

    def chain(self, group_id: str) -> Transcript:
        """The group's transcript as verified in memory (read from the store once)."""
        transcript = self._transcripts.get(group_id)
        if transcript is None:
            transcript = self._transcripts[group_id] = self.store.transcript(group_id)
        return transcript

    def _keep(self, group_id: str, data: bytes) -> StoredMessage:
        """Check ``data`` as the next message of the group's transcript and keep it; raises
        :class:`GroupMessageError` and keeps nothing otherwise."""
        transcript = self.chain(group_id)
        message = transcript.append(data)
        try:
            body = Body.decode(message.body)
            self.moderation.check(group_id, message, body, transcript.keys[message.epoch].members)
            with self.quota.keeping(group_id, len(data) + len(message.body), messages=1):
                self.store.append(message, body)
        except BaseException:
            transcript.messages.pop()
            raise
        stored = StoredMessage(
            message.seq, message.hash, message.epoch, str(message.sender), message.ts, body
        )
        self.moderation.kept(group_id, stored)
        for queue in self._watchers[group_id]:
            queue.put_nowait(stored)
        return stored

    def _add_key(self, key: GroupKey) -> None:
        transcript = self.chain(key.group)
        if key.epoch in transcript.keys:  # sent again: nothing new to keep
            return
        size = key_bytes(key)
        with self.quota.keeping(key.group, size):
            self.store.add_key(key)
        transcript.add_key(key)

    def write(self, group_id: str, body: Body, *, epoch: int | None = None) -> bytes:
        """A message by this node as the next of the transcript (not kept yet)."""
        transcript = self.chain(group_id)
        key = transcript.keys[epoch] if epoch is not None else self.store.latest_key(group_id)
        return write_message(
            self._identity,
            key,
            seq=transcript.next_seq,
            prev=transcript.head,
            body=body.encode(),
            ts=self.clock.now_ms(),
        )

    async def publish(self, group_id: str, body: Body) -> StoredMessage:
        """Moderator: write a message of its own, keep it and deliver it to the members."""
        async with self._locks[group_id]:  # kept and delivered in transcript order
            data = self.write(group_id, body)
            stored = self._keep(group_id, data)
            await self.deliver(group_id, data)
        return stored

    async def keep_and_deliver(self, group_id: str, data: bytes) -> StoredMessage:
        """Moderator: a member's message, checked and kept, then delivered to everyone."""
        async with self._locks[group_id]:
            stored = self._keep(group_id, data)
            await self.deliver(group_id, data)
        return stored

    def active_members(self, group_id: str) -> list[str]:
        return [p for p, s in self.store.members(group_id).items() if s == ACTIVE]

    async def deliver(self, group_id: str, data: bytes) -> None:
        """Post a kept message to every active member but this node, at once; each member's
        answer carries its relevance to the message. One that fails, or is waiting for a
        retry, gets it from the outbox later (:class:`Outbox`)."""
        others = [
            p
            for p in self.active_members(group_id)
            if p != self.me and self.outbox.ready(group_id, p)
        ]
        for peer, result in (await self.outbox.post_now(group_id, others, data)).items():
            if isinstance(result, GroupPosted):
                self.relevance[group_id][peer] = result.relevance or None  # 0: not shared

    def seq_of(self, group_id: str, head: bytes) -> int | None:
        """The place in this node's transcript of the message whose hash is ``head`` (0 for
        the empty transcript's head); ``None`` if it holds none such (a fork)."""
        transcript = self.chain(group_id)
        if head == GENESIS:
            return 0
        for message in reversed(transcript.messages):
            if message.hash == head:
                return message.seq
        return None

    async def _to_each(
        self, group_id: str, peers: Sequence[str], message_for: Callable[[str], Request]
    ) -> dict[str, Response | BaseException]:
        """Send each member its message at once; each one's answer, or why it failed."""

        async def send(peer: str) -> Response:
            return await self.send_member(
                group_id, peer, message_for(peer), timeout=self.settings.delivery_timeout_s
            )

        results = await asyncio.gather(*(send(p) for p in peers), return_exceptions=True)
        return dict(zip(peers, results, strict=True))

    async def send_member(
        self, group_id: str, peer: str, message: Request, *, timeout: float
    ) -> Response:
        """Moderator: a request to a member, carrying the ``group/join`` grant the member joined
        by (it authorises every request again with it); none for a member its owner let in."""
        grant = self.store.member_grant(group_id, peer)
        if grant is None:  # joined before the roll kept grants, or by hand
            held = self._access.usable_grant(peer, JOIN)
            grant = held.token if held else None
        return await self.p2p.request(self.peer_record(peer), message, grant=grant, timeout=timeout)

    def peer_record(self, peer_id: str) -> PeerRecord:
        peer = self._peers.find(peer_id)
        if peer is None:
            raise PeerUnreachable(f"peer {peer_id} is not known to this node")
        return peer

    async def relevance_of(self, group: Group, text: str) -> int | None:
        """How near this node's memory, within the group's scope, is to ``text``: per mille in
        coarse steps, or ``None`` when its owner does not share that with the group."""
        group = self.store.get(group.group_id) or group  # its owner may have changed it
        if not group.share_relevance:
            return None
        scope = memory_filter(group.scope, self.memory.l1) if group.scope else None
        if scope is None or not text.strip():
            return 0
        hits = await self.memory.search(text, k=1, layers=scope.layers, scope=scope)
        return coarse_relevance(per_mille(hits[0].score)) if hits else 0

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
        name = name.strip()
        if not name:
            raise InvalidRequest("a group needs a name")
        scope = bind_topics(scope, self.memory.l1) if scope else None
        peers: list[PeerRecord] = []
        for member in members:
            peer = self._peers.resolve(member)
            if peer.peer_id == self.me:
                raise InvalidRequest("this node is in the group already (it moderates it)")
            if peer.peer_id not in [p.peer_id for p in peers]:
                peers.append(peer)
        if not peers:
            raise InvalidRequest("a group needs at least one other member (--members PEER,...)")
        if len(peers) + 1 > MAX_MEMBERS:
            raise InvalidRequest(f"a group has at most {MAX_MEMBERS} members")
        group_id = os.urandom(16).hex()
        now = self.clock.now_ms()
        share = self.settings.share_relevance if share_relevance is None else share_relevance
        group = Group(group_id, name, topic, self.me, now, ACTIVE, scope or NO_MEMORY, None, share)
        self.store.add(group)
        self.store.set_member(group_id, self.me, ACTIVE, now)
        for peer in peers:
            self.store.set_member(group_id, peer.peer_id, INVITED, now)
        everyone = [self.me, *(p.peer_id for p in peers)]
        key = GroupKey.generate(group_id, 1, (PeerId.from_base58(p) for p in everyone))
        self._add_key(key)
        results = await asyncio.gather(*(self._invite(group, key, everyone, p) for p in peers))
        described = self.describe(self.store.find(group_id))
        described["invitations"] = dict(zip((p.peer_id for p in peers), results, strict=True))
        return described

    async def _invite(self, group: Group, key: GroupKey, everyone: list[str], peer: PeerRecord):
        held = self._access.usable_grant(peer.peer_id, JOIN)
        invite = GroupInvite(
            group=group.group_id,
            name=fit(group.name, 128),
            topic=fit(group.topic, 1024),
            members=tuple(everyone),
            key=key.seal_for(
                self._identity, PeerId.from_base58(peer.peer_id), created_ms=self.clock.now_ms()
            ),
        )
        try:
            answer = await self.p2p.request(
                peer,
                invite,
                grant=held.token if held else None,
                timeout=self.settings.delivery_timeout_s,
            )
        except NodeError as exc:
            return f"not delivered: {exc}"
        assert isinstance(answer, GroupInvited)
        if answer.accepted:
            assert held is not None, "a node joins at once only by a grant"
            self.store.set_member(
                group.group_id, peer.peer_id, ACTIVE, self.clock.now_ms(), grant_token=held.token
            )
            return "accepted (a group/join grant)"
        return "waiting for its owner (group accept)"

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
        if group.status != INVITED:
            raise InvalidRequest(
                f"group {group.name!r} is {group.status}, not waiting for an answer"
            )
        scope = bind_topics(scope, self.memory.l1) if scope else None
        await self.p2p.request(
            self.peer_record(group.moderator),
            GroupAccept(group=group.group_id, accept=accept),
            timeout=self.settings.delivery_timeout_s,
        )
        if accept:
            self.store.set_status(group.group_id, ACTIVE, scope=scope or NO_MEMORY)
            if share_relevance is not None:
                self.store.set_share_relevance(group.group_id, share_relevance)
        else:
            self.store.set_status(group.group_id, "declined")
        return self.describe(self.find(group.group_id))

    def set_scope(self, name: str, scope: Scope) -> dict:
        group = self.find(name)
        scope = bind_topics(scope, self.memory.l1)
        self.store.set_status(group.group_id, group.status, scope=scope, grant_id=group.grant_id)
        return self.describe(self.find(group.group_id))

    def share_relevance(self, name: str, share: bool) -> dict:
        """Whether this node tells the group how near its memory is to what is said."""
        group = self.find(name)
        self.store.set_share_relevance(group.group_id, share)
        return self.describe(self.find(group.group_id))

    async def say(self, name: str, text: str) -> dict:
        """The owner speaks in person: the moderator gives this node the next turn."""
        group = self.find(name)
        if group.status != ACTIVE:
            raise InvalidRequest(f"group {group.name!r} is {group.status}")
        text = text.strip()
        if not text or len(text.encode()) > MAX_TEXT:
            raise InvalidRequest(f"say something of 1 to {MAX_TEXT} bytes")
        if group.moderator == self.me:
            self.raised[group.group_id].append(self.me)
            self._to_say[group.group_id].append(text)
            hands = self.serve_raised_hands(group)
            if hands is not None:
                await hands
            return {"group_id": group.group_id, "queued": hands is None}
        self._to_say[group.group_id].append(text)
        try:
            await self.p2p.request(
                self.peer_record(group.moderator),
                GroupRaise(group=group.group_id),
                timeout=self.settings.turn_timeout_s + self.settings.delivery_timeout_s,
            )
        except NodeError:
            self._to_say[group.group_id].remove(text)
            raise
        return {"group_id": group.group_id, "queued": bool(self._to_say[group.group_id])}

    async def rotate(self, group: Group, members: Sequence[str]) -> GroupKey:
        """Moderator: a new epoch for ``members``, its key sent sealed to each of them."""
        async with self._locks[group.group_id]:
            latest = self.store.latest_key(group.group_id)
            key = GroupKey.generate(
                group.group_id, latest.epoch + 1, (PeerId.from_base58(m) for m in members)
            )
            self._add_key(key)

        def sealed_to(peer: str) -> GroupKeyUpdate:
            sealed = key.seal_for(
                self._identity, PeerId.from_base58(peer), created_ms=self.clock.now_ms()
            )
            return GroupKeyUpdate(group=group.group_id, key=sealed)

        others = [m for m in members if m != self.me]
        for peer, result in (await self._to_each(group.group_id, others, sealed_to)).items():
            if isinstance(result, BaseException):
                log.info(
                    "group %s: key %d not delivered to %s: %s",
                    group.group_id[:8],
                    key.epoch,
                    peer,
                    why_failed(result),
                )
        return key

    async def member_gone(self, group: Group, peer: str, status: str, reason: str) -> None:
        """Moderator: ``peer`` left or was removed; new key without it, and say so. Waits for
        the turn under way, whose speaker writes under the key and place it was given."""
        async with self.turn_locks[group.group_id]:
            await self._member_gone(group, peer, status, reason)

    async def _member_gone(self, group: Group, peer: str, status: str, reason: str) -> None:
        self.store.set_member(group.group_id, peer, status, self.clock.now_ms())
        remaining = [
            p for p, s in self.store.members(group.group_id).items() if s in (ACTIVE, INVITED)
        ]
        await self.rotate(group, remaining)
        await self.publish(
            group.group_id, Body(kind=BodyKind.MEMBERSHIP, about=peer, reason=reason)
        )

    async def remove(self, name: str, peer_name: str) -> dict:
        group = self._moderated(name)
        peer = self._peers.resolve(peer_name)
        if self.store.members(group.group_id).get(peer.peer_id) not in (ACTIVE, INVITED):
            raise NotFound(f"{self.name_of(peer.peer_id)} is not in group {group.name!r}")
        await self.member_gone(group, peer.peer_id, "removed", "removed by the moderator")
        told = await self.outbox.send_end(group.group_id, peer.peer_id, "removed")
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
            peer = self._peers.resolve(to or "")
            stored = await self.moderation.hand_over(group, peer.peer_id)
        return {**self.describe(self.find(group.group_id)), "moderator_message": stored.seq}

    async def leave(self, name: str) -> dict:
        group = self.find(name)
        if group.moderator == self.me:
            raise InvalidRequest("the moderator cannot leave its group; close it (group close)")
        if group.status not in (ACTIVE, INVITED):
            raise InvalidRequest(f"group {group.name!r} is {group.status}")
        notified = await self._leave(group)
        return {**self.describe(self.find(group.group_id)), "moderator_notified": notified}

    async def _leave(self, group: Group) -> bool:
        """Leave ``group`` and tell its moderator; whether it was told."""
        self.store.set_status(group.group_id, "left")
        self._transcripts.pop(group.group_id, None)
        notified = True
        try:
            await self.p2p.request(
                self.peer_record(group.moderator),
                GroupLeave(group=group.group_id),
                timeout=self.settings.delivery_timeout_s,
            )
        except NodeError as exc:
            notified = False
            log.info("group %s: the moderator was not told we left: %s", group.group_id[:8], exc)
        return notified

    def _grant_revoked(self, revocation_id: str, root_id: str) -> None:
        """The owner revoked a grant: leave every group joined under it. (Revoking a copy
        handed on from it ends such a group at the moderator's next request instead, when
        the copy's grant fails; this node does not know which copy a group came by.)"""
        if revocation_id != root_id:
            return
        for group in self.store.joined_by(root_id):
            self.spawn(self._grant_ended(group, "its group/join grant was revoked"))

    async def _grant_ended(self, group: Group, why: str) -> None:
        current = self.store.get(group.group_id)
        if current is None or current.status not in (ACTIVE, INVITED):
            return
        log.info("group %s: leaving, %s", group.group_id[:8], why)
        await self._leave(current)

    async def close_group(self, name: str) -> dict:
        group = self._moderated(name)
        task = self.discussions.get(group.group_id)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        members = [p for p in self.active_members(group.group_id) if p != self.me]
        self.store.set_status(group.group_id, "closed")
        told = await asyncio.gather(
            *(self.outbox.send_end(group.group_id, peer, "closed") for peer in members)
        )
        return {
            **self.describe(self.find(group.group_id)),
            "members_told": sum(told),
            "members_to_tell": len(members) - sum(told),
        }

    # -- discussions ---------------------------------------------------------------------

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
        group = self._moderated(name)
        gid = group.group_id
        if gid in self.discussions:
            raise InvalidRequest(f"a discussion is running in {group.name!r}; stop it first")
        rounds = rounds or self.settings.default_rounds
        if not 1 <= rounds <= self.settings.max_rounds:
            raise InvalidRequest(f"rounds must be 1 to {self.settings.max_rounds}")
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
        after = len(self.store.messages(gid))
        discussion = Discussion(self, group)
        task = asyncio.get_running_loop().create_task(
            discussion.run(question, rounds=rounds, until=until, budget_s=budget_s)
        )
        task.discussion = discussion  # type: ignore[attr-defined]
        self.discussions[gid] = task

        def done(finished: asyncio.Task) -> None:
            self.discussions.pop(gid, None)
            if not self._closing and self.raised[gid]:
                self.serve_raised_hands(group)  # hands raised as it ended
            if not finished.cancelled() and finished.exception() is not None:
                log.error(
                    "group %s: the discussion failed", group.name, exc_info=finished.exception()
                )

        task.add_done_callback(done)
        return {"group_id": gid, "after": after, "resumed": question is None}

    def stop(self, name: str) -> dict:
        group = self._moderated(name)
        task = self.discussions.get(group.group_id)
        if task is None:
            raise InvalidRequest(f"no discussion is running in {group.name!r}")
        task.discussion.stop_requested = True  # type: ignore[attr-defined]
        return {"group_id": group.group_id, "stopping": True}

    # -- speaking ------------------------------------------------------------------------

    def said(self, group_id: str) -> tuple[str, list[tuple[str, str]]]:
        """The current discussion's question and what was said since, as (public name,
        text)."""
        question, lines = "", []
        for message in self.store.messages(group_id):
            kind = message.body.kind
            if kind is BodyKind.QUESTION:
                question, lines = message.body.text, []
            elif kind in (BodyKind.TURN, BodyKind.OWNER):
                lines.append((self.public_name_of(message.sender), message.body.text))
        return question, lines

    def public_name_of(self, peer_id: str) -> str:
        """How a turn's prompt names a member. What the model reads may end up in what it says
        to the group, so only a name that member made public: never the owner's private name,
        nor the name this owner gave a peer."""
        if peer_id == self.me:
            return self._owner.get().public_fields().get("name") or UNNAMED
        peer = self._peers.find(peer_id)
        return (peer.display_name if peer else None) or UNNAMED

    async def speak(self, group: Group, reason: str) -> tuple[Body, str | None]:
        """This node's turn: its owner's waiting words, or its model speaking from the
        memories the group's scope allows (searched with the question and the last turn); and
        the model that wrote it (``base`` or an adapter the scope covers; None: the owner)."""
        waiting = self._to_say.get(group.group_id)
        if waiting:
            return Body(kind=BodyKind.OWNER, text=waiting.pop(0), reason=reason), None
        group = self.store.get(group.group_id) or group  # as its owner set it now
        question, lines = self.said(group.group_id)
        query = " ".join([question, *(text for _, text in lines[-1:])])
        me = self.public_name_of(self.me)
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
            quote_turns=self.settings.quote_turns,
        )
        model = self._access.model_for(group.scope or NO_MEMORY)
        text, _ = await self.chat.model.complete(
            messages,
            max_tokens=self.settings.max_turn_tokens,
            temperature=self.settings.temperature,
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
        found, relevance = [], 0
        search = memory_filter(scope, self.memory.l1)
        if scope.profile:
            memory, owner = self.memory, self._owner.get()
            made = await asyncio.to_thread(peer_profile, memory.l1, memory.documents, owner, search)
            if made.text:
                found.append(made.text)
        if search is not None and query.strip() and self.settings.turn_memories > 0:
            # The owner's own words (L0) first, then one L1 note: a small model leans on the
            # first memory it reads, and L0 is what the owner actually said.
            limits = {"l0": self.settings.turn_memories, "l1": 1}
            hits = await self.memory.search_each(
                query, {k: v for k, v in limits.items() if k in search.layers}, scope=search
            )
            ordered = [*hits.get("l0", []), *hits.get("l1", [])][: self.settings.turn_memories]
            found += [_dated(hit) for hit in ordered]
            relevance = max((per_mille(hit.score) for hit in ordered), default=0)
        return found, relevance

    # -- handlers: the member's side -----------------------------------------------------

    def _from_moderator(
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
        group = self.store.get(group_id)
        if group is None:
            raise UnknownGroup(f"this node is not in group {group_id}")
        if str(incoming.peer) != group.moderator and not taking_over:
            raise NotModerator(f"only the moderator of group {group_id} sends that")
        permit = self._reauthorize(incoming, group) if group.grant_id is not None else None
        if group.status not in (ACTIVE, INVITED):
            raise GroupClosed(f"this node is {group.status} from group {group_id}")
        if group.status == INVITED and not invited:
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
            permit = self._gate.authorize_ability(incoming, JOIN)
        except (RevokedGrant, GrantExpired) as exc:
            self.spawn(self._grant_ended(group, exc.message))
            raise
        if permit.grant.grant_id != group.grant_id:
            raise GrantError(
                f"this node joined group {group.group_id} by grant"
                f" {short_id(group.grant_id or '')}, not {short_id(permit.grant.grant_id)}"
            )
        return permit

    async def _on_invite(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        message = incoming.message
        assert isinstance(message, GroupInvite)
        moderator = str(incoming.peer)
        if message.members[0] != moderator:
            raise MalformedGroupMessage("an invitation lists its moderator first")
        existing = self.store.get(message.group)
        if existing is not None and existing.moderator != moderator:
            raise UnknownGroup(f"group {message.group} has another moderator here")
        permit = self._gate.authorize_ability(incoming, JOIN) if incoming.grant else None
        key = GroupKey.open(self._identity, message.key, moderator=incoming.peer)
        if key.group != message.group or {str(m) for m in key.members} != set(message.members):
            raise MalformedGroupMessage("the sealed key is for another group or other members")
        if existing is None:
            self.quota.admit_group(moderator)
            if permit is None:
                self.inbox.admit(moderator)
            self.store.add(
                Group(
                    message.group,
                    message.name,
                    message.topic,
                    moderator,
                    self.clock.now_ms(),
                    ACTIVE if permit else INVITED,
                    permit.scope if permit else None,
                    permit.grant.grant_id if permit else None,
                    self.settings.share_relevance,
                )
            )
            if self._peers.find(moderator) is None:  # reachable on the connection it used
                self._peers.add(moderator, [])
        if existing is None or existing.status == ACTIVE:  # an invitation waits with one key
            self._add_key(key)
        accepted = self.store.get(message.group).status == ACTIVE  # type: ignore[union-attr]
        note = "joined by a group/join grant" if accepted else "waiting for the owner"
        log.info("group %s invitation from %s: %s", message.name, moderator, note)
        return Reply(GroupInvited(accepted=accepted), note=note)

    async def _on_key(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        message = incoming.message
        assert isinstance(message, GroupKeyUpdate)
        _, joined_by = self._from_moderator(incoming, message.group)  # an invitation waits
        key = GroupKey.open(self._identity, message.key, moderator=incoming.peer)
        if key.group != message.group:
            raise MalformedGroupMessage("the sealed key is for another group")
        self._add_key(key)
        return Reply(GroupOk(), note=f"group key epoch {key.epoch}", permit=joined_by)

    async def _on_post(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        message = incoming.message
        assert isinstance(message, GroupPost)
        takeover = self.moderation.takeover(incoming, message)
        group, joined_by = self._from_moderator(incoming, message.group, taking_over=takeover)
        async with self._locks[group.group_id]:
            try:
                stored = self._keep(group.group_id, message.message)
            except (OutOfOrder, UnknownEpoch):
                if takeover:  # exactly the next message or nothing: no fork is merged
                    raise
                held = self._held(group.group_id, message.message)
                if held is None:  # a gap or a key it missed: fetch them, then this one
                    fetched = await self._catch_up(group)
                    held = self._held(group.group_id, message.message)
                    if held is None and fetched and self._gap_remains(group, message.message):
                        # The catch-up stopped at its page limit: say how far it got, and
                        # the moderator's outbox posts again.
                        head = self.chain(group.group_id).head
                        return Reply(
                            GroupPosted(relevance=0, head=head),
                            note=f"caught up to message {self.chain(group.group_id).next_seq - 1}",
                            permit=joined_by,
                        )
                stored = held or self._keep(group.group_id, message.message)
        relevance = await self.relevance_of(group, stored.body.text)
        head = self.chain(group.group_id).head
        return Reply(
            GroupPosted(relevance=relevance or 0, head=head),
            note=f"group message {stored.seq}",
            permit=joined_by,
        )

    def _gap_remains(self, group: Group, data: bytes) -> bool:
        """Whether ``data`` comes later than the message after this node's last one."""
        transcript = self.chain(group.group_id)
        try:
            return read_message(data, transcript.keys).seq > transcript.next_seq
        except GroupMessageError:
            return False

    def _held(self, group_id: str, data: bytes) -> StoredMessage | None:
        """The kept message with exactly these bytes (delivered twice), if any."""
        digest = _hash(data)
        transcript = self.chain(group_id)
        for message in reversed(transcript.messages):
            if message.hash == digest:
                return self.store.messages(group_id, after=message.seq - 1, limit=1)[0]
        return None

    async def _catch_up(self, group: Group) -> int:
        """Fetch the messages this node missed (it was offline, say) from the moderator: at
        most ``catch_up_pages`` answers (the rest with the next message), and never past the
        group's quota."""
        fetched = 0
        for _ in range(self.settings.catch_up_pages):
            transcript = self.chain(group.group_id)
            answer = await self.p2p.request(
                self.peer_record(group.moderator),
                GroupSync(group=group.group_id, after=len(transcript.messages)),
                timeout=self.settings.delivery_timeout_s,
            )
            assert isinstance(answer, GroupMessages)
            for sealed in answer.keys:
                self._add_key(
                    GroupKey.open(
                        self._identity, sealed, moderator=PeerId.from_base58(group.moderator)
                    )
                )
            for data in answer.messages:
                self._keep(group.group_id, data)
                fetched += 1
            if not answer.more or not answer.messages:
                break
        return fetched

    async def _on_turn(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        message = incoming.message
        assert isinstance(message, GroupTurn)
        group, joined_by = self._from_moderator(incoming, message.group)
        transcript = self.chain(group.group_id)
        if transcript.next_seq != message.seq or transcript.head != message.prev:
            async with self._locks[group.group_id]:
                await self._catch_up(group)
        if transcript.next_seq != message.seq or transcript.head != message.prev:
            raise OutOfOrder(
                f"this node is at message {transcript.next_seq - 1}, not {message.seq - 1}"
            )
        if message.epoch not in transcript.keys:
            raise UnknownEpoch(f"this node holds no key of epoch {message.epoch}")
        body, model = await self.speak(group, message.reason)
        async with self._locks[group.group_id]:
            data = self.write(group.group_id, body, epoch=message.epoch)
        return Reply(
            GroupSaid(message=data),
            shared=[f"group:{group.group_id}:turn"],
            note="spoke in a group",
            model=model,
            permit=joined_by,
        )

    async def _on_end(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        message = incoming.message
        assert isinstance(message, GroupEnd)
        group, joined_by = self._from_moderator(incoming, message.group, invited=True)
        self.store.set_status(group.group_id, message.reason)
        self._transcripts.pop(group.group_id, None)
        log.info("group %s: %s by the moderator", group.name, message.reason)
        return Reply(GroupOk(), note=f"group {message.reason}", permit=joined_by)

    # -- handlers: the moderator's side --------------------------------------------------

    def _from_member(
        self, incoming: IncomingRequest, group_id: str, *statuses: str, closed: bool = False
    ) -> Group:
        """The group a member's request is about, if the peer is on its roll with one of
        ``statuses`` (default: active) and the group is active (or, with ``closed``, closed:
        a member may still fetch what was said before the end)."""
        group = self.store.get(group_id)
        if group is None or group.moderator != self.me:
            raise UnknownGroup(f"this node moderates no group {group_id}")
        if group.status != ACTIVE and not (closed and group.status == "closed"):
            raise GroupClosed(f"group {group_id} is {group.status}")
        status = self.store.members(group_id).get(str(incoming.peer))
        if status not in (statuses or (ACTIVE,)):
            raise UnknownGroup(f"the peer is not a member of group {group_id}")
        return group

    def _heard_from(self, group: Group, peer: str, *, held_seq: int | None = None) -> None:
        """A member asked something: it is reachable, so what it is owed goes now."""
        self.outbox.store.heard_from(group.group_id, peer, self.clock.now_ms(), held_seq)
        self.outbox.wake()

    async def _on_accept(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        message = incoming.message
        assert isinstance(message, GroupAccept)
        group = self._from_member(incoming, message.group, INVITED, ACTIVE)
        peer = str(incoming.peer)
        if message.accept:
            self.store.set_member(group.group_id, peer, ACTIVE, self.clock.now_ms())
            self.spawn(self._joined(group.group_id, peer))
        else:
            self.spawn(self.member_gone(group, peer, "declined", "declined the invitation"))
        return Reply(GroupOk(), note="accepted" if message.accept else "declined")

    async def _joined(self, group_id: str, peer: str) -> None:
        async with self.turn_locks[group_id]:  # not in the middle of someone's turn
            await self.publish(
                group_id, Body(kind=BodyKind.MEMBERSHIP, about=peer, reason="joined")
            )

    async def _on_raise(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        message = incoming.message
        assert isinstance(message, GroupRaise)
        group = self._from_member(incoming, message.group)
        peer = str(incoming.peer)
        recent = self._raise_times[(group.group_id, peer)]
        now = time.monotonic()
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= self.settings.raises_per_minute:
            retry_ms = int((recent[0] + 60 - now) * 1000) + 1
            raise RateLimited(
                f"this member asked to speak {len(recent)} times in the last minute"
                f" (at most {self.settings.raises_per_minute})",
                retry_after_ms=retry_ms,
            )
        recent.append(now)
        self._heard_from(group, peer)
        self.raised[group.group_id].append(peer)
        self.serve_raised_hands(group)
        return Reply(GroupOk(), note="asked to speak")

    def serve_raised_hands(self, group: Group) -> asyncio.Task | None:
        """Give the waiting hands their turns now, one by one, unless a discussion runs (it
        gives them the next turns); the task doing it, or ``None``."""
        gid = group.group_id
        if gid in self.discussions:
            return None
        task = self._hands.get(gid)
        if task is None or task.done():

            async def serve() -> None:
                while self.raised[gid] and gid not in self.discussions:
                    await give_turn(self, group, self.raised[gid][0], RAISED)

            task = self._hands[gid] = self.spawn(serve())
        return task

    async def _on_leave(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        message = incoming.message
        assert isinstance(message, GroupLeave)
        group = self._from_member(incoming, message.group, ACTIVE, INVITED)
        self.spawn(self.member_gone(group, str(incoming.peer), "left", "left the group"))
        return Reply(GroupOk(), note="left")

    async def _on_sync(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        """Messages after ``after`` under the epochs the asker holds a place in, with those
        epochs' keys; nothing from an epoch it is not a member of (after its removal)."""
        message = incoming.message
        assert isinstance(message, GroupSync)
        group = self._from_member(incoming, message.group, ACTIVE, INVITED, closed=True)
        peer = incoming.peer
        self._heard_from(group, str(peer), held_seq=message.after)
        keys = {k.epoch: k for k in self.store.keys(group.group_id)}
        messages = self.store.messages(group.group_id, after=message.after, limit=SYNC_PAGE)
        encoded = self.store.encoded(group.group_id, after=message.after, limit=SYNC_PAGE)
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
            keys[e].seal_for(self._identity, peer, created_ms=self.clock.now_ms())
            for e in sorted(epochs)
        )
        return Reply(GroupMessages(messages=tuple(sent), keys=sealed, more=more), note="sync")


def per_mille(score: float) -> int:
    return max(0, min(1000, round(score * 1000)))


def _hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _dated(hit) -> str:
    """A memory as a member's model reads it: when it was said first, dates resolved."""
    when = memory_date(hit)
    return f"({when}) {dated_text(hit)}" if when else dated_text(hit)


NOTHING_REMEMBERED = "I don't remember anything about this."


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
