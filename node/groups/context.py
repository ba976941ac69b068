"""What every part of a node's groups reads, and the tasks they leave running.

The parts (:mod:`.transcripts`, :mod:`.delivery`, :mod:`.floor`, :mod:`.speaker`,
:mod:`.moderator`, :mod:`.member`, :mod:`.moderation`) each own their own state; what they share
is read-only: who this node is, its stores, its settings and clock (:class:`GroupContext`), and
one place their background tasks are kept so that closing the node ends them (:class:`Tasks`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from secondme.node.core.config import GroupSettings
from secondme.node.core.errors import PeerUnreachable
from secondme.node.core.tasks import Supervisor
from secondme.node.groups.prompts import UNNAMED
from secondme.node.groups.store import Group, GroupStore
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerRecord, PeerStore
from secondme.protocol.clock import Clock
from secondme.protocol.grants import Scope
from secondme.protocol.identity import Identity

T = TypeVar("T")

NO_MEMORY = Scope(profile_only=True)
"""The scope of a group whose owner said nothing: the public profile, no memory."""
JOIN = "group/join"
"""The ability a grant gives to put its issuer's node in the holder's groups."""


@dataclass(slots=True)
class GroupContext:
    """This node, its stores and settings, as every part of its groups sees them."""

    identity: Identity
    store: GroupStore
    p2p: P2PService
    peers: PeerStore
    owner: OwnerStore
    settings: GroupSettings
    clock: Clock
    me: str = field(init=False)

    def __post_init__(self) -> None:
        self.me = str(self.identity.peer_id)

    def find(self, name: str) -> Group:
        return self.store.find(name)

    def name_of(self, peer_id: str) -> str:
        """The name this node's owner knows a peer by (for the owner's eyes only)."""
        if peer_id == self.me:
            return self.owner.get().name or "me"
        peer = self.peers.find(peer_id)
        return (peer.name or peer.display_name or peer_id[:12]) if peer else peer_id[:12]

    def public_name_of(self, peer_id: str) -> str:
        """How a turn's prompt names a member. What the model reads may end up in what it says
        to the group, so only a name that member made public: never the owner's private name,
        nor the name this owner gave a peer."""
        if peer_id == self.me:
            return self.owner.get().public_fields().get("name") or UNNAMED
        peer = self.peers.find(peer_id)
        return (peer.display_name if peer else None) or UNNAMED

    def peer_record(self, peer_id: str) -> PeerRecord:
        peer = self.peers.find(peer_id)
        if peer is None:
            raise PeerUnreachable(f"peer {peer_id} is not known to this node")
        return peer


class Tasks(Supervisor):
    """The background tasks of a node's groups (discussions, deliveries, catch-ups, membership
    changes): a failure is logged with the task's name, and closing cancels them all."""

    def __init__(self) -> None:
        super().__init__("groups", logging.getLogger("secondme.node.groups"))

    def spawn(self, work: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        return super().spawn(work, name=name or work.__qualname__)
