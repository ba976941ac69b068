"""Invitations that wait for the owner: few of them, and not for long.

An invitation without a ``group/join`` grant comes from a peer the owner has not said yes to,
and peer identities cost nothing to make. So this node keeps at most ``invites_per_peer`` such
invitations from one peer and ``invites_total`` from all peers, each for at most
``invite_lifetime_s``; past that it refuses (``group_inbox_full``) and keeps nothing. A waiting
invitation is a group row (status ``invited``) with its name, topic and first key, nothing more:
the member's side (:mod:`.member`) takes no message, later key or turn for it until the owner
accepts.
"""

from __future__ import annotations

import logging

from secondme.node.core.config import GroupSettings
from secondme.node.groups.quota import StorageQuota
from secondme.node.groups.store import Group, GroupStore
from secondme.protocol.clock import Clock
from secondme.protocol.group_messages import InboxFull

log = logging.getLogger(__name__)


class InviteInbox:
    def __init__(
        self,
        store: GroupStore,
        settings: GroupSettings,
        clock: Clock,
        *,
        me: str,
        quota: StorageQuota,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._me = me
        self._quota = quota

    def expires_ms(self, group: Group) -> int:
        return group.created_ms + int(self._settings.invite_lifetime_s * 1000)

    def expire(self) -> int:
        """Drop the invitations older than their lifetime; how many went."""
        now = self._clock.now_ms()
        gone = [g for g in self._store.invitations(me=self._me) if self.expires_ms(g) <= now]
        for group in gone:
            self._store.drop(group.group_id)
            self._quota.forget(group.group_id)
            log.info("group %s: the invitation expired unanswered", group.group_id[:8])
        return len(gone)

    def admit(self, moderator: str) -> None:
        """Raise :class:`InboxFull` unless one more invitation from ``moderator`` fits."""
        self.expire()
        settings = self._settings
        if len(self._store.invitations(moderator=moderator, me=self._me)) >= (
            settings.invites_per_peer
        ):
            raise InboxFull(
                f"{settings.invites_per_peer} invitations from this peer already wait for the"
                " owner of this node"
            )
        if len(self._store.invitations(me=self._me)) >= settings.invites_total:
            raise InboxFull(
                f"{settings.invites_total} invitations already wait for the owner of this node"
            )
