"""How much of other nodes' groups this node keeps: a bound per group and per moderator.

A member keeps every message its group's moderator orders and every epoch key it sends, and
holds a transcript it reads in memory, so without a bound one moderator could fill the disk and
RAM. For each group another node moderates this node keeps at most ``max_group_messages``
messages and ``max_group_bytes`` bytes (messages as received and as read, and epoch keys); for
all the groups of one moderator together at most ``max_peer_bytes``, and at most
``max_peer_groups`` such groups at once. What would go past a bound is refused
(``group_quota``) and nothing of it is kept. Groups this node moderates are its owner's own and
have no bound here.

The counts are read from SQLite once per group and moderator, then kept in step as messages and
keys are kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from secondme.node.core.config import GroupSettings
from secondme.node.groups.store import GroupStore, Usage
from secondme.protocol.group_messages import QuotaExceeded


class StorageQuota:
    def __init__(self, store: GroupStore, settings: GroupSettings, me: str) -> None:
        self._store = store
        self._settings = settings
        self._me = me
        self._moderators: dict[str, str] = {}
        self._groups: dict[str, Usage] = {}
        self._peers: dict[str, int] = {}

    def admit_group(self, moderator: str) -> None:
        """Raise :class:`QuotaExceeded` if ``moderator`` has this node in as many groups as
        it may."""
        limit = self._settings.max_peer_groups
        if self._store.live_groups(moderator) >= limit:
            raise QuotaExceeded(f"this node is in {limit} groups of this moderator already")

    def take(self, group_id: str, size: int, *, messages: int = 0) -> None:
        """Count ``size`` bytes (and ``messages``) as kept for the group; raises
        :class:`QuotaExceeded` and counts nothing if that would pass a bound. The caller keeps
        them only after this returns (and calls :meth:`give_back` if keeping fails)."""
        moderator = self._moderator(group_id)
        if moderator is None or moderator == self._me:
            return
        usage, peer = self._usage(group_id), self._peer(moderator)
        settings = self._settings
        if usage.messages + messages > settings.max_group_messages:
            raise QuotaExceeded(
                f"this node keeps at most {settings.max_group_messages} messages of a group"
            )
        if usage.bytes + size > settings.max_group_bytes:
            raise QuotaExceeded(
                f"this node keeps at most {settings.max_group_bytes} bytes of a group"
            )
        if peer + size > settings.max_peer_bytes:
            raise QuotaExceeded(
                f"this node keeps at most {settings.max_peer_bytes} bytes of one moderator's groups"
            )
        self._groups[group_id] = Usage(usage.messages + messages, usage.bytes + size)
        self._peers[moderator] = peer + size

    @contextlib.contextmanager
    def keeping(self, group_id: str, size: int, *, messages: int = 0) -> Iterator[None]:
        """:meth:`take` around the block that keeps the bytes; given back if it fails."""
        self.take(group_id, size, messages=messages)
        try:
            yield
        except BaseException:
            self.give_back(group_id, size, messages=messages)
            raise

    def give_back(self, group_id: str, size: int, *, messages: int = 0) -> None:
        """Undo :meth:`take` for what was not kept after all."""
        moderator = self._moderator(group_id)
        if moderator is None or moderator == self._me:
            return
        usage = self._usage(group_id)
        self._groups[group_id] = Usage(usage.messages - messages, usage.bytes - size)
        self._peers[moderator] = self._peer(moderator) - size

    def forget(self, group_id: str) -> None:
        """The group was dropped from the store: count again from SQLite next time."""
        moderator = self._moderators.pop(group_id, None)
        self._groups.pop(group_id, None)
        if moderator is not None:
            self._peers.pop(moderator, None)

    def _moderator(self, group_id: str) -> str | None:
        moderator = self._moderators.get(group_id)
        if moderator is None:
            group = self._store.get(group_id)
            if group is None:
                return None
            moderator = self._moderators[group_id] = group.moderator
        return moderator

    def _usage(self, group_id: str) -> Usage:
        usage = self._groups.get(group_id)
        if usage is None:
            usage = self._groups[group_id] = self._store.usage(group_id=group_id)
        return usage

    def _peer(self, moderator: str) -> int:
        size = self._peers.get(moderator)
        if size is None:
            size = self._peers[moderator] = self._store.usage(moderator=moderator).bytes
        return size
