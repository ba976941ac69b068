"""The transcripts a node keeps: each group's verified chain in memory, and its live readers.

Every message a node keeps, however it came (its own, a member's turn, a post, a catch-up),
goes through :meth:`Transcripts.keep`: checked as exactly the next message of the chain, under a
key this node holds, within the quota (:mod:`.quota`), and, for a ``moderator`` message, by the
rule given at construction; only then is it stored and shown to the readers of
:meth:`Transcripts.watch`. Whoever keeps a message holds :meth:`Transcripts.lock` for its group,
so messages are kept (and delivered) in transcript order.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable

from secondme.node.groups.context import GroupContext
from secondme.node.groups.quota import StorageQuota
from secondme.node.groups.store import StoredMessage, key_bytes
from secondme.protocol.groups import (
    GENESIS,
    Body,
    BodyKind,
    GroupKey,
    GroupMessage,
    GroupMessageError,
    Transcript,
    read_message,
    write_message,
)
from secondme.protocol.identity import PeerId

WATCH_IDLE_S = 15.0

KeepCheck = Callable[[str, GroupMessage, Body, frozenset[PeerId]], None]
"""Raises if a message (read, not kept yet) may not be kept: (group id, message, body, the
members of its epoch)."""
Kept = Callable[[str, StoredMessage], None]
"""Told of each message once it is kept."""


class Transcripts:
    def __init__(
        self, context: GroupContext, quota: StorageQuota, *, check: KeepCheck, kept: Kept
    ) -> None:
        self._context = context
        self._quota = quota
        self._check = check
        self._kept = kept
        self._chains: dict[str, Transcript] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._watchers: defaultdict[str, set[asyncio.Queue[StoredMessage | None]]] = defaultdict(
            set
        )
        self.closing = False
        """The node is stopping: live readers end."""

    def lock(self, group_id: str) -> asyncio.Lock:
        """Held while a message of the group is kept (and, by the moderator, delivered)."""
        return self._locks[group_id]

    def chain(self, group_id: str) -> Transcript:
        """The group's transcript as verified in memory (read from the store once)."""
        transcript = self._chains.get(group_id)
        if transcript is None:
            transcript = self._chains[group_id] = self._context.store.transcript(group_id)
        return transcript

    def forget(self, group_id: str) -> None:
        """This node is out of the group: read its transcript from the store if ever needed."""
        self._chains.pop(group_id, None)

    def keep(self, group_id: str, data: bytes) -> StoredMessage:
        """Check ``data`` as the next message of the group's transcript and keep it; raises
        :class:`GroupMessageError` and keeps nothing otherwise."""
        transcript = self.chain(group_id)
        message = transcript.append(data)
        try:
            body = Body.decode(message.body)
            self._check(group_id, message, body, transcript.keys[message.epoch].members)
            with self._quota.keeping(group_id, len(data) + len(message.body), messages=1):
                self._context.store.append(message, body)
        except BaseException:
            transcript.messages.pop()
            raise
        stored = StoredMessage(
            message.seq, message.hash, message.epoch, str(message.sender), message.ts, body
        )
        self._kept(group_id, stored)
        for queue in self._watchers[group_id]:
            queue.put_nowait(stored)
        return stored

    def add_key(self, key: GroupKey) -> None:
        transcript = self.chain(key.group)
        if key.epoch in transcript.keys:  # sent again: nothing new to keep
            return
        with self._quota.keeping(key.group, key_bytes(key)):
            self._context.store.add_key(key)
        transcript.add_key(key)

    def write(self, group_id: str, body: Body, *, epoch: int | None = None) -> bytes:
        """A message by this node as the next of the transcript (not kept yet)."""
        context = self._context
        transcript = self.chain(group_id)
        key = transcript.keys[epoch] if epoch is not None else context.store.latest_key(group_id)
        return write_message(
            context.identity,
            key,
            seq=transcript.next_seq,
            prev=transcript.head,
            body=body.encode(),
            ts=context.clock.now_ms(),
        )

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

    def held(self, group_id: str, data: bytes) -> StoredMessage | None:
        """The kept message with exactly these bytes (delivered twice), if any."""
        digest = hashlib.sha256(data).digest()
        for message in reversed(self.chain(group_id).messages):
            if message.hash == digest:
                return self._context.store.messages(group_id, after=message.seq - 1, limit=1)[0]
        return None

    def gap_remains(self, group_id: str, data: bytes) -> bool:
        """Whether ``data`` comes later than the message after this node's last one."""
        transcript = self.chain(group_id)
        try:
            return read_message(data, transcript.keys).seq > transcript.next_seq
        except GroupMessageError:
            return False

    # -- live readers --------------------------------------------------------------------

    async def watch(
        self, name: str, *, after: int = 0, follow: bool = False
    ) -> AsyncIterator[StoredMessage | None]:
        """The transcript from ``after`` on, then each message as it is kept; ends after an
        ``end`` message unless ``follow``, and when the node stops. Yields ``None`` after
        :data:`WATCH_IDLE_S` without news (the caller sends a keep-alive, which also tells it
        whether the reader is still there)."""
        store = self._context.store
        group = store.find(name)
        queue: asyncio.Queue[StoredMessage | None] = asyncio.Queue()
        self._watchers[group.group_id].add(queue)
        try:
            last = after
            for message in store.messages(group.group_id, after=after):
                yield message
                last = message.seq
                if message.body.kind is BodyKind.END and not follow and message.seq > after:
                    return
            while not self.closing:
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
        self.closing = True
        for queues in self._watchers.values():
            for queue in queues:
                queue.put_nowait(None)
